"""Set-up shared by the desktop app's tests (tests/test_gui*.py): a config that answers
briefly and the same way every run, the real engines loaded once, and the apps a test
builds (closed when it ends: the ``gui_apps`` fixture in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.config import Config, save_config
from assistant.engines import Engines
from assistant.store import ModelStore
from gui.app import App, Services, build_app


def steady_config(max_tokens: int) -> Config:
    """The default config with greedy replies of at most ``max_tokens`` tokens."""
    config = Config()
    config.llm.temperature = 0.0
    config.llm.max_tokens = max_tokens
    return config


def load_engines(config: Config) -> Engines:
    """The real engines of ``config`` (the embedded models)."""
    return Engines.load(config, ModelStore.from_config(config.models))


def replies(window: Any) -> list:
    """The window's turns that were answered (they have a waterfall)."""
    return [t for t in window.view.turns.values() if t.waterfall is not None]


class GuiApps:
    """Builds a test's apps on one config file, ``config_path`` in its folder (no first
    run), each window given to ``qtbot``; ``close()`` closes them all."""

    def __init__(self, qtbot: Any, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.config_path = tmp_path / "config.toml"
        self.apps: list[App] = []

    def build(self, config: Config | None, **services: Any) -> App:
        """An app on ``config`` (saved first; None keeps the file as it is) with these
        :class:`~gui.app.Services` besides the config path."""
        if config is not None:
            save_config(config, self.config_path)
        app = build_app(Services(config_path=self.config_path, first_run=False, **services))
        self.qtbot.addWidget(app.window)
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            app.close()
