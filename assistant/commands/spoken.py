"""Spoken numbers, durations and times of day, as a transcript writes them.

Whisper writes "5 minutes", "five minutes", "1:30", "7.30 a.m." or "half an hour";
typed chat adds "90s" and "2h". These parsers accept all of those and say ``None``
when the words are not a duration or a time (the caller then asks or declines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "NUMBER",
    "NUMBER_WORDS",
    "WhenSpec",
    "normalize",
    "parse_duration",
    "parse_number",
    "parse_when",
    "say_duration",
    "say_time",
]

_UNITS = {
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_WORD = "|".join(sorted([*_UNITS.keys() - {"a", "an"}, *_TENS, "hundred"], key=len, reverse=True))

NUMBER_WORDS = frozenset([*_UNITS, *_TENS, "hundred", "half", "quarter"])
"""The words of spoken numbers."""

NUMBER = rf"(?:-?\d+(?:[.,]\d+)?|(?:(?:{_WORD})(?:[ -](?:and[ -])?)?)+)"
"""A regular expression for one spoken or written number (digits or English words)."""


def normalize(text: str) -> str:
    """Lower-case ``text``, drop the punctuation a transcript adds around the words and
    the politeness and fillers around a request ("please", "could you", "... now")."""
    text = text.lower().replace("’", "'").replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"[!?;\"“”]|[.,:](?=\s|$)", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^(?:(?:hey|ok|okay|so|um|uh|hi|just|and|now),? )*", "", text)
    text = re.sub(
        r"^(?:please |(?:can|could|would|will) you(?: please)? |i'd like you to |i want you to )",
        "",
        text,
    )
    # Politeness and fillers after the request: "be quiet now", "stop talking please".
    return re.sub(r"(?: please| thanks| thank you| now| right now| then)+$", "", text).strip()


def parse_number(text: str) -> float | None:
    """ "7" -> 7, "2.5" -> 2.5, "twenty five" -> 25, "a" -> 1, "half" -> 0.5; else ``None``."""
    text = text.strip().lower()
    if re.fullmatch(r"-?\d+(?:[.,]\d+)?", text):
        return float(text.replace(",", "."))
    words = [w for w in re.split(r"[ -]+", text) if w and w != "and"]
    if not words:
        return None
    if words in (["half"], ["a", "half"]):
        return 0.5
    if words in (["quarter"], ["a", "quarter"]):
        return 0.25
    total = current = 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            return None
    return float(total + current)


_DURATION_UNIT = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
}  # fmt: skip
_DUR_PART = re.compile(
    rf"({NUMBER}|an?|\d+)\s*-?\s*(and a half |and a quarter )?"
    r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|h|m|s)\b"
)


def parse_duration(text: str) -> float | None:
    """Seconds in "5 minutes", "1 hour and 30 minutes", "half an hour", "an hour and a
    half", "90s", "-5 minutes" (negative: the caller declines it); ``None`` if none."""
    text = text.strip().lower()
    text = re.sub(r"^(?:a |an )?(?:half an? hour|half hour)$", "30 minutes", text)
    text = re.sub(r"^(?:a |an )?quarter of an hour$", "15 minutes", text)
    sign = -1.0 if re.match(r"(?:minus|negative|-) ?", text) else 1.0
    text = re.sub(r"^(?:minus|negative|-) ?", "", text)
    total, end, found = 0.0, 0, False
    for match in _DUR_PART.finditer(text):
        gap = text[end : match.start()].strip(" ,")
        if gap not in ("", "and", "in"):  # "in": whisper's mishearing of "and"
            return None
        value = parse_number(match.group(1))
        if value is None:
            return None
        if match.group(2):
            value += 0.5 if "half" in match.group(2) else 0.25
        total += value * _DURATION_UNIT[match.group(3)]
        end, found = match.end(), True
    if not found or text[end:].strip(" ,") not in ("", "and a half"):
        return None
    if text[end:].strip(" ,") == "and a half":
        total *= 1.5
    return sign * total


def say_duration(seconds: float) -> str:
    """5400 -> "1 hour and 30 minutes" (words a voice reads well)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if n
    ]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def say_time(moment: datetime) -> str:
    """14:05 -> "2:05 PM"."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


@dataclass(frozen=True)
class WhenSpec:
    """When a reminder or alarm is due, as said."""

    due: datetime | None
    """The moment (local, naive), or ``None`` when the words name no time."""
    past: bool = False
    """The words name a moment already gone ("yesterday", "today at 3" at 5 o'clock)."""


_CLOCK = re.compile(
    rf"(?P<hour>{NUMBER}|noon|midnight)(?:[:.](?P<min>\d\d)| (?P<minw>o'clock|oh \w+|{NUMBER}))?"
    r"(?: ?(?P<ampm>a\.?m\.?|p\.?m\.?|in the morning|in the afternoon|in the evening|"
    r"at night|tonight))?$"
)
_PART_DEFAULT = {
    "morning": "9 am", "afternoon": "3 pm", "evening": "6 pm", "night": "9 pm", "tonight": "9 pm",
}  # fmt: skip
"""The moment meant by a part of the day said without a clock time ("friday evening")."""
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_when(text: str, now: datetime, *, prefer_morning: bool = False) -> WhenSpec:
    """The moment in "at four", "at 7:30 tomorrow", "tomorrow at 9 pm", "in 10 minutes",
    "at half past seven", "on friday at noon", "yesterday". ``now`` is local and naive.

    A time without AM/PM is the next one to come (``prefer_morning``: the morning one,
    for "wake me at 7")."""
    text = normalize(text)
    if re.search(r"\byesterday\b|\blast (?:night|week)\b|\bago\b", text):
        return WhenSpec(None, past=True)
    rel = re.fullmatch(r"in (.+)", text)
    if rel:
        seconds = parse_duration(rel.group(1))
        if seconds is None:
            return WhenSpec(None)
        return WhenSpec(now + timedelta(seconds=seconds), past=seconds <= 0)
    day_offset: int | None = None
    words = text
    if m := re.search(r"\b(?:the day after tomorrow)\b", words):
        day_offset, words = 2, words.replace(m.group(0), " ")
    elif m := re.search(r"\btomorrow\b", words):
        day_offset, words = 1, words.replace(m.group(0), " ")
    elif m := re.search(r"\btoday\b|\bthis (?=morning|afternoon|evening)|\b(?=tonight\b)", words):
        day_offset, words = 0, words.replace(m.group(0), " ") if m.group(0) else words
    elif m := re.search(rf"\b(?:on |next )?({'|'.join(_DAYS)})\b", words):
        ahead = (_DAYS.index(m.group(1)) - now.weekday()) % 7
        day_offset, words = ahead or 7, words.replace(m.group(0), " ")
    # The part of the day may come anywhere ("tomorrow evening at 6", "at 6 tomorrow
    # evening", "friday morning", "at 8 tonight"): said once, it is the clock's AM/PM.
    part: str | None = None
    if m := re.search(r"\b(?:in the |at )?(morning|afternoon|evening|night|tonight)\b", words):
        part, words = m.group(1), (words[: m.start()] + " " + words[m.end() :])
    words = re.sub(r"\s+", " ", words).strip()
    words = re.sub(r"^(?:at|for|by|on) ", "", words)
    if part is not None and not re.search(r"(?:a\.?m\.?|p\.?m\.?)$", words):
        if not words:
            words = _PART_DEFAULT[part]
        else:
            words = f"{words} {'at night' if part in ('night', 'tonight') else 'in the ' + part}"
    if not words and day_offset:
        words = "9 am"  # "on friday": in the morning
    clock = _clock(words)
    if clock is None:
        return WhenSpec(None)
    hour, minute, ampm = clock
    if part in ("night", "tonight") and day_offset is not None and hour < 5:
        day_offset += 1  # "at 2 tonight", "at 12 at night": the small hours after it
    base = now.replace(second=0, microsecond=0)
    if day_offset is not None:
        day = base + timedelta(days=day_offset)
        hours = [hour] if ampm or hour > 12 else ([hour] if prefer_morning else [hour, hour + 12])
        if not ampm and hour <= 12 and not prefer_morning and day_offset > 0:
            hours = [hour if hour >= 7 else hour + 12]  # "tomorrow at 4" is the afternoon
        for h in hours:
            due = day.replace(hour=h % 24, minute=minute)
            if due > now or h == hours[-1]:
                return WhenSpec(due, past=due <= now)
    candidates = [hour] if ampm or hour > 12 else [hour, (hour + 12) % 24]
    if prefer_morning and not ampm:
        candidates = [hour]
    best: datetime | None = None
    for h in candidates:
        due = base.replace(hour=h, minute=minute)
        if due <= now:
            due += timedelta(days=1)
        if best is None or due < best:
            best = due
    return WhenSpec(best)


def _clock(words: str) -> tuple[int, int, bool] | None:
    words = words.strip()
    rel = re.fullmatch(rf"(half|quarter|{NUMBER}) (?:minutes )?(past|after|to|till) (.+)", words)
    if rel:
        base = _clock(rel.group(3))
        mins = {"half": 30, "quarter": 15}.get(rel.group(1)) or parse_number(rel.group(1))
        if base is None or mins is None:
            return None
        hour, _, ampm = base
        total = hour * 60 + (int(mins) if rel.group(2) in ("past", "after") else -int(mins))
        return (total // 60) % 24, total % 60, ampm
    split = re.fullmatch(rf"({'|'.join(_UNITS)}) ((?:oh )?{NUMBER})(?: (.+))?", words)
    if split and split.group(1) not in ("a", "an", "zero"):
        minutes = parse_number(split.group(2).removeprefix("oh "))
        if minutes is not None and 0 <= minutes < 60 and minutes == int(minutes):
            rest = f"{_UNITS[split.group(1)]}:{int(minutes):02d} {split.group(3) or ''}"
            return _clock(rest.strip())
    dotted = re.fullmatch(r"(\d{1,2})\.(\d\d)(?: (.+))?", words)  # "6.30": British
    if dotted:
        return _clock(f"{dotted.group(1)}:{dotted.group(2)} {dotted.group(3) or ''}".strip())
    m = _CLOCK.fullmatch(words)
    if m is None:
        return None
    if m.group("hour") in ("noon", "midnight"):
        return (12 if m.group("hour") == "noon" else 0), 0, True
    hour_value = parse_number(m.group("hour"))
    if hour_value is None or hour_value != int(hour_value):
        return None
    hour, minute = int(hour_value), 0
    if m.group("min"):
        minute = int(m.group("min"))
    elif m.group("minw") and m.group("minw") != "o'clock":
        minw = m.group("minw")
        value = parse_number(minw[3:] if minw.startswith("oh ") else minw)
        if value is None:
            return None
        minute = int(value)
    if re.fullmatch(r"\d{3,4}", m.group("hour")):  # "730" or "1930"
        hour, minute = divmod(int(m.group("hour")), 100)
    half = (m.group("ampm") or "").replace(".", "")
    if hour > 23 or minute > 59:
        return None
    night = half in ("tonight", "at night")
    if night and 1 <= hour <= 4:
        pass  # "at 2 at night" is the small hours
    elif (night or half in ("pm", "in the afternoon", "in the evening")) and hour < 12:
        hour += 12
    elif (night or half in ("am", "in the morning")) and hour == 12:
        hour = 0
    return hour, minute, bool(half)
