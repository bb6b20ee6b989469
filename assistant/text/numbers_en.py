"""English: numbers, units, money and abbreviations as a person would say them.

espeak-ng (which phonemizes Piper's English voices) already reads plain integers,
decimals, negatives, thousands separators ("1,000,000"), ordinals ("23rd"), "%", "&",
"+", "=", "@", "×", "a.m./PM", initialisms ("AI", "GPU"; "NASA" as a word) and "½" well,
so those keep their digits. What it gets wrong, and is rewritten here: unit symbols
("km" as "k m"), currency ("$5" as "dollar five"), years ("1850" as "one thousand eight
hundred fifty"), clock times ("10:05" as "ten zero five"), fractions and ranges ("1/2" and
"5-10" as "slash" and "dash"), and abbreviations ("e.g." as "e g"; "Dr." also ends
espeak's sentence, an audible pause).
"""

from __future__ import annotations

import re

from .numbers import (
    NUMBER,
    Abbreviation,
    Currency,
    Unit,
    abbreviation_rule,
    alternation,
    currency_rules,
    unit_rule,
)

__all__ = ["normalize", "number_words"]

_ONES = """zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen""".split()  # noqa: SIM905
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0-99 in words: 42 -> "forty-two" (enough for years, clock times, fractions)."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _plural(word: str) -> str:
    """Plural of a number word: "ninety" -> "nineties", "six" -> "sixes"."""
    if word.endswith("y"):
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("x", "s")) else "s")


def _ordinal_suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _u(one: str, many: str | None = None) -> Unit:
    return Unit(one, many or one + "s")


_UNITS = {
    "km": _u("kilometer"), "m": _u("meter"), "cm": _u("centimeter"),
    "mm": _u("millimeter"), "µm": _u("micrometer"), "μm": _u("micrometer"),
    "nm": _u("nanometer"), "mi": _u("mile"), "ft": _u("foot", "feet"), "yd": _u("yard"),
    "km²": _u("square kilometer"), "m²": _u("square meter"), "m³": _u("cubic meter"),
    "kg": _u("kilogram"), "g": _u("gram"), "mg": _u("milligram"), "µg": _u("microgram"),
    "lb": _u("pound"), "lbs": _u("pound"), "oz": _u("ounce"),
    "l": _u("liter"), "L": _u("liter"), "ml": _u("milliliter"), "mL": _u("milliliter"),
    "TB": _u("terabyte"), "GB": _u("gigabyte"), "MB": _u("megabyte"),
    "KB": _u("kilobyte"), "kB": _u("kilobyte"),
    "GHz": _u("gigahertz", "gigahertz"), "MHz": _u("megahertz", "megahertz"),
    "kHz": _u("kilohertz", "kilohertz"), "Hz": _u("hertz", "hertz"),
    "kW": _u("kilowatt"), "MW": _u("megawatt"), "W": _u("watt"),
    "kWh": _u("kilowatt hour"), "mAh": _u("milliamp hour"), "V": _u("volt"),
    "h": _u("hour"), "hr": _u("hour"), "hrs": _u("hour"), "min": _u("minute"),
    "s": _u("second"), "sec": _u("second"), "ms": _u("millisecond"),
    "µs": _u("microsecond"), "μs": _u("microsecond"),
    "km/h": _u("kilometer per hour", "kilometers per hour"), "kph": _u(
        "kilometer per hour", "kilometers per hour"),
    "mph": _u("mile per hour", "miles per hour"),
    "m/s": _u("meter per second", "meters per second"),
    "°C": _u("degree Celsius", "degrees Celsius"),
    "°F": _u("degree Fahrenheit", "degrees Fahrenheit"),
    "°": _u("degree"), "%": _u("percent", "percent"),
}  # fmt: skip
# Single letters that are also words or plural endings need a space: "5 s", not "5s".
_SPACED_ONLY = ("s", "h", "m", "g", "l", "L", "V", "W")

_DOLLAR = Currency("dollar", "dollars", "cent", "cents")
_EURO = Currency("euro", "euros", "cent", "cents")
_POUND = Currency("pound", "pounds", "penny", "pence")
_YEN = Currency("yen", "yen")
_CURRENCY_SYMBOLS = {"$": _DOLLAR, "US$": _DOLLAR, "€": _EURO, "£": _POUND, "¥": _YEN}
_CURRENCY_CODES = {"USD": _DOLLAR, "EUR": _EURO, "€": _EURO, "GBP": _POUND, "JPY": _YEN}
_SCALES = {
    "k": "thousand", "K": "thousand", "thousand": "thousand",
    "M": "million", "m": "million", "mn": "million", "million": "million",
    "B": "billion", "bn": "billion", "billion": "billion", "trillion": "trillion",
}  # fmt: skip

_MONTHS = """January February March April May June July August September October November
December""".split()  # noqa: SIM905
_MONTH = rf"(?:{'|'.join(_MONTHS)}|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)"

_ABBREVIATIONS = [
    Abbreviation(r"\be\.\s?g\.(?=\W|$)", "for example", ignore_case=True),
    Abbreviation(r"\bi\.\s?e\.(?=\W|$)", "that is", ignore_case=True),
    # "etc." ends a sentence when the text ends or a capital follows; keep that stop.
    Abbreviation(r"\b(?i:etc)\.(?=\s*$|\s+[\"'“(]?[A-Z])", "et cetera."),
    Abbreviation(r"\betc\.?(?!\w)", "et cetera", ignore_case=True),
    Abbreviation(r"\bvs\.?(?!\w)", "versus"),
    Abbreviation(r"\bapprox\.(?!\w)", "approximately", ignore_case=True),
    Abbreviation(r"\bDr\.", "Doctor"),
    Abbreviation(r"\bMr\.", "Mister"),
    Abbreviation(r"\bMrs\.", "Missus"),
    Abbreviation(r"\bMs\.", "Miz"),
    Abbreviation(r"\bProf\.", "Professor"),
    Abbreviation(r"\bJr\.", "Junior"),
    Abbreviation(r"\bSr\.", "Senior"),
    Abbreviation(r"\bMt\.", "Mount"),
    # "St. Louis" is a saint; "Main St." (nothing capitalised after it) a street.
    Abbreviation(r"\bSt\.(?= [A-Z])", "Saint"),
    Abbreviation(r"\bSt\.", "Street"),
    Abbreviation(r"\b(?:No|no|Nr|nr)\. ?(?=\d)", "number "),
    Abbreviation(r"\b(?:Fig|fig)\. ?(?=\d)", "figure "),
    Abbreviation(r"#(?=\d)", "number "),
    Abbreviation(r"[~≈](?=[-$€£¥]?\d)", "about "),
    Abbreviation(r"\bw/o(?!\w)", "without"),
    Abbreviation(r"\bw/(?= )", "with"),
    Abbreviation(r"\band/or\b", "and or"),
    # "yes/no", "input/output": lowercase words only ("TCP/IP" stays, read "slash").
    Abbreviation(r"\b([a-z]{2,})/(?=[a-z]{2,}\b)", r"\1 or "),
]

_ISO_DATE = re.compile(r"(?<![\w-])(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![\w-])")
_MONTH_DAY = re.compile(rf"\b({_MONTH}) (\d{{1,2}})(?![\w:.,]?\d|\w)")
_DAY_MONTH = re.compile(rf"(?<![\w.,])(\d{{1,2}}) (?:of )?(?={_MONTH}(?!\w))")
_TIME = re.compile(
    r"(?<![\w:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])"
    r"(?: ?([ap])\.?m\.?(?!\w)| ?([AP])\.?M\.?(?!\w))?"
)
_DECADE = re.compile(r"(?<![\w.,])(?:'|(\d\d)?)(\d)0'?s\b")
# A 4-digit number 1100-1999 that is not part of a longer number, a range or an amount.
_AFTER_AMOUNT = alternation([*_UNITS, *_CURRENCY_CODES, *_SCALES])
_YEAR = re.compile(
    rf"(?<![\w.,$€£¥-])(1[1-9]\d\d)(?![\w.,:/]?\d|[\w-]| ?(?:{_AFTER_AMOUNT})(?![\w/]))"
)
_UNICODE_FRACTIONS = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅛": "1/8"}
_GROUPED = re.compile(r"(?<![\w.,])\d{1,3}(?:[\u00a0\u202f\u2009]\d{3})+(?!\d)")
_UNICODE_FRACTION = re.compile(rf"(\d?)([{''.join(_UNICODE_FRACTIONS)}])")
_FRACTION = re.compile(r"(?<![\w/.,])(?:(\d+) )?(\d{1,2})/(\d{1,2})(?![\w/]|[.,]\d)")
_IDIOMS = {(24, 7): "twenty-four seven", (50, 50): "fifty-fifty"}
_DENOMINATORS = "_ _ half third quarter fifth sixth seventh eighth ninth tenth".split()  # noqa: SIM905
_MINUS = re.compile(r"(?<=\d) - (?=[$€£¥]?\d[^\n=]*=)")
_RANGE = re.compile(
    rf"(?<![-–])([$€£¥]?(?:{NUMBER}))(?:-|\s*[–—]\s*| - (?![^\n=]*=))([$€£¥]?\d[\d,]*(?:\.\d+)?)"
    r"(?!\d|[-/:]\d|\.\d)"
)
_TIMES = re.compile(r"(?<=\d)[x×](?=$|[\s,.;:!?)])|(?<=\d) ?\* ?(?=\d)")
_DIMENSIONS = re.compile(r"(?<=\d) ?[x×] ?(?=\d)")

_units = unit_rule(_UNITS, spaced_only=_SPACED_ONLY)
_money = currency_rules(_CURRENCY_SYMBOLS, _CURRENCY_CODES, _SCALES, minus="minus")
_abbreviations = abbreviation_rule(_ABBREVIATIONS)


def _year_words(year: int) -> str:
    """1990 -> "nineteen ninety", 1905 -> "nineteen oh five", 1900 -> "nineteen hundred"."""
    century, rest = divmod(year, 100)
    if rest == 0:
        return f"{number_words(century)} hundred"
    if rest < 10:
        return f"{number_words(century)} oh {number_words(rest)}"
    return f"{number_words(century)} {number_words(rest)}"


def _decade(match: re.Match[str]) -> str:
    century, decade = match.group(1), int(match.group(2))
    if century == "20" and decade == 0:
        return "two thousands"
    if century and not 11 <= int(century) <= 20:
        return match.group(0)  # "1000s", "5000s": not decades
    if century and decade == 0:
        return f"{number_words(int(century))} hundreds"
    if decade == 0:
        return match.group(0)  # "the 0s", "00s": leave
    tens = _plural(number_words(decade * 10))
    return f"{number_words(int(century))} {tens}" if century else tens


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    meridiem = (match.group(3) or match.group(4) or "").upper()
    words = [number_words(hour)]
    if minute == 0:
        if not meridiem:
            words.append("o'clock" if 1 <= hour <= 12 else "hundred")
    elif minute < 10:
        words += ["oh", number_words(minute)]
    else:
        words.append(number_words(minute))
    if meridiem:
        words.append(f"{meridiem}M")
    return " ".join(words)


def _fraction(match: re.Match[str]) -> str:
    whole, top, bottom = match.group(1), int(match.group(2)), int(match.group(3))
    if (top, bottom) in _IDIOMS and not whole:
        return _IDIOMS[top, bottom]
    if not 2 <= bottom <= 10 or top == 0:
        return match.group(0)  # "12/25" may be a date; espeak says "slash"
    name = _DENOMINATORS[bottom]
    part = f"{number_words(top)} {name if top == 1 else _plural(name).replace('fs', 'ves')}"
    return f"{whole} and {part}" if whole else part


def _unicode_fraction(match: re.Match[str]) -> str:
    # "1½" -> "1 1/2" (read "1 and one half"); "½" -> "1/2".
    return f"{match.group(1)} {_UNICODE_FRACTIONS[match.group(2)]}".lstrip()


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    return f"{_MONTHS[month - 1]} {day}{_ordinal_suffix(day)}, {year}"


def normalize(text: str) -> str:
    """English text with numbers, units, money and abbreviations written as said."""
    text = _UNICODE_FRACTION.sub(_unicode_fraction, text)
    # "10 000" with a no-break or narrow space: espeak reads each group alone.
    text = _GROUPED.sub(lambda m: re.sub(r"[\u00a0\u202f\u2009]", "", m.group(0)), text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _TIME.sub(_time, text)
    text = _FRACTION.sub(_fraction, text)
    text = _MINUS.sub(" minus ", text)
    text = _RANGE.sub(r"\1 to \2", text)
    text = _DECADE.sub(_decade, text)
    text = _YEAR.sub(lambda m: _year_words(int(m.group(1))), text)
    text = _MONTH_DAY.sub(lambda m: f"{m.group(1)} {m.group(2)}{_ordinal_suffix(int(m[2]))}", text)
    text = _DAY_MONTH.sub(lambda m: f"the {m.group(1)}{_ordinal_suffix(int(m[1]))} of ", text)
    text = _money(text)
    text = _units(text)
    text = _TIMES.sub(" times ", text)
    text = _DIMENSIONS.sub(" by ", text)
    text = _abbreviations(text)
    return re.sub(r"(?<=\S)  +", " ", text)
