"""When a custom wake word counts as heard: a number of scores in a row over a threshold,
both chosen on held-out clips only (never on the bench's test hour)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_FRAMES",
    "MIN_FRAMES",
    "RECALL_SLACK",
    "THRESHOLD_RANGE",
    "Rule",
    "choose_rule",
    "run_level",
]

THRESHOLD_RANGE = (0.5, 0.95)
"""The chosen threshold stays in this range (steps of 0.01)."""
RECALL_SLACK = 0.02
"""The rule with fewer frames wins while its validation recall is within this of the
best rule's."""
MIN_FRAMES, MAX_FRAMES = 2, 3
"""Consecutive scores over the threshold (80 ms apart) a word may be given: each frame
over one adds 80 ms to the detection. The number is chosen on the validation split
(:func:`choose_rule`): a phrase's end gives three (its positive windows end 80 ms before
to 160 ms after it), a spike in other speech one or two. Never one: minutes of held-out
speech cannot vouch for a single frame (in the bench, one frame that cleared 9 held-out
minutes woke 14 times in the test hour)."""


@dataclass(frozen=True)
class Rule:
    """When the word counts as heard: ``frames`` scores in a row at or over
    ``threshold``; with its recall on the held-out phrase clips."""

    frames: int
    threshold: float
    recall: float


def run_level(scores: np.ndarray, frames: int) -> float:
    """The highest level that ``frames`` consecutive scores all reach (0 when fewer)."""
    if len(scores) < frames:
        return 0.0
    from numpy.lib.stride_tricks import sliding_window_view

    return float(sliding_window_view(scores, frames).min(axis=1).max())


def choose_rule(positives: list[np.ndarray], negatives: list[np.ndarray]) -> Rule:
    """The frames-in-a-row rule and threshold, from held-out clips only.

    ``positives``: each held-out phrase clip's scores on its positive windows, in order;
    ``negatives``: each held-out clip of real recordings or noise (what false accepts are
    judged on), its scores in order. For each number of frames the threshold is the
    lowest in :data:`THRESHOLD_RANGE` that no held-out negative reaches (no rule for that
    number when one reaches the top); the fewest frames whose recall there is within
    :data:`RECALL_SLACK` of the best wins (fewer frames: a faster detection). When no
    number of frames clears them, :data:`MAX_FRAMES` at the top of the range.
    """
    lo, hi = THRESHOLD_RANGE
    rules: list[Rule] = []
    for frames in range(MIN_FRAMES, MAX_FRAMES + 1):
        top = max((run_level(n, frames) for n in negatives), default=0.0)
        threshold = float(max(lo, np.ceil((top + 1e-6) * 100) / 100))
        if threshold > hi:
            continue  # a held-out negative scores too high for this many frames
        levels = np.array([run_level(p, frames) for p in positives])
        recall = float((levels >= threshold).mean()) if len(levels) else 0.0
        rules.append(Rule(frames, threshold, recall))
    if not rules:  # nothing clears them all: the strictest rule
        levels = np.array([run_level(p, MAX_FRAMES) for p in positives])
        return Rule(MAX_FRAMES, hi, float((levels >= hi).mean()) if len(levels) else 0.0)
    best = max(r.recall for r in rules)
    return next(r for r in rules if r.recall >= best - RECALL_SLACK)
