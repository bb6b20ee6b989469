"""How alike two English words sound, for repairing a transcript's misheard command words.

A speech recogniser that mishears a command word usually writes another word that sounds
like it: "value up" for "volume up", "be quite" for "be quiet", "leaders" for "liters",
"cops" for "cups". :func:`sound_key` spells a word roughly as it sounds (consonants by
their sound, every run of vowels as one ``a``) and :func:`sound_distance` is an edit
distance between two keys in which near sounds (t/d, p/b, k/g, s/z, f/v, m/n) cost half.

Pure Python, no pronouncing dictionary: it is coarse, so the caller accepts a repair only
when the repaired transcript then reads as a whole command.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import edit_distance

__all__ = ["near_onset", "sound_distance", "sound_key"]

_SPELLINGS = (
    (r"^kn", "n"),
    (r"^wr", "r"),
    (r"^wh", "w"),
    (r"^x", "s"),
    (r"[st]ion", "xan"),
    (r"ough|augh", "o"),
    (r"igh", "i"),
    (r"ph", "f"),
    (r"ck", "k"),
    (r"qu", "kw"),
    (r"sh|ch|sch", "x"),
    (r"th", "0"),
    (r"dg", "j"),
    (r"c(?=[eiy])", "s"),
    (r"c", "k"),
    (r"q", "k"),
    (r"x", "ks"),
    (r"z", "s"),
    (r"gh", "g"),
    (r"(?<=[aeiouy])h", ""),
    (r"(?<=.)h(?=[^aeiouy]|$)", ""),
)
"""Spellings and the sound they stand for, in the order they are rewritten."""

_NEAR = (frozenset("td"), frozenset("pb"), frozenset("kg"), frozenset("sz"),
         frozenset("fv"), frozenset("mn"), frozenset("0d"), frozenset("0t"),
         frozenset("lr"))  # fmt: skip
"""Pairs of sounds a recogniser easily takes for each other: swapping them costs half."""


@lru_cache(maxsize=4096)
def sound_key(word: str) -> str:
    """``word`` spelt roughly as it sounds: "quiet" and "quite" -> ``kwat``, "cups" and
    "cops" -> ``kaps``, "volume" -> ``valam``."""
    key = re.sub(r"[^a-z]", "", word.lower())
    if len(key) > 3:
        key = re.sub(r"(?<=[^aeiouy])e(s?)$", r"\1", key)  # a silent final e: "mute"
    for spelling, sound in _SPELLINGS:
        key = re.sub(spelling, sound, key)
    key = re.sub(r"^y(?=[aeiou])", "j", key)  # "you", "year": a consonant
    key = re.sub(r"[aeiouy]+(?:w(?![aeiouy]))?", "a", key)  # one vowel sound per run
    key = re.sub(r"(.)\1+", r"\1", key)  # doubled letters: one sound
    return key


def near_onset(first_key: str, second_key: str) -> bool:
    """Whether two sound keys start alike or with near sounds (else they are at least
    two apart)."""
    return first_key[:1] == second_key[:1] or _change(first_key[:1], second_key[:1]) < 1.0


def _change(x: str, y: str) -> float:
    return 0.0 if x == y else 0.5 if frozenset((x, y)) in _NEAR else 1.0


@lru_cache(maxsize=65536)
def sound_distance(first: str, second: str) -> float:
    """The edit distance between the sound keys of two words: 1 per inserted, deleted or
    changed sound, 0.5 for a change between near sounds (t/d, p/b, m/n...), and a
    different first sound counted twice (a word's onset is what a listener, and a
    recogniser, hears best: "wider" is not "louder")."""
    a, b = sound_key(first), sound_key(second)
    if a == b:
        return 0.0
    if not a or not b:
        return float(max(len(a), len(b)) + 1)
    return edit_distance(a, b, _change) + _change(a[0], b[0])
