"""What the history holds, as plain data, and how a conversation becomes a training
example."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..llm.base import Message

__all__ = ["ConversationSummary", "Turn", "conversation_title", "training_example"]

_TITLE_WORDS = 8
_TITLE_CHARS = 60


@dataclass(frozen=True)
class ConversationSummary:
    """One conversation, as a list of conversations shows it."""

    id: int
    """The conversation's id (``assistant history show ID``)."""
    title: str
    """Its title, or the first words the user said when it has none ("" when empty)."""
    started_at: float
    """When it was started, in unix seconds."""
    updated_at: float
    """When its last turn was added (``started_at`` while it has none), in unix seconds."""
    turn_count: int
    """How many turns it holds."""


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user said and what the assistant answered."""

    id: int
    """The turn's id, increasing in the order turns were added."""
    user_text: str
    """What the user said (the final transcript, or the typed line)."""
    assistant_text: str
    """What the assistant said; for an interrupted turn only the part actually spoken."""
    interrupted: bool
    """True when the user cut the reply short (barge-in)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Per-turn measurements in seconds (``TurnTimings`` fields such as ``first_audio``)."""
    started_at: float = 0.0
    """When the turn started, in unix seconds."""


def conversation_title(first_user_text: str) -> str:
    """A title for a conversation without one: the first words the user said."""
    words = first_user_text.split()
    title = " ".join(words[:_TITLE_WORDS])
    if len(title) > _TITLE_CHARS:
        title = title[: _TITLE_CHARS - 1].rstrip()
    return title + ("…" if title != " ".join(words) else "")


def training_example(
    turns: Sequence[Turn], system_prompt: str | None = None
) -> dict[str, Any] | None:
    """A conversation as one line of chat-training JSONL:
    ``{"messages": [{"role": ..., "content": ...}, ...]}``, or ``None`` if nothing is left.

    A system message comes first when ``system_prompt`` is given. Interrupted replies are
    kept as far as they were spoken; turns with an empty reply are left out, since an
    empty answer is no example to learn from.
    """
    body = [
        message
        for turn in turns
        if turn.assistant_text.strip()
        for message in (Message("user", turn.user_text), Message("assistant", turn.assistant_text))
    ]
    if not body:
        return None
    head = [Message("system", system_prompt)] if system_prompt else []
    return {"messages": [m.to_dict() for m in head + body]}
