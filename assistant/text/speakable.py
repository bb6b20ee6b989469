"""Turning a model's written reply into text a voice should read out.

Language models write for screens: markdown emphasis, headings, bullets, code, links and
emoji. Read literally they sound absurd ("asterisk asterisk"), so they are removed or
replaced by what a person would say. Numbers, units, money and abbreviations are then
written out by the rules of the voice's language (``numbers_en`` for English); a
language without rules is left to the voice's own phonemizer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from . import numbers_en

__all__ = ["speakable", "supported_languages"]

log = logging.getLogger(__name__)

# Language code (the part of "en_US" before the "_") -> its rules. Add a language by
# writing a ``numbers_<code>.py`` with a ``normalize(text) -> str`` and listing it here.
_LANGUAGES: dict[str, Callable[[str], str]] = {"en": numbers_en.normalize}

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.M)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\ufe0f\u200d]+"
)
_SPACES = re.compile(r"[ \t]+")


def supported_languages() -> list[str]:
    """Language codes with rules for numbers, units and abbreviations."""
    return sorted(_LANGUAGES)


def speakable(text: str, language: str = "en") -> str:
    """Plain speakable text: no markdown, code, URLs or emoji; numbers, units and
    abbreviations written as said in ``language`` ("en", "en_US", "en-GB"); whitespace
    tidied."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("a link", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _TABLE_RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = _QUOTE.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _EMOJI.sub("", text)
    text = _normalizer(language)(text)
    text = text.replace("|", ", ").replace("*", "").replace("#", "")
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _normalizer(language: str) -> Callable[[str], str]:
    code = language.replace("-", "_").split("_")[0].lower()
    rules = _LANGUAGES.get(code)
    if rules is None:
        log.debug("no number rules for language %r; leaving them to the voice", language)
        return lambda text: text
    return rules
