"""Starting the desktop app: the window first, the models behind a progress indicator."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .controller import Controller, Services
from .main_window import MainWindow

__all__ = ["App", "Services", "build_app", "run"]

log = logging.getLogger(__name__)


@dataclass
class App:
    """The app's parts, as tests and the screenshot script drive them."""

    controller: Controller
    window: MainWindow
    tray: object | None = None
    server: object | None = None
    """The settings' "serve the models" child process (gui.server_process)."""
    voice_lab: Any = None
    """The voice lab once opened (kept: it may train in the background)."""

    def open_settings(self):  # -> SettingsDialog
        from .settings import SettingsDialog

        dialog = SettingsDialog(self.controller, self.window)
        dialog.show()
        return dialog

    def open_models(self):  # -> ModelManager
        from .model_manager import ModelManager

        dialog = ModelManager(self.controller, self.window)
        dialog.show()
        return dialog

    def open_voice_lab(self):  # -> VoiceLab
        """Show the voice lab: one per app, so a training kept running in the background
        is shown again when the lab is reopened."""
        from .voice_lab import VoiceLab

        if self.voice_lab is None:
            self.voice_lab = VoiceLab(self.controller, self.window)
        self.voice_lab.show()
        self.voice_lab.raise_()
        return self.voice_lab

    def open_knowledge(self):  # -> KnowledgePage
        from assistant.store import ModelStore

        from .knowledge import KnowledgePage

        store = self.controller.store or ModelStore.from_config(self.controller.config.models)
        dialog = KnowledgePage(store, parent=self.window)
        dialog.show()
        return dialog

    def close(self) -> None:
        """Quit: stop the pipeline and release the devices."""
        self.window.quitting = True
        if self.voice_lab is not None:
            self.voice_lab.shutdown()
        self.window.close()
        if self.tray is not None:
            self.tray.hide()  # type: ignore[attr-defined]
        if self.server is not None:
            self.server.stop()  # type: ignore[attr-defined]
        self.controller.shutdown()


def build_app(services: Services | None = None) -> App:
    """Make the controller and the window, show the window, start loading (a
    QApplication must exist)."""
    controller = Controller(services)
    window = MainWindow(controller)
    app = App(controller, window)
    window.settings_requested.connect(app.open_settings)
    window.models_requested.connect(app.open_models)
    window.voice_lab_requested.connect(app.open_voice_lab)
    window.knowledge_requested.connect(app.open_knowledge)
    window.minimise_to_tray = controller.config.gui.close_to_tray
    from .tray import make_tray

    app.tray = make_tray(app)
    from .server_process import ServerProcess

    path = controller.services.config_path
    server = ServerProcess(str(path) if path else None)
    app.server = server
    controller.config_changed.connect(server.apply)
    if controller.config.serve.enabled:
        QTimer.singleShot(0, lambda: server.apply(controller.config))
    window.show()
    # Loading starts once the window has been painted, so it appears at once.
    QTimer.singleShot(0, controller.start)
    if controller.services.first_run:
        from .first_run import check_first_run

        QTimer.singleShot(50, lambda: check_first_run(app))
    return app


def run(services: Services | None = None) -> int:
    """The ``assistant gui`` command: run the app until the user quits."""
    started = time.perf_counter()
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt, QApplication)
    qt.setApplicationName("Offline Voice Assistant")
    qt.setQuitOnLastWindowClosed(False)
    app = build_app(services)
    QTimer.singleShot(
        0, lambda: log.info("window visible %.2f s after launch", time.perf_counter() - started)
    )
    if app.tray is None:
        qt.setQuitOnLastWindowClosed(True)
    qt.aboutToQuit.connect(app.close)
    return int(qt.exec())
