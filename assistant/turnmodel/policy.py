"""How long a pause ends the turn, from the turn model's confidence.

The trade-off between answering fast and cutting the user off is one setting,
``turn.mode``: ``eager``, ``balanced`` or ``patient`` (the default). Each mode is two
thresholds on P(finished) and the wait that goes with each; between those and a third,
lower one the wait is the endpointer's silence (``None``: ``vad.min_silence_ms``), and
whenever there is no usable model or the transcript is in another language, too: the
silence rule. A transcript that is clearly unfinished (P(finished) below the lowest
threshold, unless the recogniser closed it with a question mark, or ending on a word
left hanging: "to", "the", "and", "um") waits *longer* than the endpointer's silence
(``hold_wait``): people pause longest inside a sentence, and that costs nothing on a
finished one. The capture stage lets a pause run that long (:attr:`TurnPolicy.longest`).
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
    silence, >= ``likely`` after ``likely_wait``; below ``hold`` (or on a hanging word)
    after ``hold_wait``, longer than the endpointer's silence; else the full silence."""

    sure: float
    sure_wait: float
    likely: float
    likely_wait: float
    hold: float = 0.0
    hold_wait: float = 0.0
    unsure_wait: float | None = None
    """Between ``hold`` and ``likely`` (``None``: the endpointer's silence)."""

    def wait(self, p: float, hanging: bool = False, question: bool = False) -> float | None:
        """The wait for P(finished) ``p`` (``hanging``: the transcript ends on a word
        left hanging; ``question``: the recogniser closed it with a question mark, which
        is never held past the unsure wait); ``None``: the endpointer's silence."""
        hold = self.hold_wait or None
        if hanging:
            return hold
        if p >= self.sure:
            return self.sure_wait
        if p >= self.likely:
            return self.likely_wait
        if p < self.hold and not question:
            return hold
        return self.unsure_wait


MODES: dict[str, TurnWaits] = {
    "eager": TurnWaits(0.80, 0.40, 0.50, 0.40, hold=0.05, hold_wait=0.9),
    "balanced": TurnWaits(0.90, 0.40, 0.65, 0.55, hold=0.05, hold_wait=1.0),
    "patient": TurnWaits(0.95, 0.40, 0.80, 0.65, hold=0.05, hold_wait=1.1),
}
"""The settings the user chooses from (config ``turn.mode``, app settings). No wait is
shorter than 0.4 s from the start of the pause: the recogniser's short window
(``asr.short_window``, the default) has the transcript 0.24 s into a pause and closes a
cut sentence with "." or "?" ("If it rains tomorrow."), where the whole window took 0.5
s and often wrote "…"; that late transcript was the floor the model's calls stood on.
In ``bench turns`` (104 utterances, pauses of 0.3-0.7 s inside them) shorter waits cut
in where the user only paused: patient with 0.25 s / 0.60 s (sure / likely) cut in on
5.8 % with the short window, 1.0 % with the whole one; with 0.55 s / 0.65 s on 1.9 % and
1.0 %. With the GRU model (features version 2), patient's sure wait went from 0.55 s to
0.4 s: 1.9 % and 1.0 % on those two runs' pauses (1.0 % each with 0.55 s), and 0.0 % with
either on 104 utterances of sentences nothing was tuned on (``bench turns --held-out``,
looked at once, after the choice). Below "sure", the balanced and patient waits are no
shorter than the punctuation rule's after a statement (0.55 s): a sentence the model finds
only likely to be the last is often followed by another ("My name is Ada. Please
remember it.", a breath between); only eager takes that risk. Commands end their turn
after :data:`COMMAND_PAUSE <assistant.pipeline.conversation.COMMAND_PAUSE>` whatever the
mode. The hold
(P(finished) < 0.05, or a word left hanging) is past the default ``vad.min_silence_ms``
(0.7 s) in every mode: the pauses people make inside a sentence run to 0.7 s and more,
and on a finished turn the model is rarely that sure it is not."""


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

    @property
    def longest(self) -> float:
        """The longest wait :meth:`pause` returns (0 without a model): the capture stage
        lets a pause run at least this long before the endpointer ends the utterance."""
        if self.scorer is None:
            return 0.0
        return max(self.waits.hold_wait, self.waits.unsure_wait or 0.0)

    def pause(self, text: str | None, language: str | None = None) -> float | None:
        """Seconds of silence after which ``text`` ends the turn; ``None``: the full
        silence of the endpointer (``vad.min_silence_ms``)."""
        if self.scorer is None or not text:
            return None
        p = self.scorer.score(text, language)
        if p is None:  # another language: nothing is known about its words
            return None
        # A question mark after a word that does not hang is not "clearly unfinished"
        # whatever the model says: it scores plain questions low when their last words
        # could go on ("What is the meaning of life?" 0.003, "What time does the sun
        # set?" 0.006; 5 of 25 plain questions written to check it were under the hold),
        # and holding them 1.1 s made them wait longer than with no model at all.
        return self.waits.wait(p, hangs(text), question=text.rstrip().endswith("?"))
