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
