"""Text features of an end-of-turn model: the transcript so far as ids.

Shared by the runtime scorer (:mod:`.scorer`) and the trainer (``training/turn``), so the
two can never disagree. Pure Python: no numpy, no torch. What decides whether a turn is
finished sits at its end (the last words, the closing punctuation, a filler or a
conjunction left hanging) and, for questions, at its start.

Two encodings, told apart by the ``feature_version`` a model's companion states:

- version 1 (:func:`featurize`): a bag of hashed features (the last words, the closing
  mark, the first word, the length), for a model that sums their embeddings;
- version 2 (:func:`encode`): the transcript as a sequence of word and punctuation ids
  from the model's own vocabulary (its first words, then its last :data:`SEQ_LEN` - 5
  tokens), for a model that reads them in order (a GRU): it can tell "What is the
  capital of Australia?" from "What is the capital of?" by what comes after "of".
"""

from __future__ import annotations

import re
import zlib

__all__ = [
    "FEATURE_VERSION",
    "FEATURE_VERSIONS",
    "GAP",
    "HANGING",
    "MAX_FEATURES",
    "NUM",
    "PAD",
    "SEQ_LEN",
    "SPECIALS",
    "START",
    "UNK",
    "encode",
    "featurize",
    "hangs",
    "tokens",
    "words",
]

FEATURE_VERSION = 2
"""The encoding :mod:`training.turn` trains with now (:func:`encode`); bumped whenever it
changes. A model states the version it was trained on."""
FEATURE_VERSIONS = (1, 2)
"""The versions the runtime still computes: 1, :func:`featurize`; 2, :func:`encode`."""
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


# ------------------------------------------------------------------ version 2: sequences

SEQ_LEN = 24
"""Ids per transcript in version 2 (left-padded with :data:`PAD`)."""
SPECIALS = ("<pad>", "<unk>", "<num>", "<s>", "<gap>")
"""The first ids of every version-2 vocabulary: padding (0), a word the vocabulary lacks,
a number, the start of the transcript, the middle left out of a long one."""
UNK, NUM, START, GAP = 1, 2, 3, 4

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|\.\.\.|[.?!,;:]|-(?=\s|$)")


def tokens(text: str) -> list[str]:
    """``text``'s lowercase words and punctuation marks, in order (an ellipsis is one
    token, "…" is written "...")."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'").replace("\u2026", "..."))


def encode(text: str, vocab: dict[str, int]) -> list[int]:
    """``text`` as :data:`SEQ_LEN` ids of ``vocab`` (word -> id, from :data:`SPECIALS`
    on): the start mark, the tokens, left-padded; a long transcript keeps its first three
    tokens and its last ``SEQ_LEN - 5``, with the gap marked between them."""
    toks = tokens(text)
    if len(toks) > SEQ_LEN - 1:
        keep = SEQ_LEN - 5
        toks = [*toks[:3], "<gap>", *toks[-keep:]]
    ids = [START]
    for tok in toks:
        if tok in vocab:
            ids.append(vocab[tok])
        elif tok[0].isdigit():
            ids.append(NUM)
        else:
            ids.append(UNK)
    return [PAD] * (SEQ_LEN - len(ids)) + ids
