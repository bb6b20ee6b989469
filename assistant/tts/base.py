"""The voice interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..audio import Audio
from ..errors import ModelLoadError

__all__ = ["SpeechChunk", "Voice", "check_speaking_rate", "synthesize_all", "voice_files"]


@dataclass(frozen=True)
class SpeechChunk:
    """Audio for one sentence (or part of one) of the text being spoken."""

    audio: Audio
    """Mono float32 samples at the voice's rate."""
    text: str
    """The sentence this audio speaks."""


class Voice(Protocol):
    """Turns text into speech, sentence by sentence."""

    sample_rate: int
    """Rate of every chunk this voice produces."""
    language: str
    """Language the voice speaks, e.g. ``en-us`` (decides how numbers are read)."""

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Yield audio for each sentence of ``text`` as soon as it is made."""
        ...


def synthesize_all(voice: Voice, text: str) -> Audio:
    """The whole text as one piece of audio."""
    parts = [chunk.audio.samples for chunk in voice.synthesize(text)]
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return Audio(samples, voice.sample_rate)


def voice_files(model_path: Path, kind: str) -> tuple[Path, Path]:
    """``X.onnx`` and the ``X.onnx.json`` beside it, both checked to exist; ``kind`` names
    the voice in the hint ("a Piper voice")."""
    model_path = Path(model_path)
    config_path = Path(f"{model_path}.json")
    if not model_path.is_file():
        raise ModelLoadError(model_path, "the voice file does not exist")
    if not config_path.is_file():
        raise ModelLoadError(
            model_path,
            f"its config {config_path.name} is missing beside it",
            hint=f"{kind} is two files, X.onnx and X.onnx.json; import both",
        )
    return model_path, config_path


def check_speaking_rate(rate: float) -> float:
    """``rate`` if it is a usable pace (relative to the voice's own), else ValueError."""
    if not 0.0 < rate <= 4.0:
        raise ValueError(f"speaking rate must be in (0, 4], not {rate}")
    return rate
