"""The assistant itself: stop, louder, quieter, mute, slower, faster, new conversation,
never mind. The host carries out the :class:`Action`; "stop" also silences whatever
timer, alarm or reminder is ringing."""

from __future__ import annotations

from typing import Any

from ..context import Answer, CommandContext
from ..result import Action

__all__ = ["INTENTS", "RATE_STEP"]

RATE_STEP = 1.15
"""The factor "faster" multiplies the speaking rate by ("slower" divides)."""


def _stop(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    stopped = ctx.scheduler.acknowledge() if ctx.scheduler is not None else []
    return Answer("", actions=(Action("stop"),), data={"acknowledged": [i.id for i in stopped]})


def _acknowledge(slots: dict[str, Any], ctx: CommandContext) -> Answer | None:
    """ "OK" / "thanks" silences a ringing timer; otherwise it is conversation (the model)."""
    stopped = ctx.scheduler.acknowledge() if ctx.scheduler is not None else []
    if not stopped:
        return None
    return Answer("", actions=(Action("stop"),), data={"acknowledged": [i.id for i in stopped]})


def _fixed(text: str, action: Action | None):  # type: ignore[no-untyped-def]
    def handle(slots: dict[str, Any], ctx: CommandContext) -> Answer:
        return Answer(text, actions=(action,) if action else ())

    return handle


INTENTS = {
    "AssistantStop": _stop,
    "AssistantAcknowledge": _acknowledge,
    "HassNevermind": _fixed("OK.", Action("stop")),
    "AssistantLouder": _fixed("Louder.", Action("volume", 1.0)),
    "AssistantQuieter": _fixed("Quieter.", Action("volume", -1.0)),
    "AssistantMute": _fixed("", Action("mute")),
    "AssistantUnmute": _fixed("Sound is back on.", Action("unmute")),
    "AssistantSlower": _fixed("I'll speak more slowly.", Action("rate", 1 / RATE_STEP)),
    "AssistantFaster": _fixed("I'll speak faster.", Action("rate", RATE_STEP)),
    "AssistantNewConversation": _fixed("New conversation.", Action("new_conversation")),
}
