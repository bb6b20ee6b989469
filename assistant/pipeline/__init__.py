"""The live conversation pipeline: sources, events, and the threads that join the engines."""

from .conversation import MODES, Conversation
from .events import (
    Announced,
    AudioLevel,
    CommandHandled,
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    ReplySources,
    ReplyToken,
    SentenceSpoken,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)
from .sources import AudioSource, MicrophoneSource, ScriptedSource, Utterance

__all__ = [
    "MODES",
    "Announced",
    "AudioLevel",
    "AudioSource",
    "CommandHandled",
    "Conversation",
    "ErrorEvent",
    "Event",
    "FinalTranscript",
    "MicrophoneSource",
    "PartialTranscript",
    "ReplySources",
    "ReplyToken",
    "ScriptedSource",
    "SentenceSpoken",
    "State",
    "StateChanged",
    "TurnFinished",
    "TurnMetrics",
    "Utterance",
]
