"""The self-test's window step: open the main window on already loaded engines, wait until
the conversation is ready, close it. No microphone, no speakers: a silent source and a
simulated speaker stand in for them."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from assistant.config import Config, save_config
from assistant.errors import AssistantError

from .app import Services, build_app

__all__ = ["open_and_close"]

_BLOCK = 480  # 30 ms at 16 kHz


class _Silence:
    """A microphone in a quiet room, delivering blocks at real-time pace."""

    def __init__(self) -> None:
        self._closed = False

    def blocks(self) -> Iterator[np.ndarray]:
        while not self._closed:
            time.sleep(_BLOCK / 16000)
            yield np.zeros(_BLOCK, np.float32)

    def close(self) -> None:
        self._closed = True


def open_and_close(engines: object, config: Config, home: Path, timeout: float = 60.0) -> str:
    """Show the main window with ``engines``, wait for the conversation to start, close.

    Raises:
        AssistantError: the window did not get ready in ``timeout`` seconds, or loading
            reported an error.
    """
    from assistant.audio.playback import Player

    config_path = home / "selftest-config.toml"
    save_config(config, config_path)
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt, QApplication)
    services = Services(
        config_path=config_path,
        source=lambda _config: _Silence(),
        player=lambda rate, _config: Player(rate, simulated=True),
        load_engines=lambda _config, _store: engines,  # type: ignore[arg-type,return-value]
        history_path=home / "history.sqlite3",
        first_run=False,
    )
    app = build_app(services)
    outcome: dict[str, object] = {}
    loop = QEventLoop()

    def done(what: str, value: object = None) -> None:
        outcome.setdefault(what, value)
        loop.quit()

    app.controller.ready.connect(lambda: done("ready"))
    app.controller.failed.connect(lambda error: done("failed", error))
    QTimer.singleShot(int(timeout * 1000), lambda: done("timeout"))
    if app.controller.conversation is None:
        loop.exec()
    try:
        if "failed" in outcome:
            message = getattr(outcome["failed"], "message", outcome["failed"])
            raise AssistantError(f"the window reported an error: {message}")
        if "ready" not in outcome:
            raise AssistantError(f"the window's conversation was not ready in {timeout:.0f} s")
        size = app.window.size()
        visible = app.window.isVisible()
        if not visible:
            raise AssistantError("the main window did not show")
        detail = (f"main window {size.width()}x{size.height()} shown on Qt's "
                  f"{qt.platformName()} platform, conversation ready, closed")  # fmt: skip
    finally:
        app.close()
        # Destroyed through Qt's event loop, before the interpreter's exit tears down the
        # Python wrappers in no particular order.
        app.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        qt.processEvents()
    return detail
