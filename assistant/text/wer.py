"""Word error rate, for checking what ASR heard against what was said."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_words", "word_error_rate"]

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
    # Levenshtein distance over words, one row at a time.
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
