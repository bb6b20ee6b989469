"""Moments said in words: the part of the day is the clock's AM or PM, wherever it is said."""

from __future__ import annotations

from datetime import datetime

import pytest

from assistant.commands.spoken import parse_when

NOW = datetime(2026, 11, 30, 11, 0)  # a Monday, late morning


@pytest.mark.parametrize(
    ("words", "alarm", "due"),
    [
        ("tomorrow evening at 6", True, "2026-12-01 18:00"),  # was 06:00 for an alarm
        ("this evening at 7", True, "2026-11-30 19:00"),
        ("at 6 tomorrow evening", False, "2026-12-01 18:00"),
        ("tomorrow morning at 8", False, "2026-12-01 08:00"),
        ("eight tomorrow morning", True, "2026-12-01 08:00"),
        ("friday morning", False, "2026-12-04 09:00"),  # was no time at all
        ("on friday evening", False, "2026-12-04 18:00"),
        ("tomorrow evening", False, "2026-12-01 18:00"),
        ("tonight at 9", False, "2026-11-30 21:00"),
        ("at 8 tonight", False, "2026-11-30 20:00"),
        ("at 12 at night", False, "2026-12-01 00:00"),  # was noon
        ("at 2 tonight", False, "2026-12-01 02:00"),  # the small hours after tonight
        ("at 9 on friday night", False, "2026-12-04 21:00"),
        ("at 7 in the morning", True, "2026-12-01 07:00"),
        ("friday at 5", False, "2026-12-04 17:00"),
        ("friday at 5", True, "2026-12-04 05:00"),
        ("at four", False, "2026-11-30 16:00"),
    ],
)
def test_parts_of_the_day_set_the_half_of_the_clock(words: str, alarm: bool, due: str) -> None:
    spec = parse_when(words, NOW, prefer_morning=alarm)
    assert spec.due is not None and f"{spec.due:%Y-%m-%d %H:%M}" == due
    assert not spec.past


def test_a_part_of_today_already_gone_is_in_the_past() -> None:
    spec = parse_when("this morning at 9", NOW)
    assert spec.past
