"""The chat-model interface, and history trimming that works for any engine."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import EngineError

__all__ = ["ChatModel", "GenerationOptions", "Message", "complete", "fit_to_context"]

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str
    """``system``, ``user`` or ``assistant``."""
    content: str
    """The text."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationOptions:
    """How to sample a reply."""

    max_tokens: int = 256
    """Longest reply in tokens."""
    temperature: float = 0.7
    """0 means greedy decoding: the same prompt always gives the same reply."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    seed: int | None = None
    """Sampling seed; ``None`` for a random one."""
    stop: tuple[str, ...] = field(default_factory=tuple)
    """Extra strings that end the reply."""


class ChatModel(Protocol):
    """Streams a reply to a conversation."""

    context_size: int
    """Tokens the model can see at once (prompt and reply together)."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the prompt for ``messages`` takes, with the chat template applied."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the reply as text deltas; stops early once ``cancel`` is set."""
        ...


def complete(
    model: ChatModel,
    messages: Sequence[Message],
    options: GenerationOptions | None = None,
) -> str:
    """The whole reply as one string."""
    return "".join(model.stream(messages, options))


def fit_to_context(
    model: ChatModel, messages: Sequence[Message], reply_tokens: int
) -> list[Message]:
    """Drop the oldest turns until the prompt plus ``reply_tokens`` fits the context.

    The system message (if first) and the newest message are always kept; earlier
    turns go oldest first, a user message together with the reply that followed it.

    Raises:
        EngineError: even the system prompt and the newest message do not fit.
    """
    messages = list(messages)
    budget = model.context_size - reply_tokens
    head = messages[:1] if messages and messages[0].role == "system" else []
    body = messages[len(head) :]
    dropped = 0
    while model.count_tokens(head + body) > budget:
        if len(body) <= 1:
            raise EngineError(
                f"the message is too long for the model's context of {model.context_size} tokens",
                hint="shorten it, or raise llm.context_size in the config",
            )
        # Drop a whole exchange (user + assistant) so the history stays well-formed.
        cut = 2 if len(body) > 2 and body[1].role == "assistant" else 1
        body = body[cut:]
        dropped += cut
    if dropped:
        log.info("dropped %d old message(s) to fit the context window", dropped)
    return head + body
