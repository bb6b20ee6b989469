"""The model manager shows the store's own messages for a broken model: an import refused
(the file and what is wrong, as `assistant models import` says it) and a file damaged
after import (as `assistant models verify` says it)."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import pytest
from model_files import shorten_in_place, tiny_gguf, truncated
from PySide6.QtCore import Qt
from test_store import store_entries

from assistant.cli import main
from assistant.config import Config, save_config
from gui.controller import Controller, Services
from gui.model_manager import ModelManager


@pytest.fixture
def manager(qtbot, tmp_path: Path) -> ModelManager:
    """The model manager of an app whose pipeline is not started, on this test's store."""
    config = Config()
    config.models.dir = os.environ["ASSISTANT_MODELS_DIR"]
    save_config(config, tmp_path / "config.toml")
    controller = Controller(Services(config_path=tmp_path / "config.toml", first_run=False))
    dialog = ModelManager(controller)
    qtbot.addWidget(dialog)
    return dialog


def test_an_import_refused_shows_the_cli_s_message_and_changes_nothing(
    qtbot, manager: ModelManager, tmp_path: Path, gguf_path: Path, capsys
) -> None:
    broken = truncated(gguf_path, tmp_path / "truncated.gguf", 3_000_000)
    assert main(["models", "import", str(broken), "--kind", "llm"]) == 1
    said = capsys.readouterr().err.splitlines()
    message, hint = said[0].removeprefix("error: "), said[1].removeprefix("hint: ")
    before = manager.installed_ids()

    manager.import_path(broken)  # the kind is guessed from .gguf
    qtbot.waitUntil(lambda: "Importing" not in manager.status.text(), timeout=20_000)
    shown = manager.status.text()
    assert escape(message) in shown and escape(hint) in shown
    assert str(broken) in message
    assert manager.installed_ids() == before
    assert store_entries(manager.store.root) == []


def test_verify_shows_a_file_damaged_after_import(
    qtbot, manager: ModelManager, tmp_path: Path
) -> None:
    model = manager.store.import_path(tiny_gguf(tmp_path / "small.gguf", rows=256), "llm")
    manager.refresh()
    shorten_in_place(model.path, 1000)
    problems = manager.store.verify(model.id).problems  # what the CLI prints, one per line
    assert any("truncated" in p for p in problems)

    manager.table.selectRow(manager.installed_ids().index(model.id))
    qtbot.mouseClick(manager.verify, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "FAILED" in manager.status.text(), timeout=20_000)
    shown = manager.status.text()
    assert f"{model.id}: FAILED" in shown
    for problem in problems:
        assert escape(problem) in shown
    row = manager.installed_ids().index(model.id)
    assert manager.table.item(row, 4).text() == "failed"
