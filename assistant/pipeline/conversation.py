"""The live conversation: microphone to speakers, streaming, with barge-in.

Threads, joined by queues; only this package owns concurrency (capture.py and voice.py
hold the capture and voice threads' work):

- capture: reads the source, removes the speakers' echo, runs the endpointer, reports
  levels, pauses the reply the moment the user starts talking over it and cancels it
  once the speech is confirmed, and hands finished utterances to the turn worker;
- partials: transcribes the utterance so far about every 0.5 s while the user speaks;
- turn: final transcript, then the language model streaming into the sentence chunker;
- voice: synthesizes each complete sentence and queues it on the player while the model
  writes the next one.

A turn starts speculatively: 100 ms into a pause the utterance so far is transcribed and
answered while the endpointer is still waiting to be sure the user has finished. If
they go on talking the speculation is dropped unseen; if the pause becomes the end of
the utterance, the reply (already written, often already synthesized) plays at once.
That hides recognition and generation inside the end-of-speech silence. When the
speculative transcript reads as finished (closed by its punctuation, not ending on "the",
"of", "and"...), the turn ends after a shorter pause than ``vad.min_silence_ms``: 0.4 s
after a question, 0.55 s after a statement or request. People expect an answer as soon
as they have clearly finished; an unfinished thought still gets the full silence. Partial
transcripts stop when the pause begins, so the speculative transcript never waits
behind one.

Each turn has its own cancellation token. The history keeps only what was actually
played: sentences cut by a barge-in are not in it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..asr import Transcriber
from ..audio import ASR_RATE, Audio
from ..audio.playback import Player
from ..config import Config
from ..errors import AssistantError, EngineError
from ..llm import ChatModel, Message, fit_to_context
from ..memtrim import release_free_memory
from ..text import SentenceChunker
from ..tts import Voice
from ..turn import FIRST_CLAUSE_WORDS, generation_options
from ..vad import Endpointer, Vad, VadOptions
from .capture import CaptureMixin
from .events import (
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    ReplyToken,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)
from .sources import AudioSource
from .turns import PendingTurn
from .voice import VoiceMixin

if TYPE_CHECKING:
    from ..engines import Engines

__all__ = ["MODES", "Conversation"]

log = logging.getLogger(__name__)

MODES = ("hands-free", "push-to-talk")


class Conversation(CaptureMixin, VoiceMixin):
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
        memory: Any = None,
        conversation_id: int | None = None,
        echo: Any = None,
        mode: str = "hands-free",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self._transcriber = transcriber
        self._chat = chat
        self._voice = voice
        self._config = config
        self._options = VadOptions.from_config(config.vad)
        self._endpointer = Endpointer(vad, self._options)
        self._source_factory = source
        self._player = player
        self._memory = memory
        self._conversation_id = conversation_id
        self._history: list[Message] = list(history or [])
        self._echo = echo
        self._mode = mode
        self._listeners: list[Callable[[Event], None]] = []
        self._state = State.IDLE
        self._state_lock = threading.Lock()
        self._asr_lock = threading.Lock()  # partial and final transcripts share the model
        self._turns: queue.Queue[PendingTurn | None] = queue.Queue()
        self._sentences: queue.Queue[tuple[PendingTurn, str | None]] = queue.Queue()
        self._partials: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=1)
        self._current: PendingTurn | None = None
        self._turn_count = 0
        self._running = threading.Event()
        self._source: AudioSource | None = None
        self._threads: list[threading.Thread] = []
        self._ptt_buffer: list[np.ndarray] | None = None
        self._loud_frames = 0
        self._paused_at: float | None = None
        self._last_partial = 0.0
        self._speculative: PendingTurn | None = None
        self._quiet_since: int | None = None  # endpointer position where a pause began
        self._confirm_lock = threading.Lock()
        self._last_level = 0.0
        self._input_failed = False
        self.barge_in_stops: list[float] = []
        """Seconds from each barge-in's speech onset to the reply going silent."""
        player.on_started = self._on_audio_started
        player.on_finished = self._on_audio_finished
        self._reference_resampler: Any = None
        if echo is not None:
            player.on_block = self._on_played_block

    @classmethod
    def from_engines(cls, engines: Engines, **kwargs: Any) -> Conversation:
        """A conversation on the four loaded engines; ``kwargs`` as for the constructor."""
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
        return self._state

    @property
    def mode(self) -> str:
        """``hands-free`` or ``push-to-talk``."""
        return self._mode

    @property
    def conversation_id(self) -> int | None:
        """The stored conversation the turns go to (``None`` until the first is stored)."""
        return self._conversation_id

    @property
    def history(self) -> list[Message]:
        """The conversation so far, as the model sees it (what was actually spoken)."""
        return list(self._history)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event (from worker threads: keep it quick)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Open the source and start listening."""
        if self._running.is_set():
            return
        self._running.set()
        for name, target in (
            ("capture", self._capture_loop),
            ("partials", self._partial_loop),
            ("turns", self._turn_loop),
            ("voice", self._voice_loop),
        ):
            thread = threading.Thread(target=self._guard(target, name), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._set_state(State.LISTENING)

    def stop(self) -> None:
        """Stop everything and join the threads (the player stays open: the caller's)."""
        if not self._running.is_set():
            return
        self._running.clear()
        self.interrupt()
        if self._source is not None:
            self._source.close()
        self._turns.put(None)
        self._sentences.put((PendingTurn(-1, 0.0), None))
        with contextlib.suppress(queue.Full):
            self._partials.put_nowait(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._reference_resampler = None  # native state: release it with the conversation
        self._set_state(State.IDLE)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn is pending or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._current is not None or not self._turns.empty():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def set_mode(self, mode: str) -> None:
        """Switch between ``hands-free`` and ``push-to-talk`` while running."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self._mode = mode
        self._ptt_buffer = None

    def push_to_talk(self, pressed: bool) -> None:
        """Push-to-talk button: pressing interrupts a reply and starts an utterance;
        releasing ends it."""
        if self._mode != "push-to-talk":
            raise ValueError("push_to_talk() needs push-to-talk mode (see set_mode)")
        if pressed:
            self.interrupt()
            self._ptt_buffer = []
            self._set_state(State.HEARING)
            return
        buffer, self._ptt_buffer = self._ptt_buffer, None
        if buffer:
            self._submit(PendingTurn(0, time.monotonic(), audio=np.concatenate(buffer)))
        else:
            self._set_state(State.LISTENING)

    def send_text(self, text: str) -> None:
        """A typed message: interrupts a reply and starts a turn without ASR."""
        self.interrupt()
        self._submit(PendingTurn(0, time.monotonic(), text=text))

    def interrupt(self) -> None:
        """Stop the current reply (generation, synthesis and playback) at once."""
        turn = self._current
        if turn is not None:
            turn.cancel.set()
        self._player.stop()
        self._paused_at = None

    def new_conversation(self) -> None:
        """Forget the history (a stored conversation is closed; the next turn opens a
        new one)."""
        self.interrupt()
        self._history.clear()
        if self._memory is not None:
            self._conversation_id = None

    # ------------------------------------------------------------------ events and state

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the conversation
                log.exception("event listener failed on %s", type(event).__name__)

    def _set_state(self, state: State) -> None:
        with self._state_lock:
            previous, self._state = self._state, state
        if previous != state:
            self._emit(StateChanged(state, previous))

    def _error(self, exc: BaseException, source: str) -> None:
        if isinstance(exc, AssistantError):
            self._emit(ErrorEvent(exc.message, exc.hint, source))
        else:
            log.exception("%s failed", source)
            self._emit(ErrorEvent(f"{source} failed: {exc}", None, source))

    def _guard(self, target: Callable[[], None], name: str) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # a worker never dies silently
                self._error(exc, name)

        return run

    def _confirm(self, turn: PendingTurn) -> None:
        with self._confirm_lock:
            turn.confirmed.set()
            pending, turn.pending = turn.pending, []
        self._set_state(State.THINKING)
        for event in pending:
            self._emit(event)

    def _turn_event(self, turn: PendingTurn, event: Event) -> None:
        with self._confirm_lock:
            if not turn.confirmed.is_set():
                turn.pending.append(event)
                return
        self._emit(event)

    def _submit(self, turn: PendingTurn, *, confirmed: bool = True) -> None:
        self._turn_count += 1
        turn.number = self._turn_count
        if confirmed:
            turn.confirmed.set()
            self._set_state(State.THINKING)
        self._turns.put(turn)

    # ------------------------------------------------------------------ partials

    def _partial_loop(self) -> None:
        while self._running.is_set():
            audio = self._partials.get()
            if audio is None:
                return
            if (
                len(audio) < ASR_RATE // 2
                or self._state != State.HEARING
                or self._quiet_since is not None  # a pause began: leave the ASR to the turn
            ):
                continue
            with self._asr_lock:
                text = self._transcriber.transcribe(Audio(audio, ASR_RATE)).text
            if text and self._state == State.HEARING:
                self._emit(PartialTranscript(text))

    # ------------------------------------------------------------------ turns

    def _turn_loop(self) -> None:
        while self._running.is_set():
            turn = self._turns.get()
            if turn is None:
                return
            self._current = turn
            try:
                self._run_turn(turn)
            except Exception as exc:
                self._error(exc, "turn")
                turn.cancel.set()
                self._player.stop()
            finally:
                self._current = None
                if (
                    turn.confirmed.is_set()
                    and self._turns.empty()
                    and self._state in (State.THINKING, State.SPEAKING)
                ):
                    self._set_state(State.LISTENING)
                release_free_memory()

    def _run_turn(self, turn: PendingTurn) -> None:
        if turn.text is None:
            assert turn.audio is not None
            with self._asr_lock:
                turn.text = self._transcriber.transcribe(Audio(turn.audio, ASR_RATE)).text
            if not turn.text.strip():
                log.info("utterance had no words")
                return
        if turn.cancel.is_set():
            return
        turn.mark("transcript")
        self._turn_event(turn, FinalTranscript(turn.text, turn.number))
        config = self._config
        options = generation_options(config)
        messages = [Message("system", config.llm.system_prompt), *self._history,
                    Message("user", turn.text)]  # fmt: skip
        messages = fit_to_context(self._chat, messages, options.max_tokens)
        chunker = SentenceChunker(first_clause_words=FIRST_CLAUSE_WORDS)
        try:
            for delta in self._chat.stream(messages, options, turn.cancel):
                turn.mark("first_token")
                turn.written.append(delta)
                self._turn_event(turn, ReplyToken(delta, turn.number))
                for sentence in chunker.feed(delta):
                    turn.mark("first_sentence")
                    self._sentences.put((turn, sentence))
        except EngineError as exc:
            self._error(exc, "llm")
        if not turn.cancel.is_set():
            for sentence in chunker.flush():
                turn.mark("first_sentence")
                self._sentences.put((turn, sentence))
        self._sentences.put((turn, None))
        while not turn.playback_done.wait(0.05):
            if not self._running.is_set():
                break
        self._finish_turn(turn)

    def _finish_turn(self, turn: PendingTurn) -> None:
        if not turn.confirmed.is_set():
            log.debug("speculative turn %d dropped: the user went on talking", turn.number)
            return
        turn.mark("end")
        interrupted = turn.cancel.is_set()
        spoken = " ".join(turn.spoken)
        user_text = turn.text or ""
        # What the model "said" is what the user heard: a cut reply is remembered cut.
        self._history += [Message("user", user_text), Message("assistant", spoken or "…")]
        metrics = {k: round(t - turn.speech_end, 4) for k, t in turn.times.items()}
        if self._memory is not None:
            try:
                self._store_turn(user_text, spoken, interrupted, metrics)
            except AssistantError as exc:
                self._error(exc, "memory")
        self._emit(TurnFinished(turn.number, user_text, spoken, "".join(turn.written).strip(),
                                interrupted))  # fmt: skip
        self._emit(
            TurnMetrics(
                turn.number,
                transcript=metrics.get("transcript"),
                first_token=metrics.get("first_token"),
                first_sentence=metrics.get("first_sentence"),
                first_audio=metrics.get("first_audio"),
                end=metrics.get("end"),
            )
        )

    def _store_turn(self, user: str, spoken: str, interrupted: bool, metrics: dict) -> None:
        if self._conversation_id is None:
            self._conversation_id = self._memory.new_conversation()
        self._memory.add_turn(
            self._conversation_id, user, spoken, interrupted=interrupted, metrics=metrics
        )
