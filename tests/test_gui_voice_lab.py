"""The desktop app's voice lab: takes saved against the prompt list, training in a child
process watched through its progress file, a sample from the checkpoint, and the
exported voice becoming the assistant's voice."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from assistant.audio import read_audio
from assistant.audio.playback import Player
from assistant.config import Config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource
from assistant.tts import VitsVoice
from gui.voice_lab import VoiceLab, load_prompts

pytestmark = pytest.mark.timeout(900)


def test_voice_lab_records_trains_listens_exports_and_switches(qtbot, gui_apps, tmp_path,
                                                               speak):  # fmt: skip
    config = Config()
    players: list[Player] = []

    def player(rate, config):
        players.append(Player(rate, simulated=True, realtime=False))
        return players[-1]

    app = gui_apps.build(
        config,
        source=lambda config: ScriptedSource([]),
        player=player,
        load_engines=Engines.load,
    )
    prompts = load_prompts()[:12]
    lab = VoiceLab(app.controller, app.window, folder=tmp_path / "lab", prompts=prompts)
    qtbot.addWidget(lab)
    for i, text in enumerate(prompts):
        lab.save_take(i, read_audio(speak(text), rate=None))
    assert "12 of 12 prompts recorded" in lab.stats.text()
    # Re-recording a prompt replaces its take; the list keeps one line per prompt.
    lab.go(3)
    lab.save_take(3, read_audio(speak(prompts[3], lead_silence=0.1), rate=None))
    rows = (tmp_path / "lab" / "recordings" / "metadata.csv").read_text().splitlines()
    assert len(rows) == 12 and rows[3] == f"prompt-004|{prompts[3]}"
    assert "recorded" in lab.counter.text()

    # The lab starts from the voice in use; this test trains the tiny preset from scratch.
    assert lab.base.itemData(0) == config.tts.voice and not lab.preset.isEnabled()
    lab.base.setCurrentIndex(lab.base.count() - 1)
    assert lab.preset.isEnabled()
    lab.preset.setCurrentText("tiny")
    lab.steps.setValue(2)
    lab.name.setText("lab-voice")
    lab.start_training()
    qtbot.waitUntil(lambda: lab.state in ("trained", "failed"), timeout=600_000)
    assert lab.state == "trained", lab.status.text()
    assert lab.progress.value() == 100 and "step 2/2" in lab.eta.text()
    assert len(lab.loss.points) == 2

    lab.listen()
    qtbot.waitUntil(
        lambda: lab.state in ("trained", "failed") and hasattr(lab, "last_played"),
        timeout=300_000,
    )
    assert lab.last_played.parent.parent.name == "samples"
    qtbot.waitUntil(lambda: bool(players[-1].played), timeout=10_000)  # its own thread

    lab.export_and_use()
    qtbot.waitUntil(lambda: lab.state in ("exported", "failed"), timeout=300_000)
    assert lab.state == "exported", lab.status.text()
    assert app.controller.config.tts.voice == "lab-voice"
    qtbot.waitUntil(
        lambda: (
            app.controller.engines is not None
            and isinstance(app.controller.engines.voice, VitsVoice)
        ),
        timeout=120_000,
    )


def test_voice_lab_records_a_take_from_the_microphone(
    qtbot, gui_apps, tmp_path, private_audio, speak, whisper_dir
):
    import subprocess

    from assistant.asr import WhisperTranscriber
    from assistant.text import word_error_rate

    _, feed = private_audio
    app = gui_apps.build(
        Config(),
        source=lambda config: ScriptedSource([]),
        player=lambda rate, config: Player(rate, simulated=True, realtime=False),
        load_engines=Engines.load,
    )
    prompts = load_prompts()
    lab = VoiceLab(app.controller, app.window, folder=tmp_path / "lab", prompts=prompts)
    qtbot.addWidget(lab)
    lab.go(4)
    peaks: list[float] = []
    lab.meter.valueChanged.connect(peaks.append)
    lab.record_button.setChecked(True)
    qtbot.wait(500)
    subprocess.run(["paplay", f"--device={feed}", str(speak(prompts[4]))], check=True)
    qtbot.wait(300)
    lab.record_button.setChecked(False)
    take = tmp_path / "lab" / "recordings" / "prompt-005.wav"
    qtbot.waitUntil(take.exists, timeout=10_000)
    assert max(peaks) > 5, "the level meter never moved"
    heard = WhisperTranscriber(whisper_dir, device="cpu").transcribe(read_audio(take))
    assert word_error_rate(prompts[4], heard.text) <= 0.3, heard.text
    assert "1 of" in lab.stats.text() and "recorded" in lab.counter.text()
