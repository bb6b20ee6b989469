"""Arithmetic, percentages and unit conversions, evaluated safely: the words become an
expression for simpleeval, which knows numbers, operators and a few named functions only
(no names, attributes, calls of anything else, and bounded powers), never ``eval``."""

from __future__ import annotations

import logging
import math
from typing import Any

from ..context import Answer, CommandContext
from ..spoken import parse_number
from ..units import UnitError, convert

__all__ = ["INTENTS", "evaluate", "say_measure", "say_number"]

log = logging.getLogger(__name__)

_FUNCTIONS = {"sqrt": math.sqrt, "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x)}


class CalcError(ValueError):
    """The expression is not arithmetic this evaluator accepts."""


def evaluate(expression: str) -> float:
    """The value of an arithmetic ``expression`` (``15*0.01*80``). Raises CalcError for
    anything else: names, attributes, strings, calls other than sqrt and cbrt."""
    import simpleeval

    evaluator = simpleeval.SimpleEval(functions=_FUNCTIONS, names={})
    if len(expression) > 200:
        raise CalcError("too long")
    try:
        value = evaluator.eval(expression)
    except ZeroDivisionError as exc:
        raise CalcError("division by zero") from exc
    except (simpleeval.InvalidExpression, SyntaxError, TypeError, ValueError, OverflowError,
            KeyError, AttributeError) as exc:  # fmt: skip
        raise CalcError(str(exc) or type(exc).__name__) from exc
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalcError(f"not a number: {type(value).__name__}")
    return float(value)


def say_number(value: float) -> str:
    """1234.5 -> "1,234.5"; 2.0 -> "2"; tiny rounding noise removed."""
    if math.isinf(value) or math.isnan(value):
        return "not a number"
    rounded = round(value, 6)
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return f"{int(rounded):,}"
    return f"{rounded:,.6g}" if abs(rounded) >= 1e6 else f"{rounded:,.4f}".rstrip("0").rstrip(".")


def say_measure(value: float, figures: int = 3) -> str:
    """A converted quantity to `figures` significant figures: 8.0467 -> "8.05"; 1234.7 ->
    "1,235". A conversion is an estimate to the ear; four decimals only slow the voice."""
    if value == 0 or math.isinf(value) or math.isnan(value):
        return say_number(value)
    decimals = max(0, figures - 1 - math.floor(math.log10(abs(value))))
    return say_number(round(value, decimals))


def _calculate(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    try:
        value = evaluate(str(slots["expression"]))
    except CalcError as exc:
        log.info("refused to calculate %r: %s", slots.get("raw"), exc)
        if "division by zero" in str(exc):
            return Answer("You can't divide by zero.", declined=True)
        return Answer("I can only calculate with numbers and arithmetic.", declined=True)
    return Answer(f"{slots['raw']} is {say_number(value)}.", data={"value": value})


_UNIT_WORDS = {"degC": "degrees Celsius", "degF": "degrees Fahrenheit"}


def _unit_words(unit: str, value: float) -> str:
    if unit in _UNIT_WORDS:
        return _UNIT_WORDS[unit]
    word = unit.replace("**2", "").replace("_", " ").replace("/", " per ")
    word = ("square " + word) if "**2" in unit else word
    if value == 1:
        return word
    return {"foot": "feet", "inch": "inches", "square foot": "square feet"}.get(
        word, word.replace(" per ", "s per ", 1) if " per " in word else word + "s"
    )


def _convert(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    quantity = parse_number(str(slots["quantity"]))
    if quantity is None:
        return Answer("I didn't catch the number.", declined=True)
    try:
        value = convert(quantity, slots["from"], slots["to"])
    except UnitError:
        return Answer(
            f"{_unit_words(slots['from'], 2)} can't be converted to {_unit_words(slots['to'], 2)}.",
            declined=True,
        )
    source = f"{say_number(quantity)} {_unit_words(slots['from'], quantity)}"
    # "5 miles, in kilometers, is 8.05.": a short first clause, spoken while the rest is
    # made (a reply's first piece ends at a comma).
    target = _unit_words(slots["to"], 2)
    return Answer(f"{source}, in {target}, is {say_measure(value)}.", data={"value": value})


INTENTS = {"Calculate": _calculate, "Convert": _convert}
