"""The voice interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..audio import Audio
from ..errors import ModelLoadError

__all__ = [
    "ReleasesMemory",
    "SpeechChunk",
    "Voice",
    "check_speaking_rate",
    "shrink_onnx_arena",
    "synthesize_all",
    "voice_files",
]


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


@runtime_checkable
class ReleasesMemory(Protocol):
    """A voice that can give back memory its last sentences left it holding."""

    def release_memory(self) -> None:
        """Hand back what is not needed between replies (called while idle)."""
        ...


def shrink_onnx_arena(session: Any, feed: dict[str, np.ndarray]) -> None:
    """Run ``session`` once on ``feed`` (keep it tiny) with arena shrinkage on.

    onnxruntime's CPU memory arena keeps the largest block it was ever asked for: a VITS
    voice's decoder needs memory in proportion to the sentence, so after one long
    sentence (48 words: +170 MiB) the process stays that large for good. Shrinking frees
    every arena block no run holds at the end of this run. Shrinking on every sentence
    would cost about 15 % of synthesis speed; one tiny run between replies costs ~50 ms.
    """
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    session.run(None, feed, options)


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
