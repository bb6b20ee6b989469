"""A fast onset detector for barge-in: the user's voice rising out of the background.

The VAD decides on 32 ms frames and needs a frame or two of a vowel to be sure, which
puts the reply's pause 60-100 ms behind the first loud sample of the user's voice. While
the assistant speaks, the capture stage also watches the echo-cancelled signal in 10 ms
windows: two windows in a row well above the recent background (the room, and whatever
echo the canceller left) pause the reply at once. A false alarm costs what a VAD false
alarm costs: a short gap, then the reply resumes.
"""

from __future__ import annotations

import numpy as np

from ..audio import ASR_RATE

__all__ = ["OnsetDetector"]

WINDOW = ASR_RATE // 100
"""Samples per window (10 ms)."""


class OnsetDetector:
    """Says when a block holds the start of a sound well above the recent background.

    Args:
        rise_db: how far above the background level a window must be.
        floor_db: a window quieter than this (RMS, dBFS) never counts, however quiet
            the room.
        windows: consecutive loud windows that make an onset (a click is one).
        settle: seconds over which the background level follows the signal.
        warm_up: seconds of signal after :meth:`reset` that only set the background
            (the echo of a reply that has just started).
    """

    def __init__(
        self,
        rise_db: float = 18.0,
        floor_db: float = -45.0,
        windows: int = 2,
        settle: float = 0.3,
        warm_up: float = 0.2,
    ) -> None:
        self.rise_db = rise_db
        self.floor_db = floor_db
        self.windows = windows
        self._alpha = min(1.0, (WINDOW / ASR_RATE) / settle)
        self._warm_up = round(warm_up * ASR_RATE / WINDOW)
        self._background: float | None = None
        self._seen = 0
        self._run = 0
        self._pending = np.zeros(0, np.float32)

    def reset(self) -> None:
        """Forget the background (a new reply: the echo may differ)."""
        self._background = None
        self._seen = 0
        self._run = 0
        self._pending = np.zeros(0, np.float32)

    def push(self, block: np.ndarray) -> bool:
        """Feed the next samples; True when they complete an onset."""
        samples = np.concatenate([self._pending, np.asarray(block, np.float32).reshape(-1)])
        n = len(samples) // WINDOW
        self._pending = samples[n * WINDOW :]
        if n == 0:
            return False
        power = np.mean(samples[: n * WINDOW].reshape(n, WINDOW) ** 2, axis=1)
        levels = 10 * np.log10(np.maximum(power, 1e-12))
        onset = False
        for level in levels:
            self._seen += 1
            background = self._background
            if background is None or self._seen <= self._warm_up:
                warm = background is None
                self._background = level if warm else max(background, level)
                continue
            loud = level >= self.floor_db and level >= background + self.rise_db
            self._run = self._run + 1 if loud else 0
            if self._run >= self.windows:
                onset = True
            else:  # speech raises the background it is measured against only slowly
                rate = self._alpha if not loud else self._alpha / 10
                self._background = background + rate * (level - background)
        return onset
