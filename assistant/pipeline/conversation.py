"""The live conversation: microphone to speakers, streaming, with barge-in.

:class:`Conversation` is the facade the CLI and the GUI drive; behind it the pipeline is
a few stages, each owning its thread and its state (docs/ARCHITECTURE.md draws them):

- capture (capture.py): source -> echo removal -> endpointer; levels, barge-in,
  speculation; hands turns to the worker;
- partials (partials.py): transcripts of the utterance so far while the user speaks;
- turn worker (worker.py): final transcript, then the reply (assistant.reply) streamed
  into the speaker; history, store and the turn's closing events;
- speaker (speaker.py): synthesizes each piece and queues it on the player while the
  model writes the next one;
- watchdog (watchdog.py): reports a stage that waits too long, naming what for.

They talk through typed messages on queues (messages.py), report through one
:class:`~assistant.pipeline.emitter.Emitter`, and share one lock-guarded
:class:`~assistant.pipeline.turns.TurnRegistry` of the current and the speculative turn.

A turn starts speculatively: 60 ms into a pause the utterance so far is transcribed and
answered while the endpointer is still waiting to be sure the user has finished. If
they go on talking the speculation is dropped unseen; if the pause becomes the end of
the utterance, the reply (already written, often already synthesized) plays at once.
When the speculative transcript reads as finished (closed by its punctuation, not ending
on "the", "of", "and"...), the turn ends after a shorter pause than ``vad.min_silence_ms``:
0.4 s after a question, 0.55 s after a statement or request. With the end-of-turn model
the wait follows its confidence, and a clearly unfinished transcript waits longer than
``vad.min_silence_ms`` (:class:`~assistant.turnmodel.TurnPolicy`).

Each turn has its own cancellation. The history keeps only what was actually played.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..asr import Transcriber
from ..audio.echo import EchoCanceller
from ..audio.playback import Player
from ..config import Config
from ..llm import ChatModel, Message
from ..reply import LocalReply, ReplyHooks
from ..tts import Voice
from ..vad import Endpointer, Vad
from ..wake.gate import WakeGate
from .capture import CaptureStage
from .emitter import Emitter
from .events import Event, State
from .messages import Announce
from .partials import PartialsStage
from .sources import AudioSource
from .speaker import Speaker
from .turns import Turn, TurnRegistry, early_end_pause
from .watchdog import Watchdog
from .worker import TurnStore, TurnWorker

if TYPE_CHECKING:
    from ..engines import Engines
    from ..turnmodel import TurnScorer

__all__ = ["MODES", "Conversation"]

log = logging.getLogger(__name__)

MODES = ("hands-free", "push-to-talk")

STOP_GRACE = 1.0
"""Seconds after Stop by which the assistant listens again, even if an engine has not
noticed the cut yet (it normally has within milliseconds)."""

_BUSY = (State.THINKING, State.SPEAKING)

VOLUME_STEP = 1.4
""""Louder" multiplies the voice's gain by this, "quieter" divides it."""
MIN_VOLUME, MAX_VOLUME = 0.1, 2.0


def _end_pause(
    turn_model: TurnScorer | Literal["punctuation"] | None, config: Config
) -> tuple[Callable[[str | None], float | None], float]:
    """How long a pause after a speculative transcript ends the turn, and the longest
    such wait (the endpointer must let a pause run that long)."""
    if turn_model == "punctuation":
        return early_end_pause, 0.0
    from ..turnmodel import TurnPolicy

    policy = TurnPolicy(turn_model if not isinstance(turn_model, str) else None, config.turn.mode)
    language = None if config.asr.language == "auto" else config.asr.language
    hold = policy.longest
    if hold <= config.vad.min_silence_ms / 1000:  # a silence set longer than the hold
        return (lambda text: _shorter(policy.pause(text, language), hold)), 0.0
    return (lambda text: policy.pause(text, language)), hold


def _shorter(wait: float | None, hold: float) -> float | None:
    """``wait``, unless it is the hold: then the endpointer's (longer) silence."""
    return None if wait is not None and wait >= hold else wait


COMMAND_PAUSE = 0.25
"""Seconds of pause after which a speculative transcript that is a whole local command
("set a timer for ten minutes") ends the turn: a command needs no more words."""


def _command_pause(
    base: Callable[[str | None], float | None], hooks: Callable[[], ReplyHooks]
) -> Callable[[str | None], float | None]:
    """``base``, but at most :data:`COMMAND_PAUSE` for a transcript the hooks read as a
    whole command (asked of the hooks in place at the time: commands attach later). The
    answer for the last transcript is kept: the capture asks at every block of a pause."""
    last: list[tuple[str | None, float | None]] = []

    def pause(text: str | None) -> float | None:
        if last and last[0][0] == text:
            return last[0][1]
        wait = base(text)
        is_command = hooks().is_command
        if text and is_command is not None and is_command(text):
            wait = COMMAND_PAUSE if wait is None else min(wait, COMMAND_PAUSE)
        last[:] = [(text, wait)]
        return wait

    return pause


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


class Conversation:
    """A running conversation between the user and the engines.

    Args:
        vad, transcriber, chat, voice: the engines (the VAD is used for streaming: give
            this object its own instance).
        config: settings (VAD thresholds, generation options, system prompt).
        source: makes the audio source; called again to reopen it after a device failure.
        player: plays the replies (a real device or a simulated one).
        history: earlier messages of this conversation (user/assistant).
        memory: where turns are saved (``assistant.memory.ConversationStore``), or ``None``.
        conversation_id: the stored conversation to continue (``None``: a new one).
        echo: removes the speakers' sound from the microphone signal (or ``None``).
        mode: ``hands-free`` (the VAD ends turns) or ``push-to-talk``.
        hooks: where local commands and document passages plug into the reply.
        wake: wake mode (hands-free only): the gate that sleeps until a wake word.
        chime: played when the wake word is heard.
        turn_model: the end-of-turn model whose confidence sets the wait after a pause
            (``turn.mode``); ``None`` (none usable): the silence rule; ``"punctuation"``
            (the default of a bare conversation): the punctuation rule.
            :meth:`from_engines` passes the engines' model.
    """

    def __init__(
        self,
        *,
        vad: Vad,
        transcriber: Transcriber,
        chat: ChatModel,
        voice: Voice,
        config: Config,
        source: Callable[[], AudioSource],
        player: Player,
        history: list[Message] | None = None,
        memory: TurnStore | None = None,
        conversation_id: int | None = None,
        echo: EchoCanceller | None = None,
        mode: str = "hands-free",
        hooks: ReplyHooks | None = None,
        wake: WakeGate | None = None,
        chime: Callable[[], object] | None = None,
        turn_model: TurnScorer | Literal["punctuation"] | None = "punctuation",
    ) -> None:
        _check_mode(mode)
        self._wake = wake
        self._config = config
        self._player = player
        self._voice = voice
        self._lock = threading.Lock()  # start/stop
        self._running = False
        self._emitter = Emitter()
        self._registry = TurnRegistry()
        self._watchdog = Watchdog(self._emitter)
        asr_lock = threading.Lock()  # partial and final transcripts share the recogniser
        in_pause = threading.Event()
        emitter = self._emitter
        self._partials = PartialsStage(transcriber, asr_lock, emitter, in_pause)
        self._speaker = Speaker(voice, player, emitter, self._watchdog, echo)
        self._worker = TurnWorker(
            transcriber=transcriber,
            chat=chat,
            config=config,
            asr_lock=asr_lock,
            emitter=emitter,
            registry=self._registry,
            watchdog=self._watchdog,
            speaker=self._speaker,
            cut=self._cut,
            history=list(history or []),
            memory=memory,
            conversation_id=conversation_id,
            hooks=hooks,
        )
        self._worker.on_command = self.carry_out
        end_pause, longest = _end_pause(turn_model, config)
        silence = config.vad.min_silence_ms / 1000
        vad_options = config.vad
        if longest > silence:  # the model may hold an unfinished sentence past the silence
            vad_options = dataclasses.replace(vad_options, min_silence_ms=round(longest * 1000))
        self._capture = CaptureStage(
            source_factory=source,
            endpointer=Endpointer(vad, vad_options),
            echo=echo,
            mode=mode,
            emitter=emitter,
            registry=self._registry,
            submit=self._worker.submit,
            partials=self._partials,
            player=player,
            cut=self._cut,
            in_pause=in_pause,
            wake=wake,
            chime=chime,
            end_pause=_command_pause(end_pause, lambda: self._worker.hooks),
            base_silence=silence if longest > silence else None,
        )

    @classmethod
    def from_engines(cls, engines: Engines, **kwargs: Any) -> Conversation:
        """A conversation on the four loaded engines; ``kwargs`` as for the constructor."""
        kwargs.setdefault("turn_model", engines.turn)
        return cls(
            vad=engines.vad,
            transcriber=engines.transcriber,
            chat=engines.chat,
            voice=engines.voice,
            **kwargs,
        )

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> State:
        """What the assistant is doing now."""
        return self._emitter.state

    @property
    def mode(self) -> str:
        """``hands-free`` or ``push-to-talk``."""
        return self._capture.mode

    @property
    def conversation_id(self) -> int | None:
        """The stored conversation the turns go to (``None`` until the first is stored)."""
        return self._worker.conversation_id

    @property
    def history(self) -> list[Message]:
        """The conversation so far, as the model sees it (what was actually spoken)."""
        return self._worker.history

    @property
    def barge_in_stops(self) -> list[float]:
        """Seconds from each barge-in's speech onset to the reply going silent."""
        return self._capture.barge_in_stops

    def observe_pauses(self, listener: Callable[[Turn, float], None] | None) -> None:
        """Call ``listener`` (on the capture thread: keep it quick) on every block of a
        pause inside an utterance that has a speculative turn, with the turn and the
        pause so far in seconds."""
        self._capture.on_pause = listener

    @property
    def hooks(self) -> ReplyHooks:
        """Where local commands and document passages plug into the reply."""
        return self._worker.hooks

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event (from worker threads: keep it quick)."""
        self._emitter.subscribe(listener)

    def emit(self, event: Event) -> None:
        """Report ``event`` to the listeners as if the pipeline had (a feature's own
        events: the schedule of timers changed)."""
        self._emitter.emit(event)

    def start(self) -> None:
        """Open the source and start listening."""
        with self._lock:
            if self._running:
                return
            self._running = True
            self._watchdog.start()
            self._speaker.start()
            self._worker.start()
            self._partials.start()
            self._capture.start()
        asleep = self._wake is not None and self.mode == "hands-free"
        self._emitter.set_state(State.ASLEEP if asleep else State.LISTENING)

    def stop(self) -> None:
        """Stop everything and join the threads (the player stays open: the caller's)."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._capture.stop()  # no new turns
            self._registry.cancel_all()
            self._player.stop()
            self._partials.stop()
            self._worker.stop()
            self._speaker.stop()
            self._watchdog.stop()
        self._emitter.set_state(State.IDLE)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn is pending or running; False on timeout."""
        return self._registry.wait_idle(timeout)

    def set_mode(self, mode: str) -> None:
        """Switch between ``hands-free`` and ``push-to-talk`` while running."""
        _check_mode(mode)
        self._capture.set_mode(mode)

    def push_to_talk(self, pressed: bool) -> None:
        """Push-to-talk button: pressing interrupts a reply and starts an utterance;
        releasing ends it."""
        if self.mode != "push-to-talk":
            raise ValueError("push_to_talk() needs push-to-talk mode (see set_mode)")
        if pressed:
            self._cut()
            self._capture.press()
            self._emitter.set_state(State.HEARING)
            return
        audio = self._capture.release()
        if audio is not None:
            self._worker.submit(Turn(0, time.monotonic(), audio=audio))
        else:
            self._emitter.set_state(State.LISTENING)

    def send_text(self, text: str) -> None:
        """A typed message: interrupts a reply and starts a turn without ASR."""
        self._cut()
        self._worker.submit(Turn(0, time.monotonic(), text=text))

    def interrupt(self) -> None:
        """Stop the current reply (generation, synthesis and playback) at once; the
        assistant listens again even if an engine is slow to notice."""
        cut = self._cut()
        if cut is None:
            if self._registry.unfinished() == 0:  # nothing to end it: listen now
                self._emitter.set_state(State.LISTENING, only_from=_BUSY)
            return
        # The turn worker ends the cut turn (TurnFinished, then listening) within
        # milliseconds; an engine that does not notice the cut must not hold the state.
        timer = threading.Timer(STOP_GRACE, self._listen_if_still, args=(cut,))
        timer.daemon = True
        timer.start()

    def announce(
        self,
        text: str,
        *,
        kind: str = "",
        repeat: int = 0,
        sound: np.ndarray | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> None:
        """Say ``text`` on the assistant's own initiative (a timer rang), after ``sound``
        (samples at the voice's rate): once the turns before it are answered and the user
        is not speaking; dropped if ``wanted()`` is False by then. A barge-in or Stop cuts
        it like a reply. Reported as :class:`~assistant.pipeline.events.Announced`."""
        turn = Turn(0, time.monotonic(), text=text)
        self._worker.announce(Announce(turn, text, kind, repeat, sound, wanted or (lambda: True)))

    @property
    def volume(self) -> float:
        """The gain on the assistant's voice (1.0 as synthesized)."""
        return self._speaker.volume

    @property
    def muted(self) -> bool:
        return self._speaker.muted

    def carry_out(self, reply: LocalReply) -> None:
        """Do what a local command asks of the assistant itself (after its answer was
        said): stop, louder/quieter, mute/unmute, speak slower/faster, new conversation."""
        for action in reply.actions:
            kind, value = getattr(action, "kind", ""), float(getattr(action, "value", 0.0))
            if kind == "stop":
                self._cut()
            elif kind == "volume":
                step = VOLUME_STEP if value > 0 else 1 / VOLUME_STEP
                self._speaker.volume = min(MAX_VOLUME, max(MIN_VOLUME, self._speaker.volume * step))
                self._speaker.muted = False
            elif kind == "mute":
                self._speaker.muted = True
            elif kind == "unmute":
                self._speaker.muted = False
            elif kind == "rate" and value > 0:
                rate = getattr(self._voice, "speaking_rate", None)
                if rate is not None:
                    try:
                        self._voice.speaking_rate = min(2.0, max(0.5, rate * value))  # type: ignore[attr-defined]
                    except (AttributeError, ValueError) as exc:
                        log.warning("cannot change the speaking rate: %s", exc)
            elif kind == "new_conversation":
                self._worker.forget()
            else:
                log.warning("unknown command action %r", kind)

    def new_conversation(self) -> None:
        """Forget the history (a stored conversation is closed; the next turn opens a
        new one)."""
        self._cut()
        self._worker.forget()

    # ------------------------------------------------------------------ inside

    def _listen_if_still(self, turn: Turn) -> None:
        if self._registry.current is turn:
            log.warning("turn %d is still running %.1f s after Stop: listening anyway",
                        turn.number, STOP_GRACE)  # fmt: skip
            self._emitter.set_state(State.LISTENING, only_from=_BUSY)

    def _cut(self) -> Turn | None:
        """Cancel the running turn and silence the player; returns the turn cut."""
        turn = self._registry.cancel_current()
        self._player.stop()
        self._capture.forget_pause()
        return turn
