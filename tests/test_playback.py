"""Replies played on a (virtual) sound card reach the speakers intact."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.text import word_error_rate


def test_say_plays_speech_on_the_default_output(tmp_path, virtual_audio, whisper_dir):
    captured = tmp_path / "speakers.wav"
    recorder = subprocess.Popen(
        [
            "parecord",
            "--device=spk.monitor",
            "--channels=1",
            "--rate=16000",
            "--file-format=wav",
            str(captured),
        ]
    )
    try:
        time.sleep(0.3)
        text = "The tallest mountain in the world is Mount Everest."
        result = subprocess.run(
            [sys.executable, "-m", "assistant", "say", text],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        time.sleep(0.3)
    finally:
        recorder.terminate()
        recorder.wait(timeout=10)
    audio = read_audio(captured)
    assert np.abs(audio.samples).max() > 0.05
    heard = WhisperTranscriber(whisper_dir, device="cpu").transcribe(audio).text
    assert word_error_rate(text, heard) <= 0.2, heard
