"""Audio devices chosen by the sound server's names and descriptions, on real PulseAudio
virtual devices: listed by ``assistant devices``, played to by description, followed when
unplugged and plugged back, and an output that is missing at start used once it appears.

Each test adds and removes its own null sinks (a "USB headset"); the shared ones are not
touched. Run under ``flock /tmp/pulse.lock``."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_playback import speakers_recorded

from assistant.audio import Audio, read_audio
from assistant.audio.playback import RETRY_SECONDS, Player
from assistant.audio.pulse import find_pulse_device, pulse_devices
from assistant.errors import AudioDeviceError


class Headset:
    """A null sink that plays the part of a USB headset: plug and unplug it."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name = f"usb_headset_{tag}"
        self.description = f"Test USB Headset {tag}"
        self.module: str | None = None

    def plug(self) -> None:
        out = subprocess.run(
            ["pactl", "load-module", "module-null-sink", f"sink_name={self.name}",
             f"sink_properties='device.description=\"{self.description}\"'"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        self.module = out.stdout.strip()

    def unplug(self) -> None:
        if self.module is not None:
            subprocess.run(["pactl", "unload-module", self.module], check=True)
            self.module = None


@pytest.fixture
def headset(private_audio) -> Iterator[Headset]:
    device = Headset()
    device.plug()
    yield device
    device.unplug()


def _tone(rate: int = 22050, seconds: float = 0.6) -> Audio:
    t = np.arange(int(rate * seconds)) / rate
    return Audio((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


def _loud(path: Path) -> float:
    """Peak level of a recording (0 when nothing was played)."""
    samples = read_audio(path).samples
    return float(np.abs(samples).max()) if len(samples) else 0.0


def test_devices_lists_the_sound_server_s_devices_by_description(headset):
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "devices"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert headset.description in out.stdout and f"name: {headset.name}" in out.stdout
    assert "PortAudio devices:" in out.stdout
    assert "ALSA lib" not in out.stderr


def test_pulse_devices_have_names_descriptions_and_kinds(headset):
    found = find_pulse_device(headset.description.upper(), "sink")
    assert found is not None and found.name == headset.name and found.kind == "sink"
    assert find_pulse_device(headset.name, "source") is None  # a sink is no microphone
    monitors = [d for d in pulse_devices("source") if d.name == f"{headset.name}.monitor"]
    assert monitors and monitors[0].is_monitor


def test_the_player_plays_on_the_device_chosen_by_its_description(headset, private_audio,
                                                                  tmp_path):  # fmt: skip
    default_speaker, _ = private_audio
    player = Player(22050, headset.description)
    try:
        with speakers_recorded(headset.name, tmp_path / "headset.wav"), \
             speakers_recorded(default_speaker, tmp_path / "default.wav"):  # fmt: skip
            player.play(_tone())
            player.wait()
    finally:
        player.close()
    assert _loud(tmp_path / "headset.wav") > 0.2
    assert _loud(tmp_path / "default.wav") < 0.01  # not on the default output


def test_an_unplugged_device_is_named_and_used_again_when_plugged_back(headset, tmp_path):
    player = Player(22050, headset.name, allow_missing=True)
    changes: list[tuple[bool, str]] = []
    player.on_available = lambda back, why: changes.append((back, why))
    try:
        player.play(_tone(seconds=0.3))
        player.wait()
        headset.unplug()
        player.play(_tone(seconds=2.0))  # fails on the vanished device: said, not raised
        player.wait(timeout=10)
        player.play(_tone(seconds=0.3))
        player.wait(timeout=10)
        assert player.missing is not None
        assert changes and changes[0][0] is False

        headset.plug()
        time.sleep(RETRY_SECONDS + 0.2)
        with speakers_recorded(headset.name, tmp_path / "back.wav"):
            player.play(_tone())
            player.wait(timeout=10)
    finally:
        player.close()
    assert player.missing is None and changes[-1] == (True, "")
    assert _loud(tmp_path / "back.wav") > 0.2


def test_an_output_missing_at_start_is_used_once_it_appears(private_audio, tmp_path):
    headset = Headset()  # not plugged in yet
    with pytest.raises(AudioDeviceError, match="is not connected"):
        Player(22050, headset.name)
    player = Player(22050, headset.name, allow_missing=True)
    try:
        assert player.missing is not None and "not connected" in player.missing.message
        player.play(_tone(seconds=0.3))  # dropped: nothing to play on
        assert player.wait(timeout=5)
        headset.plug()
        time.sleep(RETRY_SECONDS + 0.2)
        with speakers_recorded(headset.name, tmp_path / "late.wav"):
            player.play(_tone())
            player.wait(timeout=10)
        assert player.missing is None
    finally:
        player.close()
        headset.unplug()
    assert _loud(tmp_path / "late.wav") > 0.2
