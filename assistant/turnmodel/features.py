"""Text features of an end-of-turn model: the transcript so far as hashed feature ids.

Shared by the runtime scorer (:mod:`.scorer`) and the trainer (``training/turn``), so the
two can never disagree. Pure Python: no numpy, no torch. What decides whether a turn is
finished sits at its end (the last words, the closing punctuation, a filler or a
conjunction left hanging) and, for questions, at its start; the features say exactly that
and no more (more words let a model this small memorise its training lines).
"""

from __future__ import annotations

import re
import zlib

__all__ = ["FEATURE_VERSION", "HANGING", "MAX_FEATURES", "PAD", "featurize", "hangs", "words"]

FEATURE_VERSION = 1
"""Bumped whenever :func:`featurize` changes; a model states the version it was trained on."""
MAX_FEATURES = 12
"""Ids per transcript (padded with :data:`PAD`)."""
PAD = 0
"""The padding id: its embedding is zero."""

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

HANGING = frozenset(
    "a an the of to in on at for with and or but if is are was my your his her its our"  # noqa: SIM905
    " their this that these those from by about than as um uh erm because".split()
)
"""Words a finished turn does not end on ("How long does it take to?", "Tell me about
the.", "..., um"), whatever punctuation the recogniser put after them."""


def words(text: str) -> list[str]:
    """The lowercase words of ``text`` (apostrophes kept inside words: ``don't``)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def hangs(text: str) -> bool:
    """Whether ``text`` ends on one of :data:`HANGING`."""
    ws = words(text)
    return bool(ws) and ws[-1] in HANGING


def _ending(text: str) -> str:
    stripped = text.rstrip()
    if stripped.endswith(("...", "\u2026")):
        return "..."
    if stripped[-1:] in {".", "?", "!", ",", ";", ":", "-"}:
        return stripped[-1]
    return "none"


def _length_bucket(n: int) -> str:
    for limit in (1, 2, 3, 5, 8, 12, 20):
        if n <= limit:
            return str(limit)
    return "many"


def featurize(text: str, buckets: int) -> list[int]:
    """``text``'s feature ids in ``[1, buckets)``, padded with :data:`PAD` to
    :data:`MAX_FEATURES` (a fixed length, so batches need no ragged handling)."""
    ws = words(text) or ["<empty>"]
    end = _ending(text) if text.strip() else "none"
    last = ws[-1]
    last2 = " ".join(ws[-2:])
    first = ws[0]
    n = _length_bucket(len(ws))
    names = [
        "bias",
        f"end={end}",
        f"w1={last}",
        f"w2={last2}",
        f"w1+end={last}|{end}",
        f"w2+end={last2}|{end}",
        f"w-2={ws[-2] if len(ws) > 1 else '<s>'}",
        f"first={first}",
        f"first+end={first}|{end}",
        f"len={n}",
        f"len+end={n}|{end}",
    ]
    ids = [1 + zlib.crc32(name.encode("utf-8")) % (buckets - 1) for name in names]
    ids = ids[:MAX_FEATURES]
    return ids + [PAD] * (MAX_FEATURES - len(ids))
