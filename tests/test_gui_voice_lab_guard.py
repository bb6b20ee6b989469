"""The voice lab's guardrails with real clicks: Train refused with too few recordings
(saying how much more to record), Listen and Export off before anything is trained, a
run of hours asked about first, a Stop button, and closing the lab while it trains asks
whether to stop or keep training (kept: shown again when the lab is reopened)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from gui_setup import GuiApps
from PySide6.QtCore import QProcess, Qt
from PySide6.QtWidgets import QMessageBox

from assistant.audio import read_audio
from assistant.config import Config
from assistant.errors import AssistantError
from assistant.pipeline import ScriptedSource
from gui.app import App
from gui.voice_lab import load_prompts

pytestmark = pytest.mark.timeout(900)


def _no_engines(config, store):
    raise AssistantError("no engines in this test")


@pytest.fixture
def app(gui_apps: GuiApps, tmp_path: Path) -> App:
    return gui_apps.build(
        Config(),
        source=lambda config: ScriptedSource([]),
        load_engines=_no_engines,
        history_path=tmp_path / "history.sqlite3",
    )


def _lab(app: App, qtbot, folder: Path):
    from gui.voice_lab import VoiceLab

    app.voice_lab = VoiceLab(app.controller, app.window, folder=folder, prompts=load_prompts())
    qtbot.addWidget(app.voice_lab)
    return app.open_voice_lab()


def _click(qtbot, box: QMessageBox, label: str) -> None:
    (button,) = [b for b in box.buttons() if b.text() == label]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_train_with_one_recording_is_refused_and_says_how_much_more(app, qtbot, tmp_path,
                                                                   speak):  # fmt: skip
    lab = _lab(app, qtbot, tmp_path / "lab")
    assert not lab.listen_button.isEnabled() and not lab.export_button.isEnabled()
    assert lab.listen_button.toolTip() == "Train a voice first"
    assert not lab.stop_button.isEnabled()
    lab.save_take(0, read_audio(speak(lab.prompts[0]), rate=None))
    assert lab.preset.currentText() == "standard"
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    # The lab asks training's own check (a subprocess: gui never imports training).
    qtbot.waitUntil(lambda: lab.state != "training", timeout=60_000)
    assert "Your recordings hold 0.0 minutes" in lab.status.text() or \
        "Your recordings hold 0.1 minutes" in lab.status.text(), lab.status.text()  # fmt: skip
    assert "record about" in lab.status.text() and "more prompts" in lab.status.text()
    assert lab.train_button.isEnabled()
    # The empty plot says what it will show.
    assert lab.loss.EMPTY_TEXT and not lab.loss.points
    image = lab.loss.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 3)
               for y in range(0, image.height(), 3)}  # fmt: skip
    assert len(colours) > 1, "the plot is a plain black box"


@pytest.mark.slow
def test_a_long_training_is_asked_about_stopped_and_kept_in_the_background(
    app, qtbot, tmp_path, speak
):
    lab = _lab(app, qtbot, tmp_path / "lab")
    for i in range(8):
        lab.save_take(i, read_audio(speak(lab.prompts[i]), rate=None))
    # The lab starts from the voice in use; the tiny preset from scratch keeps steps short.
    lab.base.setCurrentIndex(lab.base.findData(""))
    lab.preset.setCurrentText("tiny")
    lab.steps.setValue(1_000_000)
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    assert lab.state == "training" and lab.stop_button.isEnabled()
    assert not lab.train_button.isEnabled()  # one training at a time

    # After a few timed steps: it would take days, so the lab asks first.
    qtbot.waitUntil(lambda: lab.question is not None, timeout=600_000)
    assert "would take about" in lab.question.text(), lab.status.text()
    _click(qtbot, lab.question, "Train anyway")
    assert lab.state == "training"
    qtbot.waitUntil(lambda: "step " in lab.eta.text(), timeout=300_000)

    # Closing asks; "Keep training" hides the lab and the training goes on.
    lab.close()
    assert lab.question is not None and "Stop the training" in lab.question.text()
    _click(qtbot, lab.question, "Keep training")
    qtbot.waitUntil(lambda: not lab.isVisible(), timeout=5_000)
    process = lab._process
    assert process is not None and process.state() != QProcess.ProcessState.NotRunning

    # Reopened: the same lab, still training, with its Stop button.
    again = app.open_voice_lab()
    assert again is lab and lab.isVisible() and lab.state == "training"
    qtbot.mouseClick(lab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lab.state == "stopped", timeout=30_000)
    assert process.state() == QProcess.ProcessState.NotRunning
    assert lab.train_button.isEnabled() and not lab.stop_button.isEnabled()
