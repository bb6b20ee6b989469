"""The handlers, one module per family; each maps intent names to functions
``(slots, context) -> Answer | None`` (``None``: not a command after all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Answer, CommandContext
from . import calc, clock, control, desktop, notes, reminders, timers

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[dict[str, Any], CommandContext], Answer | None]

HANDLERS: dict[str, tuple[str, Handler]] = {
    intent: (module.__name__.rsplit(".", 1)[-1], function)
    for module in (timers, clock, reminders, calc, notes, control, desktop)
    for intent, function in module.INTENTS.items()
}
"""Intent name -> (family, handler)."""
