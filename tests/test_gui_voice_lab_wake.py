"""The voice lab's wake-word page: a custom phrase trained in a child process (``assistant
train wakeword``, the tiny budget) with its progress shown, registered in the model store
and made the assistant's wake word; bad input refused with the reason."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from gui_setup import GuiApps, load_engines
from PySide6.QtCore import Qt

from assistant.audio import read_audio
from assistant.audio.playback import Player
from assistant.config import Config, load_config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource, State
from assistant.store import ModelStore
from gui.app import App
from gui.voice_lab_wake import WakeLab, parse_progress, word_id

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines(Config())


@pytest.fixture
def app(gui_apps: GuiApps, tmp_path: Path, engines: Engines) -> App:
    return gui_apps.build(
        Config(),
        source=lambda config: ScriptedSource([]),
        player=lambda rate, config: Player(rate, simulated=True),
        load_engines=lambda config, store: engines,
        history_path=tmp_path / "history.sqlite3",
        knowledge_path=tmp_path / "no-knowledge.sqlite3",
    )


def _lab(qtbot, app: App, tmp_path: Path) -> WakeLab:
    lab = WakeLab(app.controller, app.window, folder=tmp_path / "wake-lab")
    qtbot.addWidget(lab)
    return lab


def test_progress_lines_and_word_ids():
    assert parse_progress("[clips] 50/100 (50%), 12 s, ETA 12 s") == (
        42, "making clips: 50/100, about 12 s left")  # fmt: skip
    assert parse_progress("[train] 400/400 (100%), 3 s, ETA 0 s")[0] == 100
    assert parse_progress("training wake word 'hey computer' as hey_computer") is None
    assert word_id("  Hey   Computer!") == "hey_computer"


def test_bad_input_is_refused_with_the_reason(qtbot, app, tmp_path, speak):
    lab = _lab(qtbot, app, tmp_path)
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    assert lab.state == "idle" and "Type the wake phrase" in lab.status.text()

    lab.phrase.setText("hey computer")
    for _ in range(2):
        lab.save_take(read_audio(speak("hey computer"), rate=None))
    assert "record at least 3" in lab.takes_label.text()
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    assert lab.state == "idle" and "at least 3" in lab.status.text()
    qtbot.mouseClick(lab.clear_button, Qt.MouseButton.LeftButton)
    assert not lab.take_files()

    # The trainer's own check: a phrase the phonemizer cannot speak, one line of why.
    lab.phrase.setText("hey ключ")
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lab.state == "failed", timeout=60_000)
    assert "cannot be spoken" in lab.status.text(), lab.status.text()
    assert not lab.use_button.isEnabled()
    assert not load_config(app.controller.services.config_path).wake.enabled


@pytest.mark.slow
def test_a_phrase_is_trained_registered_and_used_as_the_wake_word(qtbot, app, tmp_path, speak):
    qtbot.waitUntil(lambda: app.controller.conversation is not None, timeout=60_000)
    lab = _lab(qtbot, app, tmp_path)
    lab.phrase.setText("Hey Computer")
    lab.preset.setCurrentText("tiny")
    for lead in (0.1, 0.3, 0.5):  # own takes (here spoken by the test's Piper voice)
        lab.save_take(read_audio(speak("hey computer", lead_silence=lead), rate=None))
    assert "3 takes" in lab.takes_label.text()
    shown: list[int] = []
    lab.progress.valueChanged.connect(shown.append)
    qtbot.mouseClick(lab.train_button, Qt.MouseButton.LeftButton)
    assert lab.state == "training" and not lab.train_button.isEnabled()
    qtbot.waitUntil(lambda: lab.state in ("trained", "failed"), timeout=600_000)
    assert lab.state == "trained", lab.output
    assert lab.trained == "hey_computer"
    assert any(0 < v < 100 for v in shown) and lab.progress.value() == 100
    assert "3 own takes" in lab.output  # the takes went into the training
    config_path = app.controller.services.config_path
    model = ModelStore.from_config(load_config(config_path).models).get("hey_computer")
    assert model.kind == "wake"

    qtbot.mouseClick(lab.use_button, Qt.MouseButton.LeftButton)
    window = app.window
    qtbot.waitUntil(lambda: window.state == State.ASLEEP, timeout=60_000)
    assert window.wake.isChecked() and window.hands_free.isChecked()
    assert "hey computer" in window.state_label.text()
    saved = load_config(config_path).wake
    assert saved.enabled and saved.words == ["hey_computer"]
