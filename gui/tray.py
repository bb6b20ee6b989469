"""The system tray icon: show/hide the window, mute the microphone, quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

if TYPE_CHECKING:
    from .app import App

__all__ = ["app_icon", "make_tray"]


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


def make_tray(app: App) -> QSystemTrayIcon | None:
    """The tray icon, or ``None`` where the desktop has no tray (then closing the window
    quits)."""
    app.window.setWindowIcon(app_icon())
    if not QSystemTrayIcon.isSystemTrayAvailable():
        app.window.minimise_to_tray = False
        return None
    tray = QSystemTrayIcon(app_icon(), app.window)
    tray.setToolTip("Offline Voice Assistant")
    menu = QMenu()
    show = QAction("Show / hide", menu)
    mute = QAction("Mute microphone", menu, checkable=True)
    quit_ = QAction("Quit", menu)
    menu.addActions([show, mute, quit_])
    tray.setContextMenu(menu)
    tray._menu = menu  # type: ignore[attr-defined]  # keep it alive with the icon

    def toggle() -> None:
        if app.window.isVisible():
            app.window.hide()
        else:
            app.window.showNormal()
            app.window.activateWindow()

    def on_muted(muted: bool) -> None:
        mute.setChecked(muted)
        tray.setIcon(app_icon(muted))

    show.triggered.connect(toggle)
    mute.toggled.connect(app.controller.set_muted)
    app.controller.muted_changed.connect(on_muted)
    quit_.triggered.connect(QApplication.quit)
    tray.activated.connect(
        lambda reason: toggle() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
    )
    tray.show()
    return tray
