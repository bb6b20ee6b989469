"""The time, the date, the day of the week, and the time in another city (zoneinfo)."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from ..context import Answer, CommandContext
from ..spoken import say_time

__all__ = ["INTENTS", "city_zone"]

_ALIASES = {
    "new york city": "America/New_York", "nyc": "America/New_York", "la": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "washington": "America/New_York", "boston": "America/New_York", "miami": "America/New_York",
    "beijing": "Asia/Shanghai", "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin", "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome", "florence": "Europe/Rome", "geneva": "Europe/Zurich",
    "st petersburg": "Europe/Moscow", "kyoto": "Asia/Tokyo", "osaka": "Asia/Tokyo",
    "hanoi": "Asia/Bangkok", "rio": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo",
    "cape town": "Africa/Johannesburg", "montreal": "America/Toronto", "ottawa": "America/Toronto",
    "dallas": "America/Chicago", "houston": "America/Chicago", "austin": "America/Chicago",
    "utc": "UTC", "greenwich": "Europe/London", "england": "Europe/London", "uk": "Europe/London",
    "japan": "Asia/Tokyo", "france": "Europe/Paris", "germany": "Europe/Berlin",
    "india": "Asia/Kolkata", "china": "Asia/Shanghai", "australia": "Australia/Sydney",
}  # fmt: skip


@functools.cache
def _zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    for name in zoneinfo.available_timezones():
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            continue
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        zones.setdefault(city, name)
    zones.update(_ALIASES)
    return zones


def city_zone(city: str) -> str | None:
    """The IANA zone of a city said by name ("new york" -> America/New_York)."""
    city = city.lower().strip().removeprefix("the ").replace(".", "")
    return _zones().get(city)


def _time(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    return Answer(f"It's {say_time(ctx.now())}.")


def _date(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    now = ctx.now()
    return Answer(f"Today is {now:%A}, {now:%B} {now.day}, {now.year}.")


def _weekday(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    return Answer(f"It's {ctx.now():%A}.")


def _city(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    city = str(slots["city"])
    zone = city_zone(city)
    if zone is None:
        return Answer(f"I don't know the time zone of {city}.", declined=True)
    here = ctx.now().astimezone()  # the local time, aware
    there = here.astimezone(zoneinfo.ZoneInfo(zone))
    when = say_time(there.replace(tzinfo=None))
    day = ""
    if there.date() != here.date():
        day = " tomorrow" if there.date() > here.date() else " yesterday"
    return Answer(f"In {city.title()} it's {when}{day}.", data={"zone": zone})


INTENTS = {
    "HassGetCurrentTime": _time,
    "HassGetCurrentDate": _date,
    "GetWeekday": _weekday,
    "TimeInCity": _city,
}
