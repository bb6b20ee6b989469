"""The capture thread's work: echo removal, endpointing, levels, barge-in, speculation.

Mixed into :class:`~assistant.pipeline.Conversation`, which owns the state it uses; the
declarations below name that state for readers and type checkers.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..audio import ASR_RATE
from ..audio.playback import Player
from ..errors import AudioDeviceError
from ..vad import Endpointer, SpeechEnded, SpeechStarted, VadOptions
from .events import AudioLevel, Event, State
from .sources import AudioSource
from .turns import PendingTurn, early_end_pause

__all__ = ["CaptureMixin"]

log = logging.getLogger(__name__)

_PARTIAL_EVERY = 0.5  # seconds between partial transcripts
_PAUSE_FRAMES = 1  # frames above the threshold that pause the reply at once (32 ms)
_RESUME_AFTER = 0.6  # a pause with no confirmed speech after this long resumes the reply
_SPECULATE_AFTER = 0.1  # seconds of pause before a turn starts speculatively


class CaptureMixin:
    """Reads the source and turns sound into utterances, levels and barge-ins."""

    _running: threading.Event
    _source_factory: Callable[[], AudioSource]
    _source: AudioSource | None
    _input_failed: bool
    _endpointer: Endpointer
    _options: VadOptions
    _echo: Any
    _mode: str
    _ptt_buffer: list[np.ndarray] | None
    _state: State
    _partials: queue.Queue[np.ndarray | None]
    _last_partial: float
    _last_level: float
    _loud_frames: int
    _paused_at: float | None
    _speculative: PendingTurn | None
    _quiet_since: int | None
    _current: PendingTurn | None
    _player: Player
    barge_in_stops: list[float]

    def _emit(self, event: Event) -> None:
        raise NotImplementedError

    def _set_state(self, state: State) -> None:
        raise NotImplementedError

    def _error(self, exc: BaseException, source: str) -> None:
        raise NotImplementedError

    def _submit(self, turn: PendingTurn, *, confirmed: bool = True) -> None:
        raise NotImplementedError

    def _confirm(self, turn: PendingTurn) -> None:
        raise NotImplementedError

    def interrupt(self) -> None:
        raise NotImplementedError

    def _capture_loop(self) -> None:
        while self._running.is_set():
            try:
                self._source = self._source_factory()
                for block in self._source.blocks():
                    if self._input_failed:
                        self._input_failed = False
                        log.info("audio input is back")
                    self._on_block(block)
                    if not self._running.is_set():
                        return
                return  # the source ended (a file)
            except AudioDeviceError as exc:
                if not self._input_failed:
                    self._input_failed = True
                    self._error(exc, "input")
                self._endpointer.reset()
                time.sleep(0.5)  # then try to reopen: the device may come back

    def _on_block(self, block: np.ndarray) -> None:
        if self._echo is not None:
            block = self._echo.process(block)
        if self._mode == "push-to-talk":
            if self._ptt_buffer is not None:
                self._ptt_buffer.append(block)
            self._report_level(block, 0.0)
            return
        events = self._endpointer.push(block)
        probability = self._endpointer.last_probability
        self._report_level(block, probability)
        self._fast_pause(probability)
        now = time.monotonic()
        for event in events:
            if isinstance(event, SpeechStarted):
                self._on_speech_started(event, now)
            elif isinstance(event, SpeechEnded):
                speech_end = now - (self._endpointer.position - event.at) / ASR_RATE
                turn, self._speculative = self._speculative, None
                # Confirm the speculation only if the pause it started in never broke:
                # otherwise it lacks what was said after it.
                if (
                    turn is not None
                    and not turn.cancel.is_set()
                    and (self._quiet_since is not None and self._quiet_since == turn.quiet_from)
                ):
                    turn.speech_end = speech_end
                    self._confirm(turn)
                else:
                    if turn is not None:
                        turn.cancel.set()
                    self._submit(PendingTurn(0, speech_end, audio=event.utterance))
        self._speculate(probability, now)
        if (
            self._state == State.HEARING
            and self._quiet_since is None  # in a pause the speculative turn needs the ASR
            and now - self._last_partial >= _PARTIAL_EVERY
        ):
            self._last_partial = now
            with contextlib.suppress(queue.Full):
                self._partials.put_nowait(self._endpointer.current_utterance())

    def _speculate(self, probability: float, now: float) -> None:
        if not self._endpointer.in_speech:
            self._quiet_since = None
            return
        position = self._endpointer.position
        if probability >= self._options.neg_threshold:
            self._quiet_since = None
            turn = self._speculative
            if turn is not None:
                turn.cancel.set()  # the user goes on talking: drop it unseen
                self._speculative = None
            return
        if self._quiet_since is None:
            self._quiet_since = position
        paused = (position - self._quiet_since) / ASR_RATE
        spec = self._speculative
        end_after = early_end_pause(spec.text) if spec is not None else None
        if spec is not None and end_after is not None and paused >= end_after:
            self._speculative = None
            self._confirm(spec)
            # The utterance is over; what the user says next is a new one (a barge-in).
            self._endpointer.finish()
            self._quiet_since = None
            return
        if self._speculative is None and paused >= _SPECULATE_AFTER:
            turn = PendingTurn(0, now - paused, audio=self._endpointer.current_utterance())
            turn.quiet_from = self._quiet_since
            self._speculative = turn
            self._submit(turn, confirmed=False)

    def _report_level(self, block: np.ndarray, probability: float) -> None:
        now = time.monotonic()
        if now - self._last_level < 0.03:
            return
        self._last_level = now
        rms = float(np.sqrt(np.mean(block**2))) if len(block) else 0.0
        level = 20 * np.log10(rms) if rms > 1e-5 else -100.0
        self._emit(AudioLevel(float(level), probability))

    def _fast_pause(self, probability: float) -> None:
        # The endpointer confirms speech only after min_speech_ms; holding the reply at
        # the first loud frames makes an interruption feel instant, and a false alarm
        # costs only a short gap.
        if self._state != State.SPEAKING:
            self._loud_frames = 0
            return
        if probability >= self._options.threshold:
            self._loud_frames += 1
            if self._loud_frames >= _PAUSE_FRAMES and self._paused_at is None:
                self._player.pause()
                self._paused_at = time.monotonic()
        else:
            self._loud_frames = 0
            if (
                self._paused_at is not None
                and not self._endpointer.in_speech
                and time.monotonic() - self._paused_at > _RESUME_AFTER
            ):
                self._paused_at = None
                self._player.resume()

    def _on_speech_started(self, event: SpeechStarted, now: float) -> None:
        turn = self._current
        if turn is not None and not turn.cancel.is_set():
            onset = now - (self._endpointer.position - event.at) / ASR_RATE
            silent_at = self._paused_at or now
            self.interrupt()
            self.barge_in_stops.append(max(0.0, silent_at - onset))
            log.info("barge-in: reply cut %.0f ms after the user began", 1000 * (silent_at - onset))
        self._paused_at = None
        self._last_partial = now
        self._set_state(State.HEARING)
