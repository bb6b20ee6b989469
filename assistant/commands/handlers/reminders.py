"""Alarms and reminders: set ("remind me to call Anna at four", "wake me at 7:30
tomorrow"), listed and cancelled; the scheduler announces them when due."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..context import Answer, CommandContext
from ..spoken import parse_when, say_time
from ..store import ScheduledItem

__all__ = ["INTENTS", "set_reminder"]

_NO_SCHEDULER = Answer("Reminders are not available here.", declined=True)


def _when_words(due: datetime, now: datetime) -> str:
    days = (due.date() - now.date()).days
    day = ""
    if days == 1:
        day = " tomorrow"
    elif days > 1:
        day = f" on {due:%A}" if days < 7 else f" on {due:%B} {due.day}"
    return f"at {say_time(due)}{day}"


def set_reminder(kind: str, task: str, when: str, ctx: CommandContext) -> Answer:
    """An alarm or a reminder of ``task`` at the moment ``when`` names."""
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    now = ctx.now()
    spec = parse_when(when, now, prefer_morning=kind == "alarm")
    if spec.past:
        return Answer("I can't remind you in the past.", declined=True)
    if spec.due is None:
        return Answer("At what time?", question=True, data={"pending": kind, "task": task})
    if spec.due <= now:
        return Answer("That time has already passed.", declined=True)
    item = ctx.scheduler.add(kind, name=task, due_at=spec.due.timestamp())
    when_text = _when_words(spec.due, now)
    if kind == "alarm":
        return Answer(f"Alarm set {when_text}.", data={"id": item.id})
    return Answer(f"I'll remind you to {task} {when_text}.", data={"id": item.id})


def _remind(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    task, when = str(slots["task"]), str(slots.get("when", ""))
    task = re.sub(r"\b(?:my|me)\b", lambda m: {"my": "your", "me": "you"}[m.group(0)], task)
    if not when:
        return Answer(
            "When should I remind you?", question=True, data={"pending": "reminder", "task": task}
        )
    return set_reminder("reminder", task, when, ctx)


def _alarm(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    when = str(slots.get("when", "")).strip()
    if not when:
        return Answer("For what time?", question=True, data={"pending": "alarm", "task": ""})
    return set_reminder("alarm", "", when, ctx)


def _describe(item: ScheduledItem, now: datetime) -> str:
    due = datetime.fromtimestamp(item.due_at or 0)
    if item.kind == "alarm":
        return f"an alarm {_when_words(due, now)}"
    return f"a reminder to {item.name} {_when_words(due, now)}"


def _list(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    items = ctx.scheduler.items(("alarm", "reminder"))
    if not items:
        return Answer("You have no alarms or reminders.")
    now = ctx.now()
    text = "; ".join(_describe(i, now) for i in items)
    return Answer(f"You have {text}.", data={"items": [i.id for i in items]})


def _cancel(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    kind = str(slots["kind"])
    items = ctx.scheduler.items(kind)
    ringing = [i for i in items if i.state == "ringing"]
    if ringing and not slots.get("what"):
        ctx.scheduler.acknowledge()
        return Answer("Stopped.")
    what = str(slots.get("what", "")).lower()
    if what and not slots.get("all"):
        now = ctx.now()
        spec = parse_when(what, now, prefer_morning=kind == "alarm")
        chosen = [
            i
            for i in items
            if (what in i.name.lower())
            or (spec.due is not None and abs((i.due_at or 0) - spec.due.timestamp()) < 60)
        ]
    else:
        chosen = items
    if not chosen:
        return Answer(f"You have no {kind} like that." if what else f"You have no {kind}s.")
    if len(chosen) > 1 and not slots.get("all"):
        now = ctx.now()
        return Answer(
            f"Which one: {' or '.join(_describe(i, now) for i in chosen[:3])}?", question=True
        )
    for item in chosen:
        ctx.scheduler.cancel(item.id)
    plural = "s" if len(chosen) > 1 else ""
    return Answer(f"Cancelled {len(chosen) if plural else 'the'} {kind}{plural}.")


INTENTS = {
    "SetReminder": _remind,
    "SetAlarm": _alarm,
    "ListReminders": _list,
    "CancelReminder": _cancel,
}
