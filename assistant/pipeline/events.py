"""Typed events the conversation pipeline reports to its listeners (CLI, GUI, tests)."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from ..reply import Source

__all__ = [
    "AudioLevel",
    "ErrorEvent",
    "Event",
    "FinalTranscript",
    "PartialTranscript",
    "ReplySources",
    "ReplyToken",
    "SentenceSpoken",
    "State",
    "StateChanged",
    "TurnFinished",
    "TurnMetrics",
]


class State(enum.Enum):
    """What the assistant is doing."""

    IDLE = "idle"
    """Not running, or the microphone is closed."""
    LISTENING = "listening"
    """Waiting for the user to speak."""
    HEARING = "hearing"
    """The user is speaking."""
    THINKING = "thinking"
    """Transcribing the end of the utterance and generating the reply."""
    SPEAKING = "speaking"
    """The reply is being played."""


@dataclass(frozen=True)
class Event:
    """Base of every event."""

    at: float = field(default_factory=time.monotonic, kw_only=True)
    """``time.monotonic()`` when it happened."""


@dataclass(frozen=True)
class StateChanged(Event):
    """The pipeline moved to another state."""

    state: State
    """The new state."""
    previous: State
    """The state before."""


@dataclass(frozen=True)
class AudioLevel(Event):
    """Microphone level, about every 30 ms."""

    rms_db: float
    """Root-mean-square level in dBFS (-100 for silence)."""
    speech_probability: float
    """The VAD's speech probability of the latest frame."""


@dataclass(frozen=True)
class PartialTranscript(Event):
    """What the user has said so far (while still speaking)."""

    text: str


@dataclass(frozen=True)
class FinalTranscript(Event):
    """What the user said, at the end of the utterance."""

    text: str
    turn: int
    """Turn number in this session."""


@dataclass(frozen=True)
class ReplyToken(Event):
    """A piece of the reply as the language model writes it."""

    text: str
    turn: int


@dataclass(frozen=True)
class ReplySources(Event):
    """The passages of the user's documents this turn's reply is given (before its
    first token): ``sources`` are :class:`assistant.reply.Source`."""

    sources: tuple[Source, ...]
    turn: int


@dataclass(frozen=True)
class SentenceSpoken(Event):
    """A sentence of the reply was played to the end."""

    text: str
    turn: int


@dataclass(frozen=True)
class TurnMetrics(Event):
    """Where the time of a turn went; seconds from the end of the user's speech
    (``None`` for steps the turn did not reach)."""

    turn: int
    transcript: float | None = None
    """Final transcript ready."""
    first_token: float | None = None
    """First reply token."""
    first_sentence: float | None = None
    """First complete sentence."""
    first_audio: float | None = None
    """First reply sample reaching the output: the voice-to-voice latency."""
    end: float | None = None
    """Reply finished playing (or was cut)."""


@dataclass(frozen=True)
class TurnFinished(Event):
    """A turn ended."""

    turn: int
    user_text: str
    """What the user said."""
    spoken_text: str
    """What the assistant actually said aloud (cut short by a barge-in)."""
    full_text: str
    """Everything the model wrote for this turn."""
    interrupted: bool
    """True when the user (or the stop button) cut the reply."""


@dataclass(frozen=True)
class ErrorEvent(Event):
    """Something failed; the pipeline keeps running where it can."""

    message: str
    """What failed."""
    hint: str | None = None
    """What to do about it."""
    source: str = ""
    """Which part failed: ``input``, ``output``, ``asr``, ``llm``, ``tts``."""
