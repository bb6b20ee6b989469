"""The voice thread's work: each sentence synthesized and queued on the player while the
model writes the next; what was played, and the echo canceller's reference signal.

Mixed into :class:`~assistant.pipeline.Conversation`, which owns the state it uses; the
declarations below name that state for readers and type checkers.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from ..audio import ASR_RATE
from ..audio.playback import Player
from ..errors import AssistantError, AudioDeviceError
from ..text import speakable
from ..tts import Voice
from .events import Event, SentenceSpoken, State
from .turns import PendingTurn

__all__ = ["VoiceMixin"]


class VoiceMixin:
    """Speaks the sentences the turn worker queues, and reports what was played."""

    _running: threading.Event
    _sentences: queue.Queue[tuple[PendingTurn, str | None]]
    _player: Player
    _voice: Voice
    _state: State
    _echo: Any
    _reference_resampler: Any

    def _emit(self, event: Event) -> None:
        raise NotImplementedError

    def _set_state(self, state: State) -> None:
        raise NotImplementedError

    def _error(self, exc: BaseException, source: str) -> None:
        raise NotImplementedError

    def _voice_loop(self) -> None:
        while self._running.is_set():
            turn, sentence = self._sentences.get()
            if turn.number < 0:
                return
            if sentence is None:
                if turn.wait_confirmed():
                    try:
                        self._player.wait()
                    except AudioDeviceError as exc:
                        self._error(exc, "output")
                turn.playback_done.set()
                continue
            if turn.cancel.is_set():
                continue
            text = speakable(sentence, self._voice.language)
            if not any(ch.isalnum() for ch in text):
                continue
            try:
                chunks = list(self._voice.synthesize(text))
            except AssistantError as exc:
                self._error(exc, "tts")
                continue
            for i, chunk in enumerate(chunks):
                # A speculative reply is ready early; it plays once the turn is confirmed.
                if not turn.wait_confirmed():
                    break
                last = i == len(chunks) - 1
                try:
                    self._player.play(chunk.audio, tag=(turn, text if last else None))
                except AudioDeviceError as exc:
                    self._error(exc, "output")
                    turn.cancel.set()

    def _on_audio_started(self, tag: Any) -> None:
        turn, _ = tag
        if turn.cancel.is_set():
            return
        turn.mark("first_audio")
        if self._state == State.THINKING:
            self._set_state(State.SPEAKING)

    def _on_audio_finished(self, tag: Any, completed: bool) -> None:
        turn, sentence = tag
        if completed and sentence is not None and not turn.cancel.is_set():
            turn.spoken.append(sentence)
            self._emit(SentenceSpoken(sentence, turn.number))

    def _on_played_block(self, block: np.ndarray) -> None:
        # One resampler for the whole stream: resampling 20 ms blocks one by one would
        # put a discontinuity at every block edge, which the canceller cannot match.
        if self._reference_resampler is None:
            import soxr

            self._reference_resampler = soxr.ResampleStream(
                self._player.sample_rate, ASR_RATE, 1, dtype="float32"
            )
        resampled = self._reference_resampler.resample_chunk(block)
        if len(resampled):
            self._echo.add_reference(resampled)
