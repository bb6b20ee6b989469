"""How long a pause ends the turn, from the turn model's confidence.

The trade-off between answering fast and cutting the user off is one setting,
``turn.mode``: ``eager``, ``balanced`` or ``patient`` (the default). Each mode is two
thresholds on P(finished) and the wait that goes with each; below the lower one, and
whenever there is no usable model or the transcript is in another language, the wait is
the endpointer's full silence (``None``): the silence rule.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .features import hangs
from .scorer import TurnScorer

__all__ = ["MODES", "TurnPolicy", "TurnWaits", "load_scorer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnWaits:
    """One mode: P(finished) >= ``sure`` ends the turn after ``sure_wait`` seconds of
    silence, >= ``likely`` after ``likely_wait``; less waits for the full silence."""

    sure: float
    sure_wait: float
    likely: float
    likely_wait: float


MODES: dict[str, TurnWaits] = {
    "eager": TurnWaits(sure=0.80, sure_wait=0.15, likely=0.50, likely_wait=0.40),
    "balanced": TurnWaits(sure=0.90, sure_wait=0.15, likely=0.65, likely_wait=0.55),
    "patient": TurnWaits(sure=0.95, sure_wait=0.25, likely=0.80, likely_wait=0.60),
}
"""The settings the user chooses from (config ``turn.mode``, app settings). Below
"sure", the balanced and patient waits are no shorter than the punctuation rule's after
a statement (0.55 s): a sentence the model finds only likely to be the last is often
followed by another ("My name is Ada. Please remember it.", a breath between); only
eager takes that risk."""


_warned: set[str] = set()
_warn_lock = threading.Lock()


def load_scorer(
    path: Path | None, problem: str = "no turn model is installed"
) -> TurnScorer | None:
    """The turn model at ``path``, or ``None`` with one warning per path (missing,
    corrupt, wrong kind; ``problem`` says why there is no path): the pipeline then uses
    the silence rule."""
    if path is None:
        key = problem
    else:
        try:
            return TurnScorer(path)
        except ModelError as exc:
            problem = str(exc)
            key = str(path)
        except OSError as exc:
            problem = f"{path}: {exc}"
            key = str(path)
    with _warn_lock:
        if key not in _warned:
            _warned.add(key)
            log.warning("end-of-turn model unusable, using the silence rule: %s", problem)
    return None


class TurnPolicy:
    """The end-of-turn wait for a transcript so far: the model's call, or the silence
    rule (``None``) without a usable model."""

    def __init__(self, scorer: TurnScorer | None, mode: str = "patient") -> None:
        if mode not in MODES:
            raise ValueError(f"turn mode {mode!r} is not one of {', '.join(MODES)}")
        self.scorer = scorer
        self.mode = mode
        self.waits = MODES[mode]

    def pause(self, text: str | None, language: str | None = None) -> float | None:
        """Seconds of silence after which ``text`` ends the turn; ``None``: the full
        silence of the endpointer."""
        if self.scorer is None or not text or hangs(text):
            return None
        p = self.scorer.score(text, language)
        if p is None:
            return None
        if p >= self.waits.sure:
            return self.waits.sure_wait
        if p >= self.waits.likely:
            return self.waits.likely_wait
        return None
