"""What a matched command gives back, and what a handler may ask its host to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Action", "CommandResult", "IntentMatch"]


@dataclass(frozen=True)
class IntentMatch:
    """A transcript recognised as a command."""

    intent: str
    """The intent's name, e.g. ``HassStartTimer`` (Home Assistant's) or ``SetReminder``."""
    slots: dict[str, Any]
    """Slot values taken from the words: numbers as floats, names and texts as strings."""
    text: str
    """The transcript as matched (normalised)."""
    source: str
    """``hassil`` (a sentence template), ``pattern`` (one of the project's patterns) or
    ``sounds`` (either, after misheard words were swapped for the command words they
    sound like)."""
    match_ms: float = 0.0
    """How long matching took, in milliseconds."""


@dataclass(frozen=True)
class Action:
    """Something only the host (the pipeline, the chat loop, the app) can do.

    ``kind`` is one of ``stop`` (stop speaking), ``volume`` (``value``: +1 louder, -1
    quieter), ``mute``, ``unmute``, ``rate`` (``value``: the factor on the speaking rate,
    e.g. 0.85 slower), ``new_conversation``.
    """

    kind: str
    value: float = 0.0


@dataclass(frozen=True)
class CommandResult:
    """The answer to a command: what to say, and what else to do."""

    text: str
    """The spoken (and shown) answer; may be empty for a silent action ("stop")."""
    match: IntentMatch
    """What was recognised."""
    handler: str
    """The handler family that answered: timers, clock, reminders, calc, notes, control,
    desktop."""
    question: bool = False
    """The answer is a question (an ambiguous request); the next transcript may answer it."""
    declined: bool = False
    """The request was understood but cannot be done ("a timer for minus five minutes")."""
    actions: tuple[Action, ...] = ()
    """What the host should do besides speaking the answer."""
    data: dict[str, Any] = field(default_factory=dict)
    """Details for a view (a timer's id, a list of notes), never needed to speak."""
    handle_ms: float = 0.0
    """How long the handler took, in milliseconds."""

    @property
    def intent(self) -> str:
        return self.match.intent

    @property
    def slots(self) -> dict[str, Any]:
        return self.match.slots

    @property
    def match_ms(self) -> float:
        return self.match.match_ms
