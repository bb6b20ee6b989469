"""The short chime played when the wake word is heard."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..audio.io import Audio

__all__ = ["chime", "chime_player"]


def chime(rate: int, level: float = 0.15) -> Audio:
    """Two soft rising notes (E6 then A6, 160 ms in all) with gentle edges."""
    parts = []
    for freq, seconds in ((1318.5, 0.07), (1760.0, 0.09)):
        t = np.arange(int(rate * seconds)) / rate
        edge = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        parts.append(np.sin(2 * np.pi * freq * t) * edge * level)
    return Audio(np.concatenate(parts).astype(np.float32), rate)


def chime_player(player: Any, rate: int) -> Callable[[], None]:
    """A function that plays the chime on ``player`` (a :class:`~assistant.audio.playback.
    Player` at ``rate``) like a reply's sentence, so the echo canceller hears it too, under
    a cancelled turn: it counts as no turn's speech."""
    from ..pipeline.turns import Turn

    sound = chime(rate)

    def play() -> None:
        turn = Turn(0, time.monotonic())
        turn.cancel()
        player.play(sound, tag=(turn, None))

    return play
