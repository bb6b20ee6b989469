"""Unit conversions with pint, from the names people say ("degrees fahrenheit", "miles
per hour", "cups"). Recognising a unit name needs no pint; converting loads pint's
registry once (about half a second), on first use or ahead of time with :func:`preload`."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["UnitError", "convert", "preload", "unit_name", "unit_words"]

# Spoken name (singular) -> pint's name. Plurals are found by dropping an "s"/"es".
_NAMES = {
    "meter": "meter", "metre": "meter", "kilometer": "kilometer", "kilometre": "kilometer",
    "km": "kilometer", "centimeter": "centimeter", "centimetre": "centimeter", "cm": "centimeter",
    "millimeter": "millimeter", "millimetre": "millimeter", "mm": "millimeter",
    "mile": "mile", "yard": "yard", "foot": "foot", "feet": "foot", "inch": "inch",
    "inches": "inch", "nautical mile": "nautical_mile",
    "gram": "gram", "kilogram": "kilogram", "kilo": "kilogram", "kg": "kilogram",
    "milligram": "milligram", "pound": "pound", "lb": "pound", "ounce": "ounce", "oz": "ounce",
    "stone": "stone", "ton": "metric_ton", "tonne": "metric_ton",
    "liter": "liter", "litre": "liter", "milliliter": "milliliter", "millilitre": "milliliter",
    "ml": "milliliter", "gallon": "gallon", "quart": "quart", "pint": "pint", "cup": "cup",
    "tablespoon": "tablespoon", "teaspoon": "teaspoon", "fluid ounce": "fluid_ounce",
    "celsius": "degC", "degree celsius": "degC", "degrees celsius": "degC",
    "centigrade": "degC", "fahrenheit": "degF", "degree fahrenheit": "degF",
    "degrees fahrenheit": "degF", "kelvin": "kelvin",
    "second": "second", "minute": "minute", "hour": "hour", "day": "day", "week": "week",
    "year": "year",
    "mile per hour": "mile/hour", "miles per hour": "mile/hour", "mph": "mile/hour",
    "kilometer per hour": "kilometer/hour", "kilometers per hour": "kilometer/hour",
    "kilometres per hour": "kilometer/hour", "km/h": "kilometer/hour",
    "meter per second": "meter/second", "meters per second": "meter/second",
    "knot": "knot", "square meter": "meter**2", "square metre": "meter**2",
    "square foot": "foot**2", "square feet": "foot**2", "acre": "acre", "hectare": "hectare",
    "calorie": "kilocalorie", "kilocalorie": "kilocalorie", "joule": "joule",
    "kilojoule": "kilojoule", "kilowatt hour": "kilowatt_hour", "watt": "watt",
    "kilowatt": "kilowatt", "horsepower": "horsepower", "byte": "byte", "kilobyte": "kilobyte",
    "megabyte": "megabyte", "gigabyte": "gigabyte", "terabyte": "terabyte",
}  # fmt: skip


class UnitError(ValueError):
    """The two units cannot be converted into each other (miles into kilograms)."""


def unit_name(spoken: str) -> str | None:
    """pint's name for a spoken unit name, or ``None`` when it is not one."""
    words = spoken.strip().lower().removeprefix("the ").strip()
    for candidate in (words, words.removesuffix("s"), words.removesuffix("es")):
        if candidate in _NAMES:
            return _NAMES[candidate]
    return None


def unit_words() -> set[str]:
    """The words of the unit names, singular and plural ("miles", "per", "hour")."""
    words = {w for name in _NAMES for w in name.split() if w.isalpha()}
    return words | {f"{w}es" if w.endswith(("ch", "s")) else f"{w}s" for w in words}


_lock = threading.Lock()
_registry: Any = None


def preload() -> Any:
    """Load pint's unit registry (once); returns it."""
    global _registry
    with _lock:
        if _registry is None:
            import pint

            _registry = pint.UnitRegistry(cache_folder=None)
        return _registry


def convert(quantity: float, source: str, target: str) -> float:
    """``quantity`` of pint unit ``source`` in pint unit ``target``."""
    import pint

    registry = preload()
    try:
        return float(registry.Quantity(quantity, source).to(target).magnitude)
    except pint.DimensionalityError as exc:
        raise UnitError(f"{source} cannot be converted to {target}") from exc
