"""The timers, alarms and reminders, each with a live countdown and a cancel button.

Fed by the controller's ``schedule_changed`` signal (the pipeline's
:class:`~assistant.commands.ScheduleChanged` events through the bridge); the cancel
button goes back through the controller. The countdown is recomputed twice a second
from each item's due moment, so it never drifts from the scheduler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["SchedulePanel", "describe_item"]

_TICK_MS = 500


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_item(item: Any, now: float) -> str:
    """One line for an item: what it is and how long is left (or when it is due)."""
    name = f" {item.name}" if item.name else ""
    if item.kind == "timer":
        what = f"Timer{name}"
        if item.state == "ringing":
            return f"{what}: ringing (say “stop”)"
        if item.state == "paused":
            return f"{what}: paused, {_clock(item.remaining_s)} left"
        return f"{what}: {_clock((item.due_at or now) - now)}"
    label = "Alarm" if item.kind == "alarm" else f"Reminder:{name}"
    if item.state == "ringing":
        return f"{label}: now (say “stop”)"
    due = datetime.fromtimestamp(item.due_at or now)
    when = (
        due.strftime("%H:%M")
        if due.date() == datetime.now().date()
        else due.strftime("%a %d %b %H:%M")
    )
    return f"{label} at {when} (in {_clock((item.due_at or now) - now)})"


class SchedulePanel(QGroupBox):
    """The list; hidden while there is nothing scheduled.

    Args:
        cancel: called with an item's id when its cancel button is pressed.
    """

    def __init__(self, cancel: Callable[[str], object], parent: QWidget | None = None) -> None:
        super().__init__("Timers and reminders", parent)
        self._cancel = cancel
        self._items: list[Any] = []
        self._rows: list[tuple[Any, QLabel, QPushButton]] = []
        self._widgets: list[QWidget] = []
        self._layout = QVBoxLayout(self)
        self._timer = QTimer(self)
        self._timer.setInterval(_TICK_MS)
        self._timer.timeout.connect(self.tick)
        self.hide()

    def show_items(self, items: Sequence[Any]) -> None:
        """Replace the list (a ``ScheduleChanged`` event's items)."""
        for row in self._widgets:
            row.deleteLater()
        self._rows, self._widgets = [], []
        for item in items:
            row = QWidget(self)
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            label = QLabel(row)
            button = QPushButton("Cancel", row)
            button.setToolTip(f"Cancel this {item.kind}")
            button.clicked.connect(lambda _=False, i=item.id: self._cancel(i))
            line.addWidget(label, 1)
            line.addWidget(button)
            self._layout.addWidget(row)
            self._rows.append((item, label, button))
            self._widgets.append(row)
        self.setVisible(bool(self._rows))
        if self._rows:
            self._timer.start()
        else:
            self._timer.stop()
        self.tick()

    def texts(self) -> list[str]:
        """The lines shown (for tests)."""
        return [label.text() for _, label, _ in self._rows]

    def cancel_buttons(self) -> list[QPushButton]:
        return [button for _, _, button in self._rows]

    def tick(self) -> None:
        now = time.time()
        for item, label, _ in self._rows:
            label.setText(describe_item(item, now))
