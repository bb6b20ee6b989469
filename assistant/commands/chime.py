"""The sound before an announcement: two soft bell tones, made on the fly (no asset)."""

from __future__ import annotations

import numpy as np

__all__ = ["chime"]


def chime(sample_rate: int, *, volume: float = 0.3) -> np.ndarray:
    """Float32 mono samples: 880 Hz then 660 Hz, 0.25 s each, with a bell-like decay."""
    t = np.arange(int(0.25 * sample_rate), dtype=np.float32) / sample_rate
    envelope = np.exp(-t * 9.0) * np.minimum(1.0, t * 200.0)  # 5 ms attack, then decay
    tones = [np.sin(2 * np.pi * f * t) * envelope for f in (880.0, 660.0)]
    return (np.concatenate(tones) * volume).astype(np.float32)
