"""The spoken sentences of ``bench turns``: each sentence said by the configured voice and
by an espeak-ng voice, its parts trimmed of their own silence and joined by seeded
300-700 ms pauses (also used by ``assistant train turn --hear``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import ASR_RATE, read_audio, resample
from ..errors import EngineError
from .turn_set import UTTERANCES

__all__ = [
    "ESPEAK_VOICES",
    "PAUSES",
    "SpokenUtterance",
    "speak_espeak",
    "speak_utterances",
    "trim_silence",
]

ESPEAK_VOICES = ("en-us", "en+f3", "en-gb")
"""The second voice of each sentence, in turn: espeak-ng's American, female, British."""

PAUSES = (0.3, 0.7)
"""The range of the inner pauses, in seconds (uniform, seeded)."""
_LEAD = 0.25  # silence before each utterance


@dataclass
class SpokenUtterance:
    text: str
    """The sentence with its ``|`` pause marks."""
    voice: str
    """``piper:<id>`` or ``espeak:<voice>``."""
    samples: np.ndarray
    """16 kHz, the parts trimmed of their own silence and joined by the pauses."""
    pauses: tuple[float, ...]
    """Seconds of silence put at each ``|``."""


def trim_silence(samples: np.ndarray, rate: int = ASR_RATE) -> np.ndarray:
    """``samples`` without the silence before and after the speech (10 ms frames
    quieter than 1 % of the loudest)."""
    frame = rate // 100
    n = len(samples) // frame
    if n == 0:
        return samples
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms >= 0.01 * float(rms.max() or 1.0))
    if not len(loud):
        return samples
    return samples[loud[0] * frame : (loud[-1] + 1) * frame]


def speak_espeak(text: str, voice: str) -> np.ndarray:
    """``text`` said by espeak-ng's ``voice``, as 16 kHz samples."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise EngineError(
            "espeak-ng is not installed (bench turns speaks half its sentences with it)",
            hint="install it: scripts/setup.sh installs the Debian package espeak-ng",
        )
    with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
        path = Path(tmp) / "part.wav"
        subprocess.run(
            [binary, "-v", voice, "-w", str(path), text], check=True, capture_output=True
        )
        return read_audio(path).samples


def speak_utterances(
    voice: Any,
    voice_name: str,
    sentences: Sequence[str] = UTTERANCES,
    seed: int = 17,
) -> list[SpokenUtterance]:
    """Each of ``sentences`` spoken by ``voice`` (a :class:`~assistant.tts.Voice`) and by
    an espeak-ng voice, with seeded 300-700 ms pauses at the ``|`` marks."""
    from ..tts import synthesize_all

    rng = np.random.default_rng(seed)
    spoken: list[SpokenUtterance] = []
    for index, sentence in enumerate(sentences):
        parts = [p.strip() for p in sentence.split("|")]
        for who in (f"piper:{voice_name}", f"espeak:{ESPEAK_VOICES[index % 3]}"):
            pieces: list[np.ndarray] = [np.zeros(round(_LEAD * ASR_RATE), np.float32)]
            pauses: list[float] = []
            for k, part in enumerate(parts):
                if k:
                    pause = float(rng.uniform(*PAUSES))
                    pauses.append(round(pause, 3))
                    pieces.append(np.zeros(round(pause * ASR_RATE), np.float32))
                if who.startswith("espeak:"):
                    samples = speak_espeak(part, who.split(":", 1)[1])
                else:
                    audio = synthesize_all(voice, part)
                    samples = resample(audio.samples, audio.sample_rate, ASR_RATE)
                samples = trim_silence(np.asarray(samples, np.float32))
                peak = float(np.abs(samples).max()) or 1.0
                pieces.append((0.5 / peak) * samples)  # the same loudness for all
            spoken.append(
                SpokenUtterance(
                    sentence, who, np.concatenate(pieces).astype(np.float32), tuple(pauses)
                )
            )
    return spoken
