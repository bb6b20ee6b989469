"""The project's patterns for requests that carry free text: reminders and alarms, notes,
sums and unit conversions, the time in a city, opening an application, folder or web
address. Each is a regular expression over the normalised transcript plus a check that
the captured words make sense (a sum is made of numbers and operators, a unit is a unit),
so an ordinary question that merely starts the same way still reaches the language model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .spoken import NUMBER, parse_duration, parse_when
from .units import unit_name

__all__ = ["PATTERNS", "Pattern", "math_expression"]

Slots = dict[str, Any]


@dataclass(frozen=True)
class Pattern:
    """One family of sentences recognised by a regular expression."""

    intent: str
    regex: re.Pattern[str]
    check: Callable[[Slots], Slots | None] | None = None
    """Turns the named groups into slots, or says ``None``: not this intent after all."""

    def match(self, text: str) -> Slots | None:
        found = self.regex.fullmatch(text)
        if found is None:
            return None
        slots = {k: v.strip() for k, v in found.groupdict().items() if v is not None}
        return self.check(slots) if self.check else slots


def _p(intent: str, regex: str, check: Callable[[Slots], Slots | None] | None = None) -> Pattern:
    return Pattern(intent, re.compile(regex), check)


# -- arithmetic ---------------------------------------------------------------------------

_OPERATORS = [
    (r"to the power of|raised to(?: the power of)?|\^|\*\*", "**"),
    (r"multiplied by|times|x|\*|×", "*"),
    (r"divided by|over|÷|/", "/"),
    (r"plus|\+", "+"),
    (r"minus|take away|-|−", "-"),
    (r"percent of", "*0.01*"),
    (r"percent", "*0.01"),
    (r"squared", "**2"),
    (r"cubed", "**3"),
    (r"(?:the )?square root of", "sqrt"),
    (r"(?:the )?cube root of", "cbrt"),
    (r"\(|open bracket", "("),
    (r"\)|close bracket", ")"),
]
_MATH_TOKEN = re.compile(
    rf"\s*(?:(?P<num>\d+(?:\.\d+)?|{NUMBER.replace('-?', '')}(?:point \d+)?)|"
    + "|".join(f"(?P<op{i}>{regex})" for i, (regex, _) in enumerate(_OPERATORS))
    + ")"
)


_HOMOPHONES = {"to": "2", "too": "2", "for": "4", "won": "1", "ate": "8"}
_OPERATOR_WORD = r"(?:times|plus|minus|over|divided by|multiplied by|to the power of|percent of)"
_HOMOPHONE = re.compile(
    rf"(^|{_OPERATOR_WORD} )(to|too|for|won|ate)(?=$| {_OPERATOR_WORD}\b)"
)
"""Numbers that whisper writes as their homophones ("what's to times for"), taken for
numbers only where a number must stand: between operators or at an end."""


def math_expression(words: str) -> str | None:
    """Spoken arithmetic as an expression for the evaluator: "15 percent of 80" ->
    ``15*0.01*80``, "the square root of 81 plus 2" -> ``sqrt(81)+2``. ``None`` when a
    word is not arithmetic or no operator is said (a plain number is no sum)."""
    from .spoken import parse_number

    words = words.strip().rstrip("=").strip()
    words = re.sub(r"^(?:what is|what's|whats|how much is|calculate|compute|work out) ", "", words)
    words = re.sub(r" (?:equal|equals|make|makes|is)$", "", words)
    words = _HOMOPHONE.sub(lambda m: m.group(1) + _HOMOPHONES[m.group(2)], words)
    off = re.fullmatch(r"(.+) percent off (.+)", words)
    if off:  # "20 percent off 50" -> 50*(1-20*0.01)
        rate, base = math_expression(f"{off.group(1)} + 0"), math_expression(f"{off.group(2)} + 0")
        return None if rate is None or base is None else f"({base})*(1-({rate})*0.01)"
    out: list[str] = []
    pos, operators, pending_func = 0, 0, 0
    while pos < len(words):
        m = _MATH_TOKEN.match(words, pos)
        if m is None or m.end() == pos:
            return None
        pos = m.end()
        if m.group("num") is not None:
            raw = m.group("num").strip()
            if " point " in f" {raw} ":
                whole, frac = raw.split("point")
                value = parse_number(whole)
                number = None if value is None else f"{int(value)}.{frac.strip()}"
            else:
                value = parse_number(raw)
                number = None if value is None else f"{value:g}"
            if number is None:
                return None
            out.append(number)
            out.append(")" * pending_func)
            pending_func = 0
            continue
        index = next(i for i in range(len(_OPERATORS)) if m.group(f"op{i}") is not None)
        token = _OPERATORS[index][1]
        operators += 1
        if token in ("sqrt", "cbrt"):
            out.append(f"{token}(")
            pending_func += 1
        else:
            out.append(token)
    if operators == 0 or not out:
        return None
    return "".join(out) + ")" * pending_func


def _calc(slots: Slots) -> Slots | None:
    if slots.get("explicit"):
        return {"expression": math_expression(slots["expr"]) or slots["expr"], "raw": slots["expr"]}
    expression = math_expression(slots["expr"])
    return None if expression is None else {"expression": expression, "raw": slots["expr"]}


def _convert(slots: Slots) -> Slots | None:
    source, target = unit_name(slots.get("from", "")), unit_name(slots.get("to", ""))
    if source is None or target is None:
        return None
    quantity = slots.get("qty") or "1"
    return {"quantity": quantity, "from": source, "to": target}


# -- open ------------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?")


_FOLDER_PLURALS = {
    "document": "documents", "download": "downloads", "picture": "pictures",
    "photo": "photos", "video": "videos",
}  # fmt: skip
"""The user's folders as said in the singular (or heard so): "open my download folder"."""


def _open(slots: Slots) -> Slots | None:
    target = slots["target"]
    target = re.sub(r"^(?:the|my|a|an) ", "", target)
    kind = slots.get("kind") or ""
    spoken_url = re.sub(r" dot ", ".", target).replace(" ", "") if " dot " in target else target
    if re.search(r"\b(?:timers?|alarms?|reminders?)\b", target):
        return None  # "start at timer": a misheard timer request, never an application
    if _URL.fullmatch(spoken_url):
        return {"url": spoken_url}
    if kind in ("folder", "directory") or target.endswith(("folder", "directory")):
        folder = re.sub(r" (?:folder|directory)$", "", target)
        return {"folder": _FOLDER_PLURALS.get(folder, folder)}
    if kind in ("website", "web site", "page", "site"):
        return None
    if (slots["verb"] in ("start", "run") and not slots.get("kind")) or len(target.split()) > 3:
        return {"app": target, "strict": True}
    return {"app": target}


# -- reminders, notes, cities ---------------------------------------------------------------

_WHEN_WORD = (
    r"(?:at|in|on|by|tomorrow|today|tonight|this|next|yesterday|the day after tomorrow|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)


def split_reminder(rest: str) -> tuple[str, str]:
    """ "to call anna at four" -> ("call anna", "at four"); the when may come first."""
    rest = re.sub(r"^(?:to|that|about) ", "", rest)
    first = re.match(rf"({_WHEN_WORD}\b.*?) (?:to|that|about) (.+)$", rest)
    spec = parse_when(first.group(1), datetime.now()) if first else None
    if first and spec is not None and (spec.due is not None or spec.past):
        return first.group(2), first.group(1)
    for m in re.finditer(rf"\b{_WHEN_WORD}\b", rest):
        if m.start() == 0:
            continue
        when = rest[m.start() :]
        spec = parse_when(when, datetime.now())
        if spec.due is not None or spec.past:
            return rest[: m.start()].strip(), when
    return rest.strip(), ""


def _topic(slots: Slots) -> Slots | None:
    return {**slots, "topic": slots["topic"].replace("-", "")}  # "wi-fi" is "wifi"


def _reminder(slots: Slots) -> Slots | None:
    task, when = split_reminder(slots["rest"])
    return {"task": task, "when": when} if when else {"task": task}


def _alarm(slots: Slots) -> Slots | None:
    when = slots.get("when", "").strip()
    when = re.sub(r"^(?:that's|that|add) (?=\S)", "at ", when)  # whisper's "at", misheard
    spec = parse_when(when, datetime.now(), prefer_morning=True) if when else None
    if spec is None or spec.due is None:
        return {"when": when}
    return {"when": when, "time": f"{spec.due:%H:%M}"}


def _timer(slots: Slots) -> Slots | None:
    """ "set a pizza timer for 12 minutes": the duration in seconds, or the words when they
    are none (the handler then asks)."""
    words = slots["words"]
    named = re.fullmatch(r"(.+?),? (?:named|called|name|call) ([a-z]+)", words)
    if named:
        words, slots["name"] = named.group(1), named.group(2)
    seconds = parse_duration(words)
    name = slots.get("name", "")
    out = {"name": name} if name and name not in ("at", "it", "in", "my", "me", "new") else {}
    return {**out, "duration": seconds} if seconds is not None else {**out, "words": words}


PATTERNS: tuple[Pattern, ...] = (
    _p(
        "TimeInCity",
        r"(?:what(?:'s| is) the (?:current |local )?time|what time is it(?: now)?|"
        r"(?:tell me |do you know )?(?:the time|what time it is)) in (?P<city>[a-z' .-]+)",
    ),
    _p("SetReminder", r"remind me (?P<rest>.+)", _reminder),
    _p(
        "HassStartTimer",
        r"(?:set|start|create) (?:me )?(?:a |an |the )?(?:new )?(?:(?P<name>[a-z]+) )?timer "
        r"(?:for|of) (?P<words>.+)",
        _timer,
    ),
    _p(
        "SetAlarm",
        r"(?:wake me(?: up)?|set (?:an |the |my |a )?alarm(?: clock)?|alarm)"
        r"(?: (?:for|at))?(?P<when>(?: .+)?)",
        _alarm,
    ),
    _p(
        "CancelReminder",
        r"(?:cancel|delete|remove|clear|turn off|forget|disable) (?:(?P<all>all) )?(?:of )?"
        r"(?:my |the )?(?P<kind>alarm|reminder)s?(?: (?:for|at|to|about|on) (?P<what>.+))?",
    ),
    _p(
        "AddNote",
        r"(?:remember(?: that|:)|please remember|make a note(?: that| of|:)?|"
        r"take a note(?: that|:)?|note(?: that|:)|write down(?: that)?|note down(?: that)?|"
        r"remember (?=(?:my|the|i|i'm|i've|we|our|it's) ))(?P<note>.+)",
    ),
    _p(
        "FindNotes",
        r"(?:what did i (?:say|tell you|note|write) about|what do my notes say about|"
        r"(?:do i have |are there )?(?:any )?notes? (?:about|on)|search (?:my )?notes for|"
        r"find (?:my )?notes? (?:about|on))(?: the| my)? (?P<topic>.+)",
        _topic,
    ),
    _p("FindNotes", r"where did i (?P<topic>park|put|leave)\b.*", _topic),
    # "where are my keys": a note if there is one, else the language model answers.
    _p(
        "FindNotes",
        r"where (?:are|is|did i put|did i leave) my (?P<topic>.+)",
        lambda s: {**s, "soft": True},
    ),
    _p("Calculate", r"(?P<explicit>calculate|compute|evaluate) (?P<expr>.+)", _calc),
    _p(
        "Convert",
        rf"(?:convert |what(?:'s| is) |how much is )?(?P<qty>{NUMBER}|an?) (?P<from>[a-z° ]+?) "
        r"(?:in|to|into|as|in terms of|and) (?P<to>[a-z° ]+)",
        _convert,
    ),
    _p(
        "Convert",
        r"how many (?P<to>[a-z° ]+?) (?:are )?(?:there )?(?:is |are )?(?:in|to|is|are|make) "
        rf"(?:a |an |one )?(?P<qty>{NUMBER} )?(?P<from>[a-z° ]+)",
        _convert,
    ),
    _p(
        "Calculate",
        r"(?:what(?:'s| is)|whats|how much is|what does)? ?"
        r"(?P<expr>[a-z0-9 .+*/^()×÷−-]+?)(?: equal| make)?",
        _calc,
    ),
    _p(
        "Open",
        r"(?P<verb>open|launch|run|start)(?: up)? (?P<target>.+?)"
        r"(?: (?P<kind>app|application|program|folder|directory|website|web site|page|site))?",
        _open,
    ),
)
"""In the order they are tried; the first that matches wins."""
