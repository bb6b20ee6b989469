"""The scheduler: keeps timers, alarms and reminders, and announces each when it is due,
again every ``repeat_s`` until acknowledged ("stop") or ``max_repeats`` is reached.

It owns one thread that sleeps until the next due moment (a condition variable, no
polling) and calls ``on_announce`` with an :class:`Announcement`, outside its lock, on
that thread. The pipeline subscribes to it to play a sound and speak the text.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .spoken import say_duration, say_time
from .store import ScheduledItem, ScheduleStore

__all__ = ["Announcement", "Scheduler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Announcement:
    """A timer rang, an alarm went off or a reminder is due."""

    item: ScheduledItem
    """A copy of the item as it was when announced."""
    text: str
    """What to say ("Your pasta timer is done.")."""
    repeat: int
    """0 the first time, 1 the first repetition, ..."""
    late_s: float
    """How long after the due moment this announcement was made (the first one)."""


def _text(item: ScheduledItem) -> str:
    if item.kind == "timer":
        label = f"Your {item.name} timer" if item.name else "Your timer"
        return f"{label} for {say_duration(item.duration_s)} is done."
    if item.kind == "alarm":
        return f"It's {say_time(datetime.now())}. This is your alarm."
    return f"Reminder: {item.name}."


class Scheduler:
    """Timers, alarms and reminders, stored in ``path`` and announced when due.

    Args:
        path: the JSON file (default: ``schedule.json`` in the data folder).
        on_announce: called with each :class:`Announcement` on the scheduler's thread.
        repeat_s: seconds between repetitions of an unacknowledged announcement.
        max_repeats: repetitions after which an item stops ringing by itself.
    """

    def __init__(
        self,
        path: Path | None = None,
        on_announce: Callable[[Announcement], None] | None = None,
        *,
        repeat_s: float = 20.0,
        max_repeats: int = 15,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = ScheduleStore(path)
        self.on_announce = on_announce
        self.on_change: Callable[[], None] | None = None
        """Called (on the changing thread, lock held: keep it quick, take no other lock)
        after an item was added, changed, rang or removed: a view refreshes its list."""
        self.repeat_s = repeat_s
        self.max_repeats = max_repeats
        self._clock = clock
        self._cond = threading.Condition()
        self._items = self.store.load()
        self._repeats: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start announcing (items that fell due while the app was closed ring at once)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread; the items stay stored."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ----------------------------------------------------------------------

    def items(self, kind: str | tuple[str, ...] | None = None) -> list[ScheduledItem]:
        """Copies of the items (of ``kind``), soonest first."""
        kinds = (kind,) if isinstance(kind, str) else kind
        with self._cond:
            chosen = [copy.copy(i) for i in self._items if kinds is None or i.kind in kinds]
        now = self._clock()
        return sorted(chosen, key=lambda i: (i.state != "ringing", i.left(now)))

    def ringing(self) -> list[ScheduledItem]:
        return [i for i in self.items() if i.state == "ringing"]

    def now(self) -> float:
        return self._clock()

    # -- changes ----------------------------------------------------------------------

    def add(
        self, kind: str, *, name: str = "", seconds: float = 0.0, due_at: float | None = None
    ) -> ScheduledItem:
        """A new timer (``seconds`` from now) or alarm/reminder (at ``due_at``)."""
        now = self._clock()
        item = ScheduledItem(
            id=uuid.uuid4().hex[:8],
            kind=kind,
            name=name,
            due_at=due_at if due_at is not None else now + seconds,
            duration_s=seconds,
            created_at=now,
        )
        with self._cond:
            self._items.append(item)
            self._changed()
        return copy.copy(item)

    def pause(self, item_id: str) -> bool:
        with self._cond:
            item = self._find(item_id)
            if item is None or item.state != "running":
                return False
            item.remaining_s, item.due_at, item.state = item.left(self._clock()), None, "paused"
            self._changed()
            return True

    def resume(self, item_id: str) -> bool:
        with self._cond:
            item = self._find(item_id)
            if item is None or item.state != "paused":
                return False
            item.due_at, item.state = self._clock() + item.remaining_s, "running"
            self._changed()
            return True

    def add_time(self, item_id: str, seconds: float) -> ScheduledItem | None:
        """Adds (or, negative, removes) time; returns the changed item."""
        with self._cond:
            item = self._find(item_id)
            if item is None or item.state == "ringing":
                return None
            if item.state == "paused":
                item.remaining_s = max(0.0, item.remaining_s + seconds)
            else:
                item.due_at = max(self._clock(), (item.due_at or 0.0) + seconds)
            item.duration_s = max(0.0, item.duration_s + seconds)
            self._changed()
            return copy.copy(item)

    def cancel(self, item_id: str) -> bool:
        with self._cond:
            item = self._find(item_id)
            if item is None:
                return False
            self._items.remove(item)
            self._repeats.pop(item_id, None)
            self._changed()
            return True

    def acknowledge(self) -> list[ScheduledItem]:
        """Stop everything that is ringing (it is then removed); returns what was."""
        with self._cond:
            ringing = [i for i in self._items if i.state == "ringing"]
            for item in ringing:
                self._items.remove(item)
                self._repeats.pop(item.id, None)
            if ringing:
                self._changed()
            return ringing

    # -- internals --------------------------------------------------------------------

    def _find(self, item_id: str) -> ScheduledItem | None:
        return next((i for i in self._items if i.id == item_id), None)

    def _changed(self) -> None:
        """Save and wake the thread (its next due moment may have moved). Lock held."""
        self.store.save(self._items)
        self._cond.notify_all()
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("the schedule's change listener failed")

    def _next_wake(self, now: float) -> float | None:
        moments = [i.due_at for i in self._items if i.state == "running" and i.due_at is not None]
        moments += [
            (i.rang_at or now) + self.repeat_s * (self._repeats.get(i.id, 0) + 1)
            for i in self._items
            if i.state == "ringing"
        ]
        return min(moments) if moments else None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = self._clock()
                wake = self._next_wake(now)
                if wake is None or wake > now:
                    self._cond.wait(None if wake is None else min(wake - now, 3600.0))
                    continue
                due = self._due(now)
            for announcement in due:
                self._announce(announcement)

    def _due(self, now: float) -> list[Announcement]:
        """Marks what is due as ringing; returns the announcements to make. Lock held."""
        out: list[Announcement] = []
        changed = False
        for item in list(self._items):
            if item.state == "running" and item.due_at is not None and item.due_at <= now:
                item.state, item.rang_at, changed = "ringing", now, True
                self._repeats[item.id] = 0
                out.append(Announcement(copy.copy(item), _text(item), 0, now - item.due_at))
            elif item.state == "ringing":
                repeat = self._repeats.get(item.id, 0) + 1
                if (item.rang_at or now) + self.repeat_s * repeat > now:
                    continue
                if repeat > self.max_repeats:
                    log.info("%s %s was not acknowledged; stopped ringing", item.kind, item.id)
                    self._items.remove(item)
                    self._repeats.pop(item.id, None)
                    changed = True
                    continue
                self._repeats[item.id] = repeat
                late = now - (item.due_at or now)
                out.append(Announcement(copy.copy(item), _text(item), repeat, late))
        if changed:
            self.store.save(self._items)
            self._notify()
        return out

    def _announce(self, announcement: Announcement) -> None:
        log.info("announcing %s: %s", announcement.item.kind, announcement.text)
        if self.on_announce is None:
            return
        try:
            self.on_announce(announcement)
        except Exception:
            log.exception("the announcement handler failed")
