"""Streaming endpointing: 16 kHz audio in, any chunk size; speech start/end events out.

The rule is the one :func:`~assistant.vad.speech_segments` applies to a whole clip, so a
file streamed through an :class:`Endpointer` gives the same starts and ends. Speech is
announced once it has lasted ``min_speech_ms`` (a click never starts an utterance), with
the audio from ``pre_roll_ms`` before its true start; the end is announced after
``min_silence_ms`` of silence, with the whole utterance.

Memory is bounded: a ring of recent frames long enough for the pre-roll plus a not yet
proved start, and one utterance of at most ``max_utterance_s`` plus its pads.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..config import VadConfig
from ..errors import AudioFormatError
from .segments import _Hysteresis, _ms
from .silero import Vad

__all__ = ["EndpointEvent", "Endpointer", "SpeechEnded", "SpeechStarted"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech has begun (and lasted ``min_speech_ms``)."""

    at: int
    """Sample index of the speech start, counted from the stream's start (or last reset)."""
    pre_roll: np.ndarray = field(repr=False)
    """The audio just before ``at``: ``pre_roll_ms`` of it, less at the stream's start or
    right after the previous utterance's audio; shape ``(n,)`` float32."""
    detected_at: int = 0
    """Sample index at which the start was announced; ``detected_at - at`` is the
    detection latency."""


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over."""

    at: int
    """Sample index of the speech end (end of the last speech frame)."""
    utterance: np.ndarray = field(repr=False)
    """The whole utterance: pre-roll, speech and post-roll; shape ``(n,)`` float32."""
    forced: bool = False
    """``True`` when the utterance reached ``max_utterance_s`` of speech and was cut there
    (speech may go on, and then a new utterance starts, sharing no audio with this one)."""


EndpointEvent = SpeechStarted | SpeechEnded
"""What :meth:`Endpointer.push` reports."""


class Endpointer:
    """Finds where utterances start and end in a live 16 kHz stream.

    Args:
        vad: the VAD; it is reset with the endpointer, and only this object should feed it.
        options: thresholds, durations and pads (the ``[vad]`` config section).
        max_utterance_s: an utterance whose speech spans this long is ended there by
            force, so memory and ASR time stay bounded.
    """

    def __init__(
        self, vad: Vad, options: VadConfig | None = None, *, max_utterance_s: float = 30.0
    ) -> None:
        if max_utterance_s <= 0:
            raise ValueError(f"max_utterance_s must be > 0, not {max_utterance_s}")
        self._vad = vad
        # A copy: the live config may be edited while this stream runs.
        self.options = dataclasses.replace(options) if options is not None else VadConfig()
        self.max_utterance_s = max_utterance_s
        rate, frame = vad.sample_rate, vad.frame_samples
        self._frame = frame
        self._pre_roll = _ms(self.options.pre_roll_ms, rate)
        # Post-roll beyond min_silence_ms would mean holding the end back (VadConfig.post_roll_ms).
        self._post_roll = min(
            _ms(self.options.post_roll_ms, rate), _ms(self.options.min_silence_ms, rate)
        )
        self._rule = _Hysteresis(
            self.options, frame, rate, max_speech=round(max_utterance_s * rate)
        )
        # A start is announced at most min_speech + min_silence + one frame after it happens
        # (a later speech frame would have proved it, a longer gap would have closed it), and
        # the pre-roll reaches pre_roll before it; two frames more cover the rounding.
        span = self._pre_roll + _ms(self.options.min_speech_ms, rate)
        span += _ms(self.options.min_silence_ms, rate)
        self._recent: deque[np.ndarray] = deque(maxlen=math.ceil(span / frame) + 2)
        self._utterance: list[np.ndarray] = []
        self._utterance_start = 0
        self._floor = 0  # end of the last utterance's audio: the next pre-roll starts after it
        self._pending = np.zeros(0, np.float32)
        self.last_probability = 0.0
        """Speech probability of the latest frame, for a level meter."""
        vad.reset()  # a new endpointer is a new stream

    @property
    def in_speech(self) -> bool:
        """Between a :class:`SpeechStarted` and its :class:`SpeechEnded`."""
        return self._rule.proved and self._rule.start is not None

    @property
    def position(self) -> int:
        """Samples pushed since the stream's start (or last reset)."""
        return self._rule.frame_end + len(self._pending)

    def reset(self) -> None:
        """Start a new stream: forget the audio, the utterance and the VAD's state."""
        self._vad.reset()
        self._rule.reset()
        self._recent.clear()
        self._utterance = []
        self._utterance_start = 0
        self._floor = 0
        self._pending = np.zeros(0, np.float32)
        self.last_probability = 0.0

    def current_utterance(self) -> np.ndarray:
        """The utterance so far (pre-roll and speech up to the last whole frame), for
        partial transcripts; empty when not :attr:`in_speech`."""
        if not self.in_speech:
            return np.zeros(0, np.float32)
        return np.concatenate(self._utterance)

    def push(self, samples: np.ndarray) -> list[EndpointEvent]:
        """Feed the next chunk of the stream.

        Args:
            samples: any number of 16 kHz float32 samples, shape ``(n,)`` (or ``(n, 1)``,
                as an input stream delivers them).

        Returns:
            The events this chunk completed, in order (usually none).
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2 and samples.shape[1] == 1:
            samples = samples[:, 0]
        if samples.ndim != 1:
            raise AudioFormatError(
                f"the endpointer takes mono audio, shape (n,), not {samples.shape}"
            )
        buffered = np.concatenate([self._pending, samples])
        n_frames = len(buffered) // self._frame
        events: list[EndpointEvent] = []
        for i in range(n_frames):
            # A copy, so the ring and the utterance never pin the caller's large chunk.
            frame = buffered[i * self._frame : (i + 1) * self._frame].copy()
            events.extend(self._step(frame))
        self._pending = buffered[n_frames * self._frame :].copy()
        return events

    def finish(self) -> list[EndpointEvent]:
        """End of the stream: end an utterance still in progress (with any trailing partial
        frame in it), then :meth:`reset`."""
        events: list[EndpointEvent] = []
        if self.in_speech:
            received = self.position
            closed = self._rule.finish(received)
            assert closed is not None  # in_speech means a proved open segment
            audio = np.concatenate([*self._utterance, self._pending])
            events.append(self._ended(closed[1], audio, received, forced=False))
        self.reset()
        return events

    def _step(self, frame: np.ndarray) -> list[EndpointEvent]:
        prob = self._vad(frame)
        self.last_probability = prob
        self._recent.append(frame)
        was_in_speech = self.in_speech
        if was_in_speech:
            self._utterance.append(frame)
        started, closed = self._rule.step(prob)
        now = self._rule.frame_end
        events: list[EndpointEvent] = []
        if started is not None:
            events.append(self._started(started, now))
        if closed is not None:
            _, end, forced = closed
            if forced:
                log.info("utterance reached %.1f s: ending it", self.max_utterance_s)
            audio = np.concatenate(self._utterance)
            events.append(self._ended(end, audio, now, forced=forced))
            self._utterance = []
        return events

    def _started(self, at: int, now: int) -> SpeechStarted:
        recent = np.concatenate(self._recent)  # samples [now - len(recent), now)
        # After an utterance cut by max_utterance_s speech goes on at once; starting no
        # earlier than its end keeps the two utterances from sharing audio.
        first = max(at - self._pre_roll, now - len(recent), self._floor)
        audio = recent[first - (now - len(recent)) :]
        self._utterance = [audio]
        self._utterance_start = first
        return SpeechStarted(at=at, pre_roll=audio[: at - first].copy(), detected_at=now)

    def _ended(self, at: int, audio: np.ndarray, received: int, *, forced: bool) -> SpeechEnded:
        # audio holds samples [utterance_start, received).
        stop = min(at + self._post_roll, received) - self._utterance_start
        self._floor = self._utterance_start + stop
        return SpeechEnded(at=at, utterance=audio[:stop], forced=forced)
