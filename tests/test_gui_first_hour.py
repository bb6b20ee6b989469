"""The desktop app in a new user's first hour, on real PulseAudio virtual devices and real
input: no speakers (typing works, the banner says how to fix sound, speakers plugged in
later are used), no microphone (the mic controls say why they are off, and come back),
the state label and the waterfall of a typed question, and the microphone having one
owner while the voice lab records. Run under ``flock /tmp/pulse.lock``."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import stat
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from gui_setup import GuiApps, load_engines, steady_config
from gui_setup import replies as _replies
from PySide6.QtCore import Qt
from test_playback import speakers_recorded

from assistant.audio import read_audio
from assistant.audio.playback import RETRY_SECONDS
from assistant.config import Config, save_config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource, State
from gui.app import App, Services
from gui.waterfall import TYPED_FIRST_STEP

pytestmark = pytest.mark.timeout(600)


def _config() -> Config:
    return steady_config(max_tokens=24)


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines(_config())


@pytest.fixture
def make_app(gui_apps: GuiApps, tmp_path: Path, engines: Engines):
    """``make_app(config, source=None) -> App`` with the real player and, unless a
    source is given, the real microphone."""

    def _make(config: Config | None = None, source=None) -> App:
        return gui_apps.build(
            config or _config(),
            source=source,
            load_engines=lambda config, store: engines,
            history_path=tmp_path / "history.sqlite3",
        )

    return _make


def _load(*args: str) -> str:
    out = subprocess.run(["pactl", "load-module", *args], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return out.stdout.strip()


def _type(qtbot, window, text: str) -> None:
    window.text.setFocus()
    qtbot.keyClicks(window.text, text)
    qtbot.keyClick(window.text, Qt.Key.Key_Return)


def test_without_speakers_typing_works_and_speakers_plugged_in_later_are_used(
    qtbot, make_app, private_audio, monkeypatch, tmp_path
):
    # The default output is a sink that does not exist (yet): no speakers at all.
    speakers = f"later_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PULSE_SINK", speakers)
    app = make_app(source=lambda config: ScriptedSource([]))
    window = app.window
    qtbot.waitUntil(lambda: app.controller.conversation is not None, timeout=60_000)
    qtbot.waitUntil(lambda: "No sound output" in window.banner.message(), timeout=10_000)
    assert window.banner.isVisible() and window.banner.action.text() == "Open sound settings"
    assert window.text.isEnabled() and window.send.isEnabled()
    assert "Starting" not in window.state_label.text()

    # The banner's button opens the desktop's sound settings program.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened"
    program = bin_dir / "pavucontrol"
    program.write_text(f"#!/bin/sh\ntouch {opened}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(opened.exists, timeout=10_000)

    # A typed question is answered in text; its waterfall has no speech steps.
    _type(qtbot, window, "What is the capital of France?")
    qtbot.waitUntil(lambda: len(_replies(window)) == 1, timeout=60_000)
    turn = _replies(window)[0]
    assert turn.reply is not None and turn.reply.text().strip()
    labels = [label for label, _, _ in turn.waterfall.segments()]
    assert labels and labels[0] == TYPED_FIRST_STEP, labels
    assert "speech end" not in turn.waterfall.toolTip()
    assert "voice to voice" not in turn.waterfall.toolTip()

    # Speakers are plugged in: the next reply is heard on them, no restart.
    module = _load("module-null-sink", f"sink_name={speakers}")
    try:
        time.sleep(RETRY_SECONDS + 0.2)
        with speakers_recorded(speakers, tmp_path / "heard.wav"):
            _type(qtbot, window, "What is the capital of Italy?")
            qtbot.waitUntil(lambda: len(_replies(window)) == 2, timeout=60_000)
            qtbot.waitUntil(lambda: window.state != State.SPEAKING, timeout=30_000)
    finally:
        subprocess.run(["pactl", "unload-module", module], check=False)
    heard = read_audio(tmp_path / "heard.wav").samples
    assert len(heard) and float(np.abs(heard).max()) > 0.05, "the reply was not played"
    assert not window.banner.isVisible()
    assert window.progress_label.text() == "Sound output is back"


def test_without_a_microphone_the_mic_controls_say_why_until_one_appears(
    qtbot, make_app, private_audio
):
    _, feed = private_audio
    mic = f"webcam_mic_{uuid.uuid4().hex[:8]}"
    config = _config()
    config.audio.input_device = mic  # chosen by name, not plugged in
    app = make_app(config)
    window = app.window
    qtbot.waitUntil(lambda: window.mic_problem != "", timeout=60_000)
    assert not window.talk.isEnabled() and not window.hands_free.isEnabled()
    assert "No microphone" in window.talk.toolTip() and "not connected" in window.talk.toolTip()
    assert "Typing works" in window.hands_free.toolTip()
    assert window.text.isEnabled() and window.send.isEnabled()

    module = _load("module-remap-source", f"source_name={mic}", f"master={feed}.monitor")
    try:
        qtbot.waitUntil(lambda: window.talk.isEnabled(), timeout=15_000)
        assert window.hands_free.isEnabled() and window.mic_problem == ""
    finally:
        app.controller.shutdown()
        subprocess.run(["pactl", "unload-module", module], check=False)


def test_the_state_says_listening_only_when_hands_free_is_on(qtbot, make_app):
    app = make_app(source=lambda config: ScriptedSource([]))
    window = app.window
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=60_000)
    assert "Listening" not in window.state_label.text()
    assert "hold to talk" in window.state_label.text()
    qtbot.mouseClick(window.hands_free, Qt.MouseButton.LeftButton)
    assert window.hands_free.isChecked()
    assert "Listening" in window.state_label.text()


@pytest.mark.slow
def test_recording_in_the_voice_lab_pauses_hands_free_listening(
    qtbot, make_app, private_audio, speak, tmp_path
):
    from gui.voice_lab import VoiceLab, load_prompts

    _, feed = private_audio
    app = make_app()  # the real microphone: this test's private one
    window = app.window
    qtbot.waitUntil(lambda: app.controller.conversation is not None, timeout=60_000)
    qtbot.mouseClick(window.hands_free, Qt.MouseButton.LeftButton)
    prompts = load_prompts()
    lab = VoiceLab(app.controller, window, folder=tmp_path / "lab", prompts=prompts)
    qtbot.addWidget(lab)
    lab.go(4)
    qtbot.mouseClick(lab.record_button, Qt.MouseButton.LeftButton)
    qtbot.wait(500)
    subprocess.run(["paplay", f"--device={feed}", str(speak(prompts[4]))], check=True)
    qtbot.wait(1500)  # time enough for a pause to end an utterance
    qtbot.mouseClick(lab.record_button, Qt.MouseButton.LeftButton)
    take = tmp_path / "lab" / "recordings" / "prompt-005.wav"
    qtbot.waitUntil(take.exists, timeout=10_000)
    assert not window.view.turns, "the prompt being recorded was taken as a question"

    # The microphone is given back: hands-free answers again.
    subprocess.run(["paplay", f"--device={feed}", str(speak("What is the capital of France?"))],
                   check=True)  # fmt: skip
    qtbot.waitUntil(lambda: len(_replies(window)) == 1, timeout=60_000)
    (turn,) = _replies(window)
    # The question itself was heard (whisper-tiny hears its last word as "friends" about
    # half the time through this test's devices, on 3adaf4c as since: word accuracy is
    # checked elsewhere, this test is about the microphone coming back).
    assert "what is the capital of" in turn.user.text().lower()


def test_settings_choose_a_headset_by_its_description_and_remember_it(qtbot, tmp_path,
                                                                     private_audio):  # fmt: skip
    from test_audio_by_name import Headset

    from assistant.config import load_config
    from gui.controller import Controller
    from gui.settings import SettingsDialog

    headset = Headset()
    headset.plug()
    try:
        path = tmp_path / "config.toml"
        save_config(Config(), path)
        controller = Controller(Services(config_path=path, first_run=False))
        dialog = SettingsDialog(controller)
        qtbot.addWidget(dialog)
        combo = dialog.output_device
        qtbot.waitUntil(lambda: combo.findText(headset.description) >= 0, timeout=10_000)
        combo.setCurrentIndex(combo.findText(headset.description))
        assert dialog.to_config().audio.output_device == headset.name
        controller.config = dialog.to_config()
        save_config(controller.config, path)
        assert load_config(path).audio.output_device == headset.name

        again = SettingsDialog(controller)  # reopened: the headset is shown as chosen
        qtbot.addWidget(again)
        qtbot.waitUntil(lambda: again.output_device.currentText() == headset.description,
                        timeout=10_000)  # fmt: skip
    finally:
        headset.unplug()
