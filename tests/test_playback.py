"""Replies played on a (virtual) sound card reach the speakers intact."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.asr import WhisperTranscriber
from assistant.audio import Audio, read_audio
from assistant.text import word_error_rate


@pytest.fixture
def speaker(private_audio) -> str:
    return private_audio[0]


@contextlib.contextmanager
def speakers_recorded(speaker: str, path: Path) -> Iterator[None]:
    """Record what is played on ``speaker`` while the block runs."""
    recorder = subprocess.Popen(
        ["parecord", f"--device={speaker}.monitor", "--channels=1", "--rate=16000",
         "--file-format=wav", str(path)]
    )  # fmt: skip
    try:
        time.sleep(0.3)
        yield
        time.sleep(0.3)
    finally:
        recorder.terminate()
        recorder.wait(timeout=10)


def _assistant(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=120
    )


def _heard(whisper_dir: Path, audio: Audio) -> str:
    return WhisperTranscriber(whisper_dir, device="cpu").transcribe(audio).text


def test_say_plays_speech_on_the_default_output(tmp_path, speaker, whisper_dir):
    text = "The tallest mountain in the world is Mount Everest."
    with speakers_recorded(speaker, tmp_path / "speakers.wav"):
        result = _assistant("say", text)
    assert result.returncode == 0, result.stderr
    audio = read_audio(tmp_path / "speakers.wav")
    assert np.abs(audio.samples).max() > 0.05
    assert word_error_rate(text, _heard(whisper_dir, audio)) <= 0.2


def test_talk_without_output_plays_the_reply_it_printed(tmp_path, speaker, speak, whisper_dir):
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 60\n")
    question = speak("What is the tallest mountain in the world?")
    with speakers_recorded(speaker, tmp_path / "speakers.wav"):
        result = _assistant("--config", str(config), "talk", "-i", str(question), "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)["reply"]
    heard = _heard(whisper_dir, read_audio(tmp_path / "speakers.wav"))
    assert word_error_rate(reply, heard) <= 0.3, (reply, heard)


def test_pause_silences_the_speaker_at_once_and_resume_goes_on(speaker):
    """Pausing drops what the device still holds: the sink's monitor hears silence
    within a block or two, then the reply again after resume (the barge-in path)."""
    from assistant.audio.playback import Player
    from assistant.bench.monitor import OutputMonitor

    rate = 22050
    t = np.arange(rate * 12) / rate
    tone = Audio((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    monitor = OutputMonitor(speaker)
    player = Player(rate, device=speaker)
    try:
        player.play(tone)
        deadline = time.monotonic() + 8  # a suspended sink takes seconds to wake
        while monitor.last_loud(time.monotonic() - 0.05, time.monotonic()) is None:
            assert time.monotonic() < deadline, "the tone never reached the speaker"
            time.sleep(0.01)
        time.sleep(0.3)
        paused = time.monotonic()
        player.pause()
        time.sleep(0.4)
        last = monitor.last_loud(paused, paused + 0.4)
        assert last is None or last - paused < 0.1, last - paused
        player.resume()
        time.sleep(0.3)
        assert monitor.last_loud(paused + 0.45, time.monotonic()) is not None
    finally:
        player.stop()
        player.close()
        monitor.close()
