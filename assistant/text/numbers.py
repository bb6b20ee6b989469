"""Language-neutral machinery for reading numbers, units and abbreviations aloud.

A language module (``numbers_en``) supplies the tables (unit and currency names,
abbreviations) and its own rules for years, times and fractions; what is here only
applies tables. Digits are mostly kept: the voice's espeak-ng reads plain numbers,
decimals, negatives and thousands separators well in its own language, and keeping them
keeps each language's rules small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "NUMBER",
    "Abbreviation",
    "Currency",
    "Unit",
    "abbreviation_rule",
    "alternation",
    "currency_rules",
    "unit_rule",
]

# A written number: "5", "-3.5", "1,000,000", "0.25". Not inside a word or a dotted name.
NUMBER = r"(?<![\w.,])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])[-−]?\d+(?:\.\d+)?"
# What may not follow a number for it to be whole (not "1.2.3", "5,6", "1e6").
_END = r"(?![\w.,]?\d)"

Rule = Callable[[str], str]


@dataclass(frozen=True)
class Unit:
    """How a unit written after a number is read."""

    one: str
    """After exactly 1: "kilometer"."""
    many: str
    """After any other number (including 1.0): "kilometers"."""


@dataclass(frozen=True)
class Currency:
    """How an amount of money is read."""

    one: str
    """Main unit after exactly 1: "dollar"."""
    many: str
    """Main unit otherwise: "dollars"."""
    cent_one: str = ""
    """Hundredth after exactly 1: "cent"; empty when the currency has none (yen)."""
    cent_many: str = ""
    """Hundredths otherwise: "cents"."""


@dataclass(frozen=True)
class Abbreviation:
    """A written abbreviation and what to say instead."""

    pattern: str
    """Regular expression of the written form, e.g. ``r"\\be\\.g\\."``."""
    spoken: str
    """What to say; may use the pattern's groups (``\\1``)."""
    ignore_case: bool = False


def alternation(words: Sequence[str]) -> str:
    """A regex alternative of literal ``words``, longest first (so "km/h" beats "km")."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _is_one(number: str) -> bool:
    return number.lstrip("-−") == "1"


def unit_rule(units: Mapping[str, Unit], *, spaced_only: Sequence[str] = ()) -> Rule:
    """Expand units after numbers: "5 km" -> "5 kilometers", "1 km" -> "1 kilometer".

    Units in ``spaced_only`` need a space before them ("5 s", but "the 1990s" and
    "5s" are left alone).
    """
    tight = [u for u in units if u not in spaced_only]
    symbols = f"(?:{alternation(tight)})|(?<= )(?:{alternation(spaced_only)})"
    # A unit is a whole token: not followed by a letter, digit or further "/unit".
    pattern = re.compile(rf"({NUMBER}){_END} ?({symbols})(?![\w/²³°%])")

    def expand(match: re.Match[str]) -> str:
        number, symbol = match.group(1), match.group(2)
        unit = units[symbol]
        return f"{number} {unit.one if _is_one(number) else unit.many}"

    return lambda text: pattern.sub(expand, text)


def currency_rules(
    symbols: Mapping[str, Currency],
    codes: Mapping[str, Currency],
    scales: Mapping[str, str],
    *,
    minus: str,
) -> Rule:
    """Read money: "$5.50" -> "5 dollars 50 cents", "$2.5M" -> "2.5 million dollars",
    "-€3" -> "minus 3 euros", "5 EUR" -> "5 euros".

    ``symbols`` are written before the amount ("$"), ``codes`` after it ("USD", "€" as
    many write it); ``scales`` maps "M", "bn", "million" to the spoken scale word.
    """
    scale = rf"(?: ?({alternation(list(scales))})\b)?"
    before = re.compile(
        rf"(?<![\w.])([-−]?)({alternation(list(symbols))}) ?(\d[\d,]*(?:\.\d+)?){_END}{scale}"
    )
    after = re.compile(rf"({NUMBER}){_END}{scale} ?({alternation(list(codes))})(?!\w)")

    def say(sign: str, amount: str, scale_word: str | None, money: Currency) -> str:
        words = [minus] if sign else []
        if scale_word:
            return " ".join([*words, amount, scales[scale_word], money.many])
        whole, _, frac = amount.partition(".")
        if frac and (len(frac) != 2 or not money.cent_many):
            # "$2.5" and "$0.125" are read as decimals of the main unit.
            return " ".join([*words, amount, money.many])
        cents = int(frac) if frac else 0
        if whole.replace(",", "").strip("0") or not cents:
            words += [whole, money.one if whole == "1" else money.many]
        if cents:
            words += [str(cents), money.cent_one if cents == 1 else money.cent_many]
        return " ".join(words)

    def expand_before(match: re.Match[str]) -> str:
        sign, symbol, amount, scale_word = match.groups()
        return say(sign, amount, scale_word, symbols[symbol])

    def expand_after(match: re.Match[str]) -> str:
        number, scale_word, code = match.groups()
        sign = "-" if number[0] in "-−" else ""
        return say(sign, number.lstrip("-−"), scale_word, codes[code])

    return lambda text: after.sub(expand_after, before.sub(expand_before, text))


def abbreviation_rule(abbreviations: Sequence[Abbreviation]) -> Rule:
    """Replace each abbreviation, in order, by what is said for it."""
    compiled = [
        (re.compile(a.pattern, re.I if a.ignore_case else 0), a.spoken) for a in abbreviations
    ]

    def expand(text: str) -> str:
        for pattern, spoken in compiled:
            text = pattern.sub(spoken, text)
        return text

    return expand
