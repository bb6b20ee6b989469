"""Wake words: a small detector that listens while the assistant sleeps.

Pretrained words come from Home Assistant's microWakeWord (:mod:`.micro`); custom words
are classifiers on openWakeWord's speech embeddings (:mod:`.custom`), trained by
``assistant train wakeword`` and kept in the model store as ``wake`` models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ModelError
from .base import RATE, Detection, WakeDetector, WakeEngine, threshold_for
from .gate import WakeGate, WakeState, Woken
from .micro import PRETRAINED

if TYPE_CHECKING:
    from ..store import ModelStore

__all__ = [
    "PRETRAINED",
    "RATE",
    "Detection",
    "WakeDetector",
    "WakeEngine",
    "WakeGate",
    "WakeState",
    "Woken",
    "load_detector",
    "load_engine",
    "threshold_for",
]


def load_engine(word: str, store: ModelStore | None) -> WakeEngine:
    """The engine of one word: a pretrained name, or the id of a ``wake`` model."""
    from .micro import MicroEngine, pretrained_config

    if word in PRETRAINED:
        return MicroEngine(pretrained_config(word))
    if store is None:
        raise ModelError(
            f"{word!r} is not a pretrained wake word",
            hint=f"choose one of {', '.join(PRETRAINED)}",
        )
    from ..errors import ModelNotFoundError
    from .custom import CustomEngine

    try:
        model = store.resolve("wake", word)
    except ModelNotFoundError:
        raise ModelError(
            f"unknown wake word {word!r}: not a pretrained word nor a wake model in the store",
            hint=f"pretrained words: {', '.join(PRETRAINED)}; train your own with "
            f'assistant train wakeword "PHRASE" --name {word}',
        ) from None
    return CustomEngine(model.path, word)


def load_detector(
    words: Sequence[str],
    store: ModelStore | None = None,
    sensitivity: dict[str, float] | None = None,
) -> WakeDetector:
    """A detector for ``words`` (config ``wake.words``)."""
    if not words:
        raise ModelError("no wake word given", hint="set wake.words or pass --wake NAME")
    return WakeDetector([load_engine(w, store) for w in words], sensitivity)
