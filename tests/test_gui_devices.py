"""The settings' device test buttons on real PortAudio devices (PulseAudio virtual ones):
the speaker test is heard on the speakers, the microphone test plays back what the
microphone heard."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_playback import speakers_recorded

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.config import Config, TtsConfig, save_config
from assistant.text import word_error_rate
from assistant.tts import load_voice
from gui.controller import Controller, Services
from gui.device_tests import SAMPLE_SENTENCE
from gui.settings import SettingsDialog


@pytest.fixture
def dialog(qtbot, tmp_path: Path, private_audio, piper_onnx: Path):
    """The settings dialog of a controller whose voice is loaded (no pipeline running);
    the system default devices are this test's private speaker and microphone."""
    save_config(Config(), tmp_path / "config.toml")
    controller = Controller(Services(config_path=tmp_path / "config.toml", first_run=False))
    controller.engines = type("Loaded", (), {"voice": load_voice(piper_onnx, TtsConfig())})()
    settings = SettingsDialog(controller)
    qtbot.addWidget(settings)
    return settings


def _wait_done(qtbot, dialog: SettingsDialog) -> None:
    qtbot.waitUntil(
        lambda: dialog.test_input.isEnabled() and dialog.test_output.isEnabled(), timeout=30_000
    )


def test_the_speaker_test_says_the_sample_sentence(qtbot, dialog, private_audio, tmp_path,
                                                   whisper_dir):  # fmt: skip
    speaker, _ = private_audio
    with speakers_recorded(speaker, tmp_path / "speakers.wav"):
        qtbot.mouseClick(dialog.test_output, Qt.MouseButton.LeftButton)
        assert not dialog.test_output.isEnabled()  # running in the background
        _wait_done(qtbot, dialog)
    assert dialog.status.text() == "Played the sample sentence."
    heard = WhisperTranscriber(whisper_dir, device="cpu").transcribe(
        read_audio(tmp_path / "speakers.wav")
    )
    assert word_error_rate(SAMPLE_SENTENCE, heard.text) <= 0.3, heard.text


def test_the_microphone_test_plays_back_what_it_heard(qtbot, dialog, private_audio, tmp_path,
                                                      speak, whisper_dir):  # fmt: skip
    speaker, feed = private_audio
    question = speak("Testing my microphone.")  # ~1.3 s of the 3 s recorded
    with speakers_recorded(speaker, tmp_path / "speakers.wav"):
        qtbot.mouseClick(dialog.test_input, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "speak now" in dialog.status.text(), timeout=10_000)
        subprocess.run(["paplay", f"--device={feed}", str(question)], check=True)
        _wait_done(qtbot, dialog)
    assert "Played back what the microphone heard" in dialog.status.text()
    played = read_audio(tmp_path / "speakers.wav")
    heard = WhisperTranscriber(whisper_dir, device="cpu").transcribe(played).text.lower()
    assert "testing" in heard and "microphone" in heard, heard


def test_the_microphone_test_says_when_it_hears_nothing(qtbot, dialog):
    qtbot.mouseClick(dialog.test_input, Qt.MouseButton.LeftButton)
    _wait_done(qtbot, dialog)
    assert "heard only silence" in dialog.status.text()
