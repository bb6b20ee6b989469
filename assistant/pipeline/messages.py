"""What the pipeline's stages send each other over their queues.

Every queue carries one of these typed messages; :class:`Stop` ends the stage that
reads it (no sentinel values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .turns import Turn

__all__ = [
    "Announce",
    "EndOfReply",
    "PartialRequest",
    "Sentence",
    "SpeakerMessage",
    "Stop",
    "TurnMessage",
]


@dataclass(frozen=True)
class Stop:
    """The pipeline is stopping: the stage that reads this returns."""


@dataclass(frozen=True)
class PartialRequest:
    """Capture -> partials: transcribe the utterance so far."""

    audio: np.ndarray


@dataclass(frozen=True)
class Sentence:
    """Turn worker -> speaker: a speakable piece of the reply."""

    turn: Turn
    text: str


@dataclass(frozen=True)
class EndOfReply:
    """Turn worker -> speaker: the reply has no more pieces; report when it has played."""

    turn: Turn


@dataclass(frozen=True)
class Announce:
    """Facade -> turn worker: say ``text`` on the assistant's own initiative (a timer
    rang), after ``sound``, between user turns."""

    turn: Turn
    text: str
    kind: str
    repeat: int
    sound: np.ndarray | None
    """Samples at the voice's rate, played before the words (the chime), or None."""
    wanted: Callable[[], bool]
    """Still to be said? (False once acknowledged: a queued repetition is dropped.)"""


TurnMessage = Turn | Announce | Stop
"""What the turn worker's queue carries: an utterance or typed text to answer (confirmed,
or speculative until the capture stage resolves it), an announcement, or the stop."""

SpeakerMessage = Sentence | EndOfReply | Stop
"""What the speaker's queue carries."""
