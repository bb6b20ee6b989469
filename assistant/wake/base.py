"""The wake-word detector interface: feed 16 kHz audio, get detections.

An engine scores one wake word on a stream of 16 kHz mono samples; a :class:`WakeDetector`
runs several engines side by side, keeps the stream's clock, and turns scores over a
word's threshold into :class:`Detection` events (one per utterance of the word: a word
stays quiet for ``refractory_s`` after it fired).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "RATE",
    "Detection",
    "WakeDetector",
    "WakeEngine",
    "threshold_for",
    "to_int16",
]

log = logging.getLogger(__name__)

RATE = 16000
"""Every engine takes 16 kHz mono."""


@dataclass(frozen=True)
class Detection:
    """One wake word heard."""

    word: str
    """The word's name (a pretrained word such as ``hey_jarvis``, or a store id)."""
    time: float
    """Seconds from the start of the stream to the moment it was recognised (just
    after the word's end)."""
    score: float
    """The engine's score there, 0..1."""


class WakeEngine(Protocol):
    """Scores one wake word on a stream of audio."""

    name: str
    """The word's name."""
    phrase: str
    """What is said ("hey jarvis")."""
    base_threshold: float
    """The score above which the word counts as heard at sensitivity 0.5."""

    def process(self, samples: np.ndarray) -> list[tuple[int, float]]:
        """Feed int16 samples; returns (sample offset into this chunk's end, score) for
        every score the engine produced on it."""
        ...

    def reset(self) -> None:
        """Forget the stream (a new one starts)."""
        ...


def threshold_for(base: float, sensitivity: float) -> float:
    """The score threshold at ``sensitivity`` (0..1, 0.5 = the model's own threshold).

    Each 0.1 of sensitivity above 0.5 divides the odds the threshold stands for by
    10 ** 0.2 (1.58); below 0.5 it multiplies them.
    """
    if not 0.0 <= sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be between 0 and 1, not {sensitivity}")
    base = min(max(base, 1e-4), 1 - 1e-4)
    odds = base / (1 - base) * 10 ** (2 * (0.5 - sensitivity))
    return min(max(odds / (1 + odds), 1e-4), 1 - 1e-6)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] (or int16 already) as int16."""
    if samples.dtype == np.int16:
        return samples
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


class WakeDetector:
    """Several wake words at once on one stream.

    Args:
        engines: one per word.
        sensitivities: per word name, 0..1 (missing = 0.5).
        refractory_s: after a word fires it cannot fire again for this long.
    """

    def __init__(
        self,
        engines: Sequence[WakeEngine],
        sensitivities: dict[str, float] | None = None,
        refractory_s: float = 1.5,
    ) -> None:
        if not engines:
            raise ValueError("a wake detector needs at least one word")
        self.engines = list(engines)
        sens = sensitivities or {}
        self.thresholds = {
            e.name: threshold_for(e.base_threshold, sens.get(e.name, 0.5)) for e in self.engines
        }
        self.refractory = int(refractory_s * RATE)
        self._samples = 0
        self._quiet_until = {e.name: -1 for e in self.engines}

    @property
    def words(self) -> list[str]:
        """The names of the words listened for."""
        return [e.name for e in self.engines]

    @property
    def time(self) -> float:
        """Seconds of audio fed so far."""
        return self._samples / RATE

    def feed(self, samples: np.ndarray) -> list[Detection]:
        """Feed 16 kHz mono samples (float in [-1, 1], or int16); returns the words
        recognised in them, in order."""
        pcm = to_int16(np.asarray(samples).reshape(-1))
        start = self._samples
        self._samples += len(pcm)
        found: list[Detection] = []
        for engine in self.engines:
            limit = self.thresholds[engine.name]
            for offset, score in engine.process(pcm):
                at = start + offset
                if score >= limit and at >= self._quiet_until[engine.name]:
                    self._quiet_until[engine.name] = at + self.refractory
                    found.append(Detection(engine.name, at / RATE, float(score)))
                    log.debug("wake word %s at %.2f s (score %.3f)", engine.name, at / RATE, score)
        found.sort(key=lambda d: d.time)
        return found

    def reset(self) -> None:
        """Start a new stream (the clock restarts at 0)."""
        for engine in self.engines:
            engine.reset()
        self._samples = 0
        self._quiet_until = {e.name: -1 for e in self.engines}

    def scan(self, samples: np.ndarray, chunk: int = 1280) -> list[Detection]:
        """Every detection in a whole recording, fed in ``chunk``-sample pieces as a
        microphone would deliver them; ends with a second of silence so a word at the
        very end is scored."""
        found: list[Detection] = []
        pcm = to_int16(np.asarray(samples).reshape(-1))
        pcm = np.concatenate([pcm, np.zeros(RATE, dtype=np.int16)])
        for pos in range(0, len(pcm), chunk):
            found.extend(self.feed(pcm[pos : pos + chunk]))
        return found

    def max_scores(self, samples: np.ndarray, chunk: int = 1280) -> dict[str, float]:
        """The highest score of each word over a whole recording (for benchmarks)."""
        best = dict.fromkeys(self.words, 0.0)
        pcm = to_int16(np.asarray(samples).reshape(-1))
        pcm = np.concatenate([pcm, np.zeros(RATE // 2, dtype=np.int16)])
        for pos in range(0, len(pcm), chunk):
            piece = pcm[pos : pos + chunk]
            for engine in self.engines:
                for _, score in engine.process(piece):
                    best[engine.name] = max(best[engine.name], float(score))
        return best
