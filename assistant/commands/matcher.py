"""Recognises a transcript as a command: Home Assistant's sentence templates and the
project's own through hassil, then the project's patterns for free-text requests."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from .fuzzy import PATTERN_WORDS, SoundRepair, acceptable, template_words
from .patterns import PATTERNS
from .result import IntentMatch
from .spoken import NUMBER, NUMBER_WORDS, normalize
from .templates import intents_dict

__all__ = ["CommandMatcher", "repair"]

log = logging.getLogger(__name__)

_TIME_SLOTS = {"hours": 3600, "minutes": 60, "seconds": 1}

# Whisper's usual mishearings of command words (the tiny model at speed, in noise or on
# a synthetic voice): "set a" heard as "at a" or "set it", "timer" as "time or" or "time",
# "what's" as "watch", "an alarm" as "another arm", "wake me" as "wait me" (also "wait
# me up at 7"), "list" as "let's", "unmute" as "I'm mute", "cancel" as "council" or
# "cancelled", "set a" as "set of" or "set in", "open" glued to a web address. Tried only
# when the words as heard match nothing.
_DURATION_TAIL = rf"{NUMBER} (?:and a half )?(?:hours?|minutes?|seconds?)(?: and .+)?$"
_REPAIRS = (
    (re.compile(r"^at (an?) "), r"set \1 "),
    (re.compile(r"^(set|start) (?:at|it|in|in the|of|on) (?=alarm)"), r"\1 an "),
    (re.compile(rf"^(set|start) (?:at|it|in|in the|of|on) (?={NUMBER} |timer|time or)"), r"\1 a "),
    (re.compile(r"^set it "), "set a "),
    (re.compile(r"^at (?=\S+ (?:minutes?|seconds?|hours?) (?:to|on) )"), "add "),
    (re.compile(r"\btime or\b"), "timer"),
    (re.compile(rf"^(?:(?:set|start) (?:a |an )?)?time (?=for {_DURATION_TAIL})"), "set a timer "),
    (re.compile(r"^watch(?:ing|es)? (?=the |today's |\d|[a-z]+ (?:times|plus|minus) )"), "what's "),
    (re.compile(r"\b(?:another arm|an arm|and alarm)\b"), "an alarm"),
    (re.compile(r"^(?:wait|weight|wake) me(?: up)?,? (?:that's|that|add) "), "wake me at "),
    (re.compile(r"^(?:wait|weight) me (?=up |at )"), "wake me "),
    (re.compile(r"^let's (?=my |all |the )"), "list "),
    (re.compile(r"^i'm mute$"), "unmute"),
    (re.compile(r"^open(?=[a-z0-9-]+\.[a-z]{2,}$)"), "open "),
    (re.compile(r"^(?:cancelled|council|console|counsel) "), "cancel "),
)


def repair(words: str) -> str:
    """``words`` with the usual mishearings of command words undone."""
    for pattern, replacement in _REPAIRS:
        words = pattern.sub(replacement, words)
    return re.sub(r"\s+", " ", words).strip()


def _entity_value(value: Any) -> Any:
    if isinstance(value, int | float):
        return float(value)
    return str(value).strip()


class CommandMatcher:
    """Matches transcripts against the templates and patterns of ``language``.

    Building it parses the templates and warms hassil's number words up (about half a
    second); :meth:`match` then takes about a millisecond.
    """

    def __init__(self, language: str = "en") -> None:
        from hassil import Intents

        self.language = language
        data = intents_dict(language)
        self._intents = Intents.from_dict(data)
        self._sounds: SoundRepair | None = None
        if language == "en":
            from .units import unit_words

            self._sounds = SoundRepair(
                template_words(data) | set(PATTERN_WORDS.split()) | unit_words() | NUMBER_WORDS
            )
        self.match("set a timer for 1 minute")  # the first recognition builds caches

    def match(self, text: str) -> IntentMatch | None:
        """The command ``text`` asks for, or ``None`` (then the language model answers)."""
        started = time.perf_counter()
        words = normalize(text)
        if not words:
            return None
        found = self._find(words)
        if found is None and self.language == "en" and repair(words) != words:
            words = repair(words)
            found = self._find(words)
        if found is None and self._sounds is not None:
            found = self._sounded(words)
        if found is None:
            return None
        intent, slots, source = found
        elapsed = (time.perf_counter() - started) * 1000.0
        return IntentMatch(intent, slots, words, source, match_ms=elapsed)

    def _sounded(self, words: str) -> tuple[str, dict[str, Any], str] | None:
        """The first version of ``words`` with misheard words swapped for command words
        that sounds like them and reads as a command with fixed words only."""
        assert self._sounds is not None
        for version in self._sounds.versions(words):
            found = self._find(version)
            if found is not None and acceptable(found[0], found[1]):
                log.debug("heard %r as %r", words, version)
                return found[0], found[1], "sounds"
        return None

    def _find(self, words: str) -> tuple[str, dict[str, Any], str] | None:
        found = self._templates(words)
        if found is None and self.language == "en":
            found = self._patterns(words)
        return found

    def _templates(self, words: str) -> tuple[str, dict[str, Any], str] | None:
        from hassil import recognize_best

        result = recognize_best(words, self._intents, language=self.language)
        if result is None:
            return None
        slots: dict[str, Any] = {
            name: _entity_value(entity.value) for name, entity in result.entities.items()
        }
        # Durations as one number of seconds: "1 hour and 30 minutes" -> 5400.
        for prefix in ("", "start_"):
            parts = [
                slots.pop(f"{prefix}{unit}") * f
                for unit, f in _TIME_SLOTS.items()
                if f"{prefix}{unit}" in slots
            ]
            if parts:
                slots[f"{prefix}duration"] = float(sum(parts))
        name = result.intent.name
        for extra in ("Extra",):  # the project's additions to an intent of Home Assistant's
            name = name.removesuffix(extra)
        name = {"GetTime": "HassGetCurrentTime", "GetDate": "HassGetCurrentDate",
                "Nevermind": "HassNevermind", "TimerStatus": "HassTimerStatus",
                }.get(name, name)  # fmt: skip
        return name, slots, "hassil"

    def _patterns(self, words: str) -> tuple[str, dict[str, Any], str] | None:
        for pattern in PATTERNS:
            slots = pattern.match(words)
            if slots is not None:
                return pattern.intent, slots, "pattern"
        return None
