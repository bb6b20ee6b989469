"""Timers: start (named or not, several at once), time left, pause, resume, add or take
time, cancel; "stop" while one rings acknowledges it."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from ..context import Answer, CommandContext
from ..spoken import say_duration
from ..store import ScheduledItem

__all__ = ["INTENTS", "MAX_TIMER_S", "describe"]

MAX_TIMER_S = 24 * 3600.0
"""The longest timer (a day); longer is an alarm's job."""

_NO_SCHEDULER = Answer("Timers are not available here.", declined=True)


def describe(item: ScheduledItem) -> str:
    """ "the pasta timer" / "the 5 minute timer"."""
    if item.name:
        return f"the {item.name} timer"
    size = say_duration(item.duration_s)
    for unit in ("hour", "minute", "second"):
        size = size.replace(f"{unit}s", unit)
    return f"the {size} timer"


def _start(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    seconds = slots.get("duration")
    if seconds is None:  # "set a timer" or "set a timer for a while"
        return Answer("For how long?", question=True, data={"pending": "timer"})
    return start_timer(float(seconds), str(slots.get("name", "")), ctx)


def start_timer(seconds: float, name: str, ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    if seconds <= 0:
        return Answer("A timer needs a time above zero.", declined=True)
    if seconds > MAX_TIMER_S:
        return Answer("Timers go up to 24 hours; for longer, set an alarm.", declined=True)
    item = ctx.scheduler.add("timer", name=name, seconds=seconds)
    label = f"{name} timer" if name else "timer"
    return Answer(
        f"{label[0].upper()}{label[1:]} set for {say_duration(seconds)}.", data={"id": item.id}
    )


def _timers(ctx: CommandContext) -> list[ScheduledItem]:
    assert ctx.scheduler is not None
    return ctx.scheduler.items("timer")


def _pick(
    slots: dict[str, Any], ctx: CommandContext, states: tuple[str, ...]
) -> ScheduledItem | Answer:
    """The timer the words mean, or an answer (none, or a question: which one?)."""
    timers = [t for t in _timers(ctx) if t.state in states]
    if not timers:
        return Answer(
            "You have no timers running." if "running" in states else "You have no paused timers."
        )
    if "name" in slots:
        name = str(slots["name"]).lower()
        named = [t for t in timers if t.name.lower() == name]
        if not named:  # a misheard name ("pasta" as "past a"): the closest one that runs
            close = get_close_matches(name, [t.name.lower() for t in timers if t.name], 1, 0.6)
            named = [t for t in timers if close and t.name.lower() == close[0]]
        if not named:
            return Answer(f"You have no {slots['name']} timer.", declined=True)
        timers = named
    elif "start_duration" in slots:
        sized = [t for t in timers if abs(t.duration_s - float(slots["start_duration"])) < 1]
        if not sized:
            return Answer(
                f"You have no {say_duration(slots['start_duration'])} timer.", declined=True
            )
        timers = sized
    if len(timers) > 1:
        names = " or ".join(describe(t) for t in timers[:3])
        return Answer(f"Which one: {names}?", question=True)
    return timers[0]


def _status(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    now = ctx.scheduler.now()
    timers = _timers(ctx)
    if "name" in slots or "start_duration" in slots:
        picked = _pick(slots, ctx, ("running", "paused"))
        if isinstance(picked, Answer):
            return picked
        timers = [picked]
    if not timers:
        return Answer("You have no timers.")
    parts = []
    for t in timers:
        if t.state == "ringing":
            parts.append(f"{describe(t)} is ringing")
        elif t.state == "paused":
            parts.append(f"{describe(t)} is paused, {say_duration(t.left(now))} left")
        else:
            # "Your timer: 9 minutes and 58 seconds left." The voice starts on the short
            # first clause while it makes the rest (a reply's first piece ends at ':').
            parts.append(f"{describe(t)}: {say_duration(t.left(now))} left")
    text = "; ".join(parts)
    return Answer(text[0].upper() + text[1:] + ".", data={"timers": [t.id for t in timers]})


def _cancel(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    ringing = [t for t in ctx.scheduler.ringing() if t.kind == "timer"]
    if ringing and "name" not in slots and "start_duration" not in slots:
        ctx.scheduler.acknowledge()
        return Answer("Stopped.")
    picked = _pick(slots, ctx, ("running", "paused", "ringing"))
    if isinstance(picked, Answer):
        return picked
    ctx.scheduler.cancel(picked.id)
    return Answer(f"Cancelled {describe(picked)}.", data={"id": picked.id})


def _cancel_all(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    timers = _timers(ctx)
    for t in timers:
        ctx.scheduler.cancel(t.id)
    if not timers:
        return Answer("You have no timers.")
    return Answer(f"Cancelled {len(timers)} timer{'s' if len(timers) > 1 else ''}.")


def _change(sign: float):  # type: ignore[no-untyped-def]
    def handle(slots: dict[str, Any], ctx: CommandContext) -> Answer:
        if ctx.scheduler is None:
            return _NO_SCHEDULER
        picked = _pick(slots, ctx, ("running", "paused"))
        if isinstance(picked, Answer):
            return picked
        seconds = float(slots.get("duration", 0.0))
        changed = ctx.scheduler.add_time(picked.id, sign * seconds)
        if changed is None:
            return Answer("That timer is already ringing.", declined=True)
        left = say_duration(changed.left(ctx.scheduler.now()))
        verb = "Added" if sign > 0 else "Took"
        prep = "to" if sign > 0 else "off"
        return Answer(f"{verb} {say_duration(seconds)} {prep} {describe(picked)}; {left} left.")

    return handle


def _pause(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    picked = _pick(slots, ctx, ("running",))
    if isinstance(picked, Answer):
        return picked
    ctx.scheduler.pause(picked.id)
    return Answer(f"Paused {describe(picked)}.")


def _resume(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.scheduler is None:
        return _NO_SCHEDULER
    picked = _pick(slots, ctx, ("paused",))
    if isinstance(picked, Answer):
        return picked
    ctx.scheduler.resume(picked.id)
    return Answer(f"Resumed {describe(picked)}.")


INTENTS = {
    "HassStartTimer": _start,
    "StartTimerAsk": _start,
    "HassTimerStatus": _status,
    "ListTimers": _status,
    "HassCancelTimer": _cancel,
    "HassCancelAllTimers": _cancel_all,
    "HassIncreaseTimer": _change(1.0),
    "HassDecreaseTimer": _change(-1.0),
    "HassPauseTimer": _pause,
    "HassUnpauseTimer": _resume,
}
