"""The speech-recognition interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..audio import Audio

__all__ = ["Segment", "Transcriber", "Transcript"]


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech."""

    start: float
    """Start, seconds from the beginning of the audio."""
    end: float
    """End, seconds."""
    text: str
    """What was said, stripped."""
    avg_logprob: float = 0.0
    """Mean token log-probability; low values mean low confidence."""
    no_speech_prob: float = 0.0
    """The model's probability that the segment holds no speech."""


@dataclass(frozen=True)
class Transcript:
    """The result of transcribing one utterance or file."""

    text: str
    """All segments' text joined by spaces."""
    segments: tuple[Segment, ...]
    """The segments, in order."""
    language: str
    """Language code the model used (given or detected)."""
    duration: float
    """Length of the audio in seconds."""


class Transcriber(Protocol):
    """Turns speech into text."""

    def transcribe(self, audio: Audio, *, prompt: str | None = None) -> Transcript:
        """Transcribe mono audio (any rate; engines resample as they need); ``prompt``:
        text that came before, to steer the recognition (engines may ignore it)."""
        ...
