"""The system tray icon: show/hide the window, mute the microphone, quit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

if TYPE_CHECKING:
    from .app import App

__all__ = ["TrayMenu", "app_icon", "make_tray"]


def app_icon(muted: bool = False) -> QIcon:
    """A round icon (drawn: no image files to ship); red while muted."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#c0392b" if muted else "#3a7bd5"))
    painter.setPen(QColor("#ffffff"))
    painter.drawEllipse(4, 4, 56, 56)
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(26, 14, 12, 24, 6, 6)  # a microphone
    painter.drawRect(31, 40, 2, 10)
    painter.end()
    return QIcon(pixmap)


class TrayMenu(QObject):
    """The tray's menu and what its actions do (kept apart from the icon so that it
    works, and can be tested, where the desktop has no tray)."""

    def __init__(self, app: App) -> None:
        super().__init__(app.window)
        self.app = app
        self.menu = QMenu()
        self.show_action = QAction("Show / hide", self.menu)
        self.mute_action = QAction("Mute microphone", self.menu, checkable=True)
        self.quit_action = QAction("Quit", self.menu)
        self.menu.addActions([self.show_action, self.mute_action, self.quit_action])
        self.show_action.triggered.connect(self.toggle_window)
        self.mute_action.toggled.connect(app.controller.set_muted)
        app.controller.muted_changed.connect(self._on_muted)
        self.quit_action.triggered.connect(lambda: QApplication.quit())
        self.icon_changed: Callable[[QIcon], None] | None = None

    def toggle_window(self) -> None:
        window = self.app.window
        if window.isVisible():
            window.hide()
        else:
            window.showNormal()
            window.activateWindow()

    def _on_muted(self, muted: bool) -> None:
        self.mute_action.setChecked(muted)
        if self.icon_changed is not None:
            self.icon_changed(app_icon(muted))


def make_tray(app: App) -> QSystemTrayIcon | None:
    """The tray icon, or ``None`` where the desktop has no tray (then closing the window
    quits)."""
    app.window.setWindowIcon(app_icon())
    if not QSystemTrayIcon.isSystemTrayAvailable():
        app.window.minimise_to_tray = False
        return None
    tray = QSystemTrayIcon(app_icon(), app.window)
    tray.setToolTip("Offline Voice Assistant")
    actions = TrayMenu(app)
    actions.icon_changed = tray.setIcon
    tray.setContextMenu(actions.menu)
    tray._actions = actions  # type: ignore[attr-defined]  # keep it alive with the icon
    tray.activated.connect(
        lambda reason: (
            actions.toggle_window() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
        )
    )
    tray.show()
    return tray
