"""``assistant gui --bench-visible`` (for ``assistant bench gui``): print
``BENCH-VISIBLE <wall clock> <seconds since start>`` once the main window is first exposed
and painted, then exit at once.

Only the hidden option imports this; the app itself holds no benchmark code.
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QApplication

from .bench import VISIBLE_MARK

__all__ = ["report_when_visible"]

_keep: list[QObject] = []


class _ExposeWatch(QObject):
    """Notices the first expose event of a window of the application."""

    def __init__(self, qt: QApplication, started: float) -> None:
        super().__init__()
        self.qt = qt
        self.started = started

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Expose
            and isinstance(watched, QWindow)
            and watched.isExposed()
        ):
            self.qt.removeEventFilter(self)
            # The expose event's paint runs next; report once it has.
            QTimer.singleShot(0, self.report)
        return False

    def report(self) -> None:
        print(f"{VISIBLE_MARK} {time.time():.6f} {time.perf_counter() - self.started:.6f}")
        sys.stdout.flush()
        # Exit at once: the engines are still loading in a worker thread.
        os._exit(0)


def report_when_visible(started: float) -> None:
    """Watch for the first window's expose (making the QApplication ``gui.app.run`` will
    reuse, if there is none yet); ``started`` is the ``time.perf_counter()`` the printed
    seconds count from."""
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt, QApplication)
    watch = _ExposeWatch(qt, started)
    qt.installEventFilter(watch)
    _keep.append(watch)
