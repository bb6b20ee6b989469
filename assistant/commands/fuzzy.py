"""A transcript that nearly reads as a command: misheard words swapped for the command
words they sound like ("value up" -> "volume up", "be quite" -> "be quiet", "convert to
leaders to cops" -> "... liters to cups").

Tried only when the transcript matches nothing as heard; a swap is kept only if the whole
transcript then matches a command whose words are all known (a template, a unit, a sum),
never one that captures free text (a note, a reminder's task, an application's name), so
an ordinary question that happens to sound like a command word still reaches the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import combinations
from typing import Any

from .sounds import near_onset, sound_distance, sound_key

__all__ = [
    "FREE_TEXT_INTENTS",
    "FREE_TEXT_SLOTS",
    "PATTERN_WORDS",
    "SoundRepair",
    "acceptable",
    "template_words",
]

FREE_TEXT_INTENTS = frozenset({"Open", "AddNote", "SetReminder", "FindNotes", "TimeInCity"})
"""Intents whose slots take any words: never reached by a swapped word."""

FREE_TEXT_SLOTS = frozenset({"name", "start_name", "what", "task", "note", "topic", "words"})
"""Slots that take any words (a timer's name...): a match with one is no repair."""

PATTERN_WORDS = (
    "remind me wake alarm alarms reminder reminders cancel delete remove clear disable "
    "convert calculate compute times plus minus divided multiplied by percent square root "
    "power squared cubed what's is how many much in to into timer timers for of hour hours "
    "minute minutes second seconds set start create all my the a an at tomorrow today "
    "tonight morning evening afternoon night am pm o'clock past half quarter noon midnight"
)
"""The fixed words of the project's patterns (:mod:`.patterns`)."""


def template_words(intents: dict[str, Any]) -> set[str]:
    """Every word hassil's input dictionary ``intents`` can match literally: the words of
    its sentences and of the expansion rules they use."""
    rules: dict[str, Any] = intents.get("expansion_rules", {})
    words: set[str] = set()
    seen: set[str] = set()

    def take(text: str) -> None:
        words.update(re.findall(r"[a-z']+", re.sub(r"<[^>]*>|\{[^}]*\}", " ", text.lower())))
        for rule in re.findall(r"<([^>]+)>", text):
            if rule not in seen and rule in rules:
                seen.add(rule)
                take(str(rules[rule]))

    for intent in intents.get("intents", {}).values():
        for block in intent.get("data", []):
            for sentence in block.get("sentences", []):
                take(sentence)
    return words


def _allowed(word_key: str, candidate_key: str, distance: float) -> bool:
    """Strict: at most one sound apart, half a sound in a word of one or two."""
    return distance <= (0.5 if max(len(word_key), len(candidate_key)) <= 2 else 1.0)


def acceptable(intent: str, slots: dict[str, Any]) -> bool:
    """Whether a match of a repaired transcript stands: its words are all fixed ones."""
    if intent in FREE_TEXT_INTENTS or FREE_TEXT_SLOTS & slots.keys():
        return False
    return intent != "SetAlarm" or "time" in slots


class SoundRepair:
    """Versions of a transcript with misheard words swapped for command words.

    Args:
        vocabulary: the command words (the templates', the patterns', units, numbers).
        attempts: at most this many versions per transcript (each costs one match).
    """

    def __init__(self, vocabulary: Iterable[str], attempts: int = 12) -> None:
        self.vocabulary = frozenset(w for w in vocabulary if w)
        self.attempts = attempts
        by_key: dict[str, list[str]] = {}
        for word in sorted(self.vocabulary):
            by_key.setdefault(sound_key(word), []).append(word)
        self._by_key = by_key

    def neighbours(self, word: str) -> list[tuple[float, str]]:
        """The command words that ``word`` may be a mishearing of, nearest first."""
        if self.known(word):
            return []
        key = sound_key(word)
        if not key:
            return []
        found: list[tuple[float, str]] = []
        for other_key, others in self._by_key.items():
            # Cheap bounds first: each sound more or less costs 1, another onset 2.
            if abs(len(other_key) - len(key)) > 1 or not near_onset(key, other_key):
                continue
            distance = sound_distance(word, others[0])
            if _allowed(key, other_key, distance):
                found.extend((distance, other) for other in others if other != word)
        return sorted(found)

    def known(self, token: str) -> bool:
        """Whether ``token`` is a command word or a number."""
        return token in self.vocabulary or (not token.isalpha() and "'" not in token)

    def resegmented(self, tokens: list[str]) -> Iterator[str]:
        """``tokens`` with one letter moved across a word boundary where a pair with an
        unknown word becomes two command words ("speaks lower" -> "speak slower")."""
        for i in range(len(tokens) - 1):
            a, b = tokens[i], tokens[i + 1]
            if self.known(a) and self.known(b):
                continue
            for left, right in ((a[:-1], a[-1:] + b), (a + b[:1], b[1:])):
                if left and right and self.known(left) and self.known(right):
                    yield " ".join([*tokens[:i], left, right, *tokens[i + 2 :]])

    def versions(self, words: str) -> Iterator[str]:
        """``words`` with a letter moved across a word boundary (:meth:`resegmented`),
        then one misheard word swapped (the nearest first), then two; at most
        :attr:`attempts` versions. None when more than two words are no command
        words (two swaps cannot make it one; ordinary questions stop here)."""
        tokens = words.split()
        if sum(not self.known(token) for token in tokens) > 2:
            return
        tried = 0
        for version in self.resegmented(tokens):
            if tried >= self.attempts:
                return
            tried += 1
            yield version
        options = [[(d, w) for d, w in self.neighbours(token)[:2]] for token in tokens]
        singles = sorted((d, i, w) for i, near in enumerate(options) for d, w in near)
        for _d, i, w in singles:
            if tried >= self.attempts:
                return
            tried += 1
            yield " ".join([*tokens[:i], w, *tokens[i + 1 :]])
        pairs = sorted(
            (a[0] + b[0], (i, a[1]), (j, b[1]))
            for i, j in combinations(range(len(tokens)), 2)
            for a in options[i][:1]
            for b in options[j][:1]
        )
        for _d, (i, a), (j, b) in pairs:
            if tried >= self.attempts:
                return
            tried += 1
            swapped = list(tokens)
            swapped[i], swapped[j] = a, b
            yield " ".join(swapped)
