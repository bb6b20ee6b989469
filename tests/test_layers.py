"""The import contract (scripts/check_layers.py, also run by `make lint`) and the plug-in
seams that keep it: the runtime never imports gui/ or training/, they plug in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from assistant import plugins
from assistant.cli import build_parser

spec = importlib.util.spec_from_file_location("check_layers", REPO / "scripts" / "check_layers.py")
assert spec is not None and spec.loader is not None
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def test_the_runtime_imports_neither_the_gui_nor_training():
    assert check_layers.breaches() == []
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "check_layers.py")],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr


def test_a_lazy_or_dynamic_import_of_the_gui_is_caught(tmp_path: Path):
    for package in ("assistant", "gui"):
        (tmp_path / package).mkdir()
    (tmp_path / "assistant" / "ok.py").write_text("import numpy\nfrom . import x\n")
    (tmp_path / "assistant" / "bad.py").write_text(
        "import importlib\n"
        "def f():\n"
        "    from gui.app import run\n"
        "    return importlib.import_module('training.llm')\n"
    )
    (tmp_path / "gui" / "bad.py").write_text("import training.voice\n")
    found = check_layers.breaches(tmp_path)
    assert found == [
        "assistant/bad.py:3: assistant imports gui.app",
        "assistant/bad.py:4: assistant imports training.llm",
        "gui/bad.py:1: gui imports training.voice",
    ]


def test_gui_and_training_plug_their_commands_in():
    names = {e.name for e in plugins.entries("assistant.commands")}
    assert {"gui", "train"} <= names
    app = plugins.app()
    assert app is not None and app.available()
    parser = build_parser()
    for argv, module in ((["bench", "gui"], "gui.cli"), (["gui"], "gui.cli"),
                         (["train"], "training.cli")):  # fmt: skip
        assert parser.parse_args(argv).func.__module__ == module


def test_a_missing_plug_in_still_answers_with_how_to_get_it(monkeypatch, capsys):
    from assistant import cli

    real = plugins.load
    monkeypatch.setattr(plugins, "load", lambda group: [] if group != "x" else real(group))
    assert cli.main(["train"]) == 1
    err = capsys.readouterr().err
    assert "`assistant train` is not part of this installation" in err
    assert "pip install -e '.[train]'" in err
