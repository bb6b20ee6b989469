"""Regenerate the second question set of ``assistant bench latency --questions``.

Other questions than ``tests/bench_questions`` and other voices: espeak-ng's American,
female, British and male-3 English voices in turn, none of which the end-of-turn model
or its thresholds were tuned on. Each line of ``questions.txt`` becomes ``qNN.wav`` at
16 kHz mono 16-bit with a short silence before the speech; ``stop.wav`` is "Stop.".
Run it from anywhere: ``python tests/bench_questions_espeak/make_questions.py``
(needs the Debian package espeak-ng).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
RATE = 16_000
LEAD_S = 0.2
TAIL_S = 0.1
VOICES = ("en-us", "en+f3", "en-gb", "en+m3")
BARGE_IN = "Stop."


def _speak(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        speech, rate = sf.read(path, dtype="float32")
    speech = soxr.resample(speech, rate, RATE, quality="HQ").astype(np.float32)
    speech *= 0.5 / (float(np.abs(speech).max()) or 1.0)
    return np.concatenate(
        [np.zeros(int(LEAD_S * RATE), np.float32), speech, np.zeros(int(TAIL_S * RATE), np.float32)]
    )


def main() -> None:
    lines = (HERE / "questions.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    for old in HERE.glob("q*.wav"):
        old.unlink()
    jobs = [
        (f"q{i:02d}.wav", text, VOICES[(i - 1) % len(VOICES)]) for i, text in enumerate(texts, 1)
    ]
    for name, text, voice in [*jobs, ("stop.wav", BARGE_IN, "en-us")]:
        samples = _speak(text, voice)
        sf.write(HERE / name, samples, RATE, subtype="PCM_16")
        print(f"{name}: {len(samples) / RATE:.2f} s  {voice}  {text}")


if __name__ == "__main__":
    main()
