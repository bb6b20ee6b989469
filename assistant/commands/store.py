"""Timers, alarms and reminders on disk: one JSON file in the data folder, written
atomically on every change, so they survive a restart. A damaged file is moved aside
with a warning and a fresh one started; nothing is silently lost."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import data_dir
from ..fsutil import atomic_write_text

__all__ = ["ScheduleStore", "ScheduledItem", "default_schedule_path"]

log = logging.getLogger(__name__)

_VERSION = 1


def default_schedule_path() -> Path:
    """``schedule.json`` in the platform's data folder."""
    return data_dir() / "schedule.json"


@dataclass
class ScheduledItem:
    """A timer, an alarm or a reminder."""

    id: str
    kind: str
    """``timer``, ``alarm`` or ``reminder``."""
    name: str = ""
    """A timer's name ("pasta"); a reminder's task ("call Anna"); may be empty."""
    due_at: float | None = None
    """When it rings (Unix time); ``None`` while a timer is paused."""
    duration_s: float = 0.0
    """A timer's length as set (with time added), for "the 10 minute timer"."""
    remaining_s: float = 0.0
    """A paused timer's time left."""
    state: str = "running"
    """``running``, ``paused`` or ``ringing`` (rang, not yet acknowledged)."""
    created_at: float = dataclasses.field(default_factory=time.time)
    rang_at: float | None = None
    """When it started ringing."""

    def left(self, now: float) -> float:
        """Seconds until it rings (0 when ringing)."""
        if self.state == "paused":
            return self.remaining_s
        return max(0.0, (self.due_at or now) - now)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScheduledItem:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in fields})


class ScheduleStore:
    """Loads and saves the list of scheduled items at ``path``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_schedule_path()
        self.moved_aside: Path | None = None
        """Where a damaged file went on :meth:`load`, if it was."""

    def load(self) -> list[ScheduledItem]:
        """The stored items; an empty list when there is no file. A file that cannot be
        read as a schedule is renamed ``schedule.json.damaged-<time>`` and logged."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
                raise ValueError("no list of items")
            return [ScheduledItem.from_dict(item) for item in raw["items"]]
        except (ValueError, TypeError) as exc:
            moved = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            self.path.replace(moved)
            self.moved_aside = moved
            log.warning(
                "the timers and reminders file %s is damaged (%s); moved it to %s and "
                "started an empty one",
                self.path,
                exc,
                moved,
            )
            return []

    def save(self, items: list[ScheduledItem]) -> None:
        data = {"version": _VERSION, "items": [dataclasses.asdict(item) for item in items]}
        atomic_write_text(self.path, json.dumps(data, indent=1))
