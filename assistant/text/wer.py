"""Word error rate, for checking what ASR heard against what was said."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["edit_distance", "normalize_words", "word_error_rate"]

T = TypeVar("T")

_NON_WORD = re.compile(r"[^\w\s']")


def normalize_words(text: str) -> list[str]:
    """Lowercase words without punctuation (apostrophes kept: "it's" stays one word)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _NON_WORD.sub(" ", text.replace("-", " "))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words in the reference.

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def edit_distance(
    first: Sequence[T], second: Sequence[T], change: Callable[[T, T], float] | None = None
) -> float:
    """Levenshtein distance: 1 per inserted or deleted item, ``change(x, y)`` per changed
    one (default 1 when they differ), computed one row at a time."""
    previous = [float(j) for j in range(len(second) + 1)]
    for i, x in enumerate(first, 1):
        current = [float(i)]
        for j, y in enumerate(second, 1):
            cost = (0.0 if x == y else 1.0) if change is None else change(x, y)
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]
