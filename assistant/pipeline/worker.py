"""The turn worker stage: a turn's final transcript, then its reply streamed into the
speaker, then the history, the store and the turn's closing events.

One thread takes turns from its queue in order. A speculative turn is answered like any
other, its events held back by the emitter until the capture stage confirms it; a
cancelled one ends without a trace. The history keeps only what was actually played:
sentences cut by a barge-in are not in it. Once the reply's first piece is handed to the
speaker, the model waits until it is synthesized (``voice_first``): on a small machine
the two engines share the cores, and the first words are what the user is waiting for.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Protocol

from ..asr import Transcriber
from ..audio import ASR_RATE, Audio
from ..config import Config
from ..errors import AssistantError, EngineError
from ..llm import ChatModel, Message
from ..llm.toolcalls import actions_gated
from ..memtrim import release_free_memory
from ..reply import (
    Delta,
    LocalReply,
    ReplyContext,
    ReplyHooks,
    build_messages,
    gather_context,
    generation_options,
    stream_reply,
)
from ..text import collapse_repeats
from .emitter import Emitter
from .events import (
    Announced,
    CommandHandled,
    FinalTranscript,
    ReplySources,
    ReplyToken,
    State,
    TurnFinished,
    TurnMetrics,
)
from .messages import Announce, Stop, TurnMessage
from .speaker import Speaker
from .stage import StageThread
from .turns import Turn, TurnRegistry
from .watchdog import Watchdog

__all__ = ["ANNOUNCE_WAIT_S", "VOICE_FIRST_WAIT_S", "TurnStore", "TurnWorker"]

log = logging.getLogger(__name__)

ANNOUNCE_WAIT_S = 10.0
"""Longest an announcement waits for the user to finish speaking before it is said."""


VOICE_FIRST_WAIT_S = 2.0
"""Longest the model waits for the voice to synthesize the reply's first piece."""


class TurnStore(Protocol):
    """Where finished turns are saved (``assistant.memory.ConversationStore``)."""

    def new_conversation(self, title: str | None = None) -> int: ...

    def add_turn(
        self,
        conversation_id: int,
        user_text: str,
        assistant_text: str,
        *,
        interrupted: bool = False,
        metrics: Mapping[str, float | None] | None = None,
        started_at: float | None = None,
    ) -> int: ...


class TurnWorker:
    """Runs the turns one after the other on its own thread.

    Args:
        transcriber, chat: the engines.
        config: the system prompt and generation settings.
        asr_lock: shared with the partials stage (one recogniser).
        emitter, registry, watchdog: the pipeline's.
        speaker: the speaker stage the reply's pieces go to.
        cut: silences the reply (after a failure).
        history: earlier messages of this conversation.
        memory: where turns are saved, or ``None``.
        conversation_id: the stored conversation to continue (``None``: a new one).
        hooks: where local commands and document passages plug in (see assistant.reply).
    """

    def __init__(
        self,
        *,
        transcriber: Transcriber,
        chat: ChatModel,
        config: Config,
        asr_lock: threading.Lock,
        emitter: Emitter,
        registry: TurnRegistry,
        watchdog: Watchdog,
        speaker: Speaker,
        cut: Callable[[], object],
        history: list[Message],
        memory: TurnStore | None,
        conversation_id: int | None,
        hooks: ReplyHooks | None = None,
    ) -> None:
        self._transcriber = transcriber
        self._chat = chat
        self._config = config
        self._asr_lock = asr_lock
        self._emitter = emitter
        self._registry = registry
        self._watchdog = watchdog
        self._speaker = speaker
        self._cut = cut
        self._history_lock = threading.Lock()
        self._history = history
        self._memory = memory
        self.conversation_id = conversation_id
        self.hooks = hooks or ReplyHooks()
        self.voice_first = True
        """Hold the model while the reply's first piece is synthesized (see
        :meth:`_wait_voiced`)."""
        self.on_command: Callable[[LocalReply], None] | None = None
        """Carries out a local command's actions (set by the facade), after its turn."""
        self._queue: queue.Queue[TurnMessage] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = StageThread("turns", self._run, emitter, "turn")

    @property
    def history(self) -> list[Message]:
        with self._history_lock:
            return list(self._history)

    def forget(self) -> None:
        """A new conversation: clear the history (the next stored turn opens one)."""
        with self._history_lock:
            self._history.clear()
        if self._memory is not None:
            self.conversation_id = None

    def submit(self, turn: Turn, confirmed: bool = True) -> None:
        """Queue ``turn`` (numbered here); a confirmed turn sets the state to thinking."""
        self._registry.number(turn)
        if confirmed:
            self._emitter.confirm(turn)
        self._queue.put(turn)

    def announce(self, message: Announce) -> None:
        """Queue an announcement: it is said once the turns queued before it are done."""
        self._registry.number(message.turn)
        self._queue.put(message)

    def start(self) -> None:
        self._stopping.clear()
        self._thread.start()

    def stop(self) -> None:
        """Finish the running turn (cancelled by the caller), skip the queued ones, join."""
        self._stopping.set()
        self._queue.put(Stop())
        self._thread.join("an engine still busy")

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            turn = self._queue.get()
            if isinstance(turn, Stop) or self._stopping.is_set():
                return
            if isinstance(turn, Announce):
                self._registry.begin(turn.turn)
                try:
                    self._announce(turn)
                except Exception as exc:
                    self._emitter.error(exc, "tts")
                finally:
                    self._registry.end(turn.turn)
                continue
            self._registry.begin(turn)
            try:
                self._run_turn(turn)
            except Exception as exc:
                self._emitter.error(exc, "turn")
                turn.cancel()
                self._cut()
            finally:
                dropped = self._emitter.drop(turn)  # resolves a speculation ended early
                self._registry.end(turn)
                if not dropped and turn.is_confirmed and self._queue.empty():
                    self._emitter.set_state(
                        State.LISTENING, only_from=(State.THINKING, State.SPEAKING)
                    )
                release_free_memory()

    def _transcribe(self, turn: Turn, prompt: str | None = None) -> str | None:
        assert turn.audio is not None
        audio = Audio(turn.audio, ASR_RATE)
        try:
            with (
                self._watchdog.waiting("turn", "the speech recogniser", "asr"),
                self._asr_lock,
            ):
                turn.mark("asr_start")
                heard = self._transcriber.transcribe(audio, prompt=prompt).text
        except AssistantError as exc:
            self._emitter.error(exc, "asr")
            return None
        text = collapse_repeats(heard)
        if text != heard:
            log.info("heard %r said over and over: taken once", text)
        return text

    def _next_delta(self, deltas: Iterator[str]) -> str | None:
        with self._watchdog.waiting("turn", "the language model's next words", "llm"):
            return next(deltas, None)

    def _run_turn(self, turn: Turn) -> None:
        if turn.text is None:
            turn.text = self._transcribe(turn)
            if turn.text is None:
                return
            if not turn.text.strip():
                log.info("utterance had no words")
                return
            if self.hooks.rehear is not None:
                turn.text = self.hooks.rehear(turn.text, lambda p: self._transcribe(turn, p))
        if turn.is_cancelled:
            return
        turn.mark("transcript")
        # A command that changes something (starts a timer) never runs for a speculation
        # that may be dropped: it waits for the end of the utterance (matching is instant).
        acting = not turn.is_confirmed and self.hooks.acts_on and self.hooks.acts_on(turn.text)
        if acting and not turn.wait_confirmed():
            return
        self._emitter.turn_event(turn, FinalTranscript(turn.text, turn.number))
        # The command router first: only a turn for the model searches the documents.
        hooks, context = self._routed(turn.text)
        turn.mark("context")
        if context is not None and context.sources:
            self._emitter.turn_event(turn, ReplySources(context.sources, turn.number))
        messages = build_messages(
            self._config.llm.system_prompt, self.history, turn.text, context=context
        )
        local: list[LocalReply] = []
        first_said = False
        # A tool call that changes something waits, like a command, for a committed turn.
        committed = lambda: turn.is_confirmed or bool(turn.wait_confirmed())  # noqa: E731
        try:
            with actions_gated(committed):
                for part in stream_reply(
                    self._chat,
                    messages,
                    generation_options(self._config),
                    cancel=turn.cancelled,
                    mark=turn.mark,
                    hooks=hooks,
                    next_delta=self._next_delta,
                    on_local=local.append,
                    context=context,
                ):
                    if isinstance(part, Delta):
                        turn.written.append(part.text)
                        self._emitter.turn_event(turn, ReplyToken(part.text, turn.number))
                    else:
                        self._speaker.say(turn, part.text)
                        if self.voice_first and not first_said:
                            self._wait_voiced(turn)
                        first_said = True
        except EngineError as exc:
            self._emitter.error(exc, "llm")
        self._speaker.end(turn)
        with self._watchdog.waiting(
            "turn", f"turn {turn.number}'s reply to be spoken", "tts", self._speaker.progress
        ):
            turn.playback_done.wait()  # the speaker always sets it; so does stop()
        self._finish(turn, local[0] if local else None)
        if local and turn.is_confirmed and self.on_command is not None:
            self.on_command(local[0])

    def _wait_voiced(self, turn: Turn) -> None:
        """Hold the model (it writes only when asked for its next words) until the
        speaker has synthesized the reply's first piece: on a small machine the two
        share the cores, and the first piece's audio is what the user waits for."""
        with self._watchdog.waiting("turn", "the voice to synthesize the first words", "tts"):
            turn.voiced.wait(VOICE_FIRST_WAIT_S)

    def _routed(self, text: str) -> tuple[ReplyHooks, ReplyContext | None]:
        """Ask the command router once: a command's reply (handed to the reply path as
        already decided) needs no documents; any other turn gets its context, gathered
        on this thread (capture goes on)."""
        ask = self.hooks.answer_locally
        local = ask(text) if ask is not None else None
        if local is not None:
            return replace(self.hooks, answer_locally=lambda _text: local), None
        hooks = replace(self.hooks, answer_locally=None)
        return hooks, gather_context(self.hooks, text)

    def _announce(self, message: Announce) -> None:
        """Say an announcement: not over the user (it waits while they speak), after the
        chime; a barge-in or Stop cuts it like a reply."""
        turn = message.turn
        deadline = time.monotonic() + ANNOUNCE_WAIT_S
        while self._emitter.state == State.HEARING and time.monotonic() < deadline:
            time.sleep(0.05)
        if turn.is_cancelled or not message.wanted():
            self._emitter.emit(Announced(message.text, message.kind, message.repeat, False))
            return
        turn.confirm()
        self._emitter.emit(Announced(message.text, message.kind, message.repeat))
        before = self._emitter.state  # asleep (wake mode): asleep again afterwards
        self._emitter.set_state(
            State.SPEAKING, only_from=(State.LISTENING, State.IDLE, State.ASLEEP)
        )
        if message.sound is not None:
            self._speaker.sound(turn, message.sound)
        self._speaker.say(turn, message.text)
        self._speaker.end(turn)
        with self._watchdog.waiting(
            "turn", "an announcement to be spoken", "tts", self._speaker.progress
        ):
            turn.playback_done.wait()
        if self._queue.empty():
            after = State.ASLEEP if before == State.ASLEEP else State.LISTENING
            self._emitter.set_state(after, only_from=(State.SPEAKING,))

    def _finish(self, turn: Turn, local: LocalReply | None = None) -> None:
        if not turn.is_confirmed:
            log.debug("speculative turn %d dropped: the user went on talking", turn.number)
            return
        turn.mark("end")
        interrupted = turn.is_cancelled
        spoken = " ".join(turn.spoken)
        user_text = turn.text or ""
        # What the model "said" is what the user heard: a cut reply is remembered cut.
        with self._history_lock:
            self._history += [Message("user", user_text), Message("assistant", spoken or "…")]
        metrics: dict[str, float | None] = {
            k: round(t - turn.speech_end, 4) for k, t in turn.times.items()
        }
        if local is not None:
            self._emitter.emit(
                CommandHandled(
                    turn.number, local.intent, local.handler, local.text,
                    local.match_ms, local.handle_ms,
                )
            )  # fmt: skip
        if self._memory is not None:
            try:
                if self.conversation_id is None:
                    self.conversation_id = self._memory.new_conversation()
                self._memory.add_turn(
                    self.conversation_id, user_text, spoken, interrupted=interrupted,
                    metrics=metrics,
                )  # fmt: skip
            except AssistantError as exc:
                self._emitter.error(exc, "memory")
        self._emitter.emit(TurnFinished(turn.number, user_text, spoken,
                                        "".join(turn.written).strip(), interrupted))  # fmt: skip
        self._emitter.emit(
            TurnMetrics(
                turn.number,
                transcript=metrics.get("transcript"),
                first_token=metrics.get("first_token"),
                first_sentence=metrics.get("first_sentence"),
                first_audio=metrics.get("first_audio"),
                end_of_turn=metrics.get("confirmed"),
                end=metrics.get("end"),
                matched=metrics.get("matched"),
                steps={k: v for k, v in metrics.items() if v is not None},
            )
        )
