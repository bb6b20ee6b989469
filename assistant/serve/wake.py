"""The seam for wake words over Wyoming.

A wake-word detector (another part of the project adds them) plugs into
:func:`assistant.serve.wyoming_services.build_info` and the event handler as a
:class:`WakeDetector`: the handler feeds it 16 kHz mono audio after a ``detect`` event
and answers ``detection`` when it fires, ``not-detected`` at the end of the audio.
Until one is given, the Wyoming ``info`` lists no wake programs and ``detect`` is
answered with an ``error`` event.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["WakeDetector"]


class WakeDetector(Protocol):
    """Finds one wake word in a stream of 16 kHz mono float32 audio."""

    name: str
    """The wake word model's id (what Home Assistant shows and selects)."""
    phrase: str
    """What the user says, e.g. "hey assistant"."""
    languages: list[str]
    """Language codes the model works for."""

    def reset(self) -> None:
        """Forget earlier audio (a new ``detect`` request starts)."""
        ...

    def process(self, samples: np.ndarray) -> bool:
        """Feed the next samples; True once the wake word was heard."""
        ...
