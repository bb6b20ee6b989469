"""From per-frame speech probabilities to speech segments: the hysteresis rule
shared by whole-clip segmentation and the streaming endpointer, and trimming a clip.

The rule, per 32 ms frame: speech starts at a frame whose probability reaches
``threshold``; once started, a frame counts as speech while its probability stays at or
above ``neg_threshold`` (the lower bar is what stops a segment from flickering off on a
soft syllable); ``min_silence_ms`` of frames below ``neg_threshold`` end it at the end of
its last speech frame. A segment whose speech spans less than ``min_speech_ms`` is dropped
as a click or a cough.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..audio.io import Audio
from ..config import VadConfig
from ..errors import NoSpeechError
from .silero import FRAME_SAMPLES, SAMPLE_RATE, Vad

__all__ = ["SpeechSegment", "speech_segments", "trim_to_speech"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of speech, in samples of the 16 kHz VAD stream."""

    start: int
    """First sample (inclusive)."""
    end: int
    """Last sample (exclusive)."""
    sample_rate: int = SAMPLE_RATE
    """Rate the indexes count at (Hz)."""

    @property
    def start_s(self) -> float:
        """Start in seconds."""
        return self.start / self.sample_rate

    @property
    def end_s(self) -> float:
        """End in seconds."""
        return self.end / self.sample_rate

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end - self.start) / self.sample_rate


def _ms(ms: float, sample_rate: int) -> int:
    return round(ms * sample_rate / 1000)


class _Hysteresis:
    """The segmentation rule, one frame at a time (see the module docstring).

    ``step`` returns ``(started, ended)``: ``started`` is the start sample of a segment
    that has just proved long enough (``min_speech_ms``), ``ended`` is ``(start, end,
    forced)`` of a proved segment that has just closed. Segments that never prove long
    enough close silently. ``max_speech`` (samples, or ``None``) forces a proved segment
    closed at the end of its latest speech frame once its speech spans that long.
    """

    def __init__(
        self,
        options: VadConfig,
        frame_samples: int,
        sample_rate: int,
        max_speech: int | None = None,
    ) -> None:
        options.validate()
        self._threshold = options.threshold
        self._neg_threshold = options.neg_threshold
        self._min_speech = _ms(options.min_speech_ms, sample_rate)
        self._min_silence = _ms(options.min_silence_ms, sample_rate)
        self._frame = frame_samples
        self._max_speech = max_speech
        self.reset()

    def reset(self) -> None:
        self.start: int | None = None  # start sample of the open segment, proved or not
        self.speech_end = 0  # end sample of the open segment's last speech frame
        self.proved = False  # the open segment has min_speech_ms of speech
        self.frame_end = 0  # end sample of the last frame stepped

    def step(self, prob: float) -> tuple[int | None, tuple[int, int, bool] | None]:
        frame_start = self.frame_end
        self.frame_end += self._frame
        if self.start is None:
            if prob < self._threshold:
                return None, None
            self.start, self.proved = frame_start, False
        if prob >= self._neg_threshold:
            self.speech_end = self.frame_end
        elif self.frame_end - self.speech_end >= self._min_silence:
            closed = (self.start, self.speech_end, False) if self.proved else None
            self.start = None
            return None, closed
        started = None
        if not self.proved and self.speech_end - self.start >= self._min_speech:
            self.proved, started = True, self.start
        # Count speech, not elapsed time: a segment already trailing off into silence is
        # left to end by itself, at its true end, rather than cut mid-pause.
        if (
            self.proved
            and self._max_speech is not None
            and self.speech_end - self.start >= self._max_speech
        ):
            closed = (self.start, self.speech_end, True)
            self.start = None
            return started, closed
        return started, None

    def finish(self, num_samples: int) -> tuple[int, int] | None:
        """Close the open segment at the end of the input; ``None`` if none was proved."""
        closed = None
        if self.start is not None and self.proved:
            closed = (self.start, min(self.speech_end, num_samples))
        self.start = None
        return closed


def speech_segments(
    probs: np.ndarray,
    options: VadConfig,
    frame_samples: int = FRAME_SAMPLES,
    sample_rate: int = SAMPLE_RATE,
    *,
    num_samples: int | None = None,
) -> list[SpeechSegment]:
    """Speech segments of a clip from its per-frame probabilities, padded and merged.

    Args:
        probs: shape ``(n_frames,)``, as :meth:`Vad.probabilities` returns.
        options: thresholds, durations and pads.
        frame_samples: samples per frame.
        sample_rate: rate of the frames (Hz).
        num_samples: the clip's true length, to clamp the end pad; defaults to
            ``n_frames * frame_samples``.

    Returns:
        Segments in order, each padded by ``pre_roll_ms`` / ``post_roll_ms`` within the
        clip; segments whose pads overlap or touch are merged into one.
    """
    probs = np.asarray(probs, dtype=np.float32).reshape(-1)
    total = len(probs) * frame_samples if num_samples is None else num_samples
    rule = _Hysteresis(options, frame_samples, sample_rate)
    raw: list[tuple[int, int]] = []
    for prob in probs.tolist():  # plain floats: a Python loop over numpy scalars is slower
        _, closed = rule.step(prob)
        if closed is not None:
            raw.append(closed[:2])
    last = rule.finish(total)
    if last is not None:
        raw.append(last)

    pre, post = _ms(options.pre_roll_ms, sample_rate), _ms(options.post_roll_ms, sample_rate)
    merged: list[list[int]] = []
    for start, end in raw:
        start, end = max(0, start - pre), min(total, end + post)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [SpeechSegment(start, end, sample_rate) for start, end in merged]


def trim_to_speech(
    audio: Audio, vad: Vad, options: VadConfig, *, source: str = "the recording"
) -> Audio:
    """Cut a clip to its speech: from the first segment's padded start to the last one's
    padded end, at the clip's own sample rate.

    Args:
        audio: the clip, at any rate (the VAD sees a 16 kHz copy).
        vad: the VAD to run on it.
        options: thresholds, durations and pads.
        source: what the clip is, for the error message (``"the recording"``,
            ``"/path/to/file.wav"``).

    Raises:
        NoSpeechError: the clip is empty or holds no speech segment.
    """
    if len(audio.samples) == 0:
        raise NoSpeechError(f"no speech detected in {source}: it is empty")
    at_vad_rate = audio.at_rate(vad.sample_rate)
    probs = vad.probabilities(at_vad_rate.samples)
    segments = speech_segments(
        probs, options, vad.frame_samples, vad.sample_rate, num_samples=len(at_vad_rate.samples)
    )
    if not segments:
        live = source == "the recording"  # a microphone's, not a file the user gave
        raise NoSpeechError(
            f"no speech detected in {source}",
            hint="check that the right microphone is selected, unmuted and loud enough"
            if live
            else "the file holds only silence or noise: give a recording with speech in it",
        )
    scale = audio.sample_rate / vad.sample_rate
    first = math.floor(segments[0].start * scale)
    last = min(len(audio.samples), math.ceil(segments[-1].end * scale))
    log.debug(
        "trimmed %s to %.2f-%.2f s (%d segments)",
        source,
        segments[0].start_s,
        segments[-1].end_s,
        len(segments),
    )
    return Audio(audio.samples[first:last], audio.sample_rate)
