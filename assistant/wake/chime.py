"""The short chime played when the wake word is heard."""

from __future__ import annotations

import numpy as np

from ..audio.io import Audio

__all__ = ["chime"]


def chime(rate: int, level: float = 0.15) -> Audio:
    """Two soft rising notes (E6 then A6, 160 ms in all) with gentle edges."""
    parts = []
    for freq, seconds in ((1318.5, 0.07), (1760.0, 0.09)):
        t = np.arange(int(rate * seconds)) / rate
        edge = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        parts.append(np.sin(2 * np.pi * freq * t) * edge * level)
    return Audio(np.concatenate(parts).astype(np.float32), rate)
