"""Typed events the conversation pipeline reports to its listeners (CLI, GUI, tests)."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..reply import Source

__all__ = [
    "Announced",
    "AudioLevel",
    "CommandHandled",
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
    ASLEEP = "asleep"
    """Wake mode: only the wake-word detector listens."""
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
    """First reply token (for a local command: its answer)."""
    first_sentence: float | None = None
    """First complete sentence."""
    first_audio: float | None = None
    """First reply sample reaching the output: the voice-to-voice latency."""
    end_of_turn: float | None = None
    """The turn was taken as finished: the end-of-turn wait (spoken turns)."""
    end: float | None = None
    """Reply finished playing (or was cut)."""
    matched: float | None = None
    """A local command recognised (the language model was not asked)."""
    steps: Mapping[str, float] = field(default_factory=dict)
    """Every step the turn noted, the ones above and finer ones (``speculated``: a
    speculative turn began; ``asr_start``: its recogniser began; ``voiced``: the reply's
    first piece was synthesized), in seconds from the end of the user's speech."""


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


@dataclass(frozen=True)
class CommandHandled(Event):
    """A turn was answered by a local command, not by the language model (emitted
    before its :class:`TurnFinished`)."""

    turn: int
    intent: str
    """What was recognised, e.g. ``HassStartTimer``."""
    handler: str
    """The handler family: timers, clock, reminders, calc, notes, control, desktop."""
    text: str
    """The answer."""
    match_ms: float = 0.0
    handle_ms: float = 0.0


@dataclass(frozen=True)
class Announced(Event):
    """The assistant spoke on its own: a timer rang, a reminder or an alarm is due."""

    text: str
    kind: str = ""
    """``timer``, ``alarm`` or ``reminder``."""
    repeat: int = 0
    """0 the first time, then each repetition until acknowledged."""
    played: bool = True
    """False when it was dropped before playing (acknowledged meanwhile, or stopped)."""
