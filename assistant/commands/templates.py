"""Sentence templates: Home Assistant's (timers, time, date, never mind) and the project's
own, in hassil's template syntax, for the requests with a fixed vocabulary.

Requests that carry free text (a reminder's task, a note, a sum, a city, an application)
are recognised by :mod:`assistant.commands.patterns` instead: a wildcard template would
cost tens of milliseconds per transcript, a regular expression a few microseconds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

__all__ = ["HA_INTENTS", "OWN_INTENTS", "intents_dict"]

log = logging.getLogger(__name__)

HA_INTENTS = (
    "HassStartTimer",
    "HassCancelTimer",
    "HassCancelAllTimers",
    "HassTimerStatus",
    "HassIncreaseTimer",
    "HassDecreaseTimer",
    "HassPauseTimer",
    "HassUnpauseTimer",
    "HassGetCurrentTime",
    "HassGetCurrentDate",
    "HassNevermind",
)
"""Home Assistant's intents this assistant answers (the others control a smart home)."""


def _intent(*sentences: str) -> dict[str, Any]:
    return {"data": [{"sentences": list(sentences)}]}


OWN_INTENTS: dict[str, Any] = {
    "AssistantStop": _intent(
        "stop [it|talking|speaking|that|now]",
        "(be|keep) quiet",
        "(quiet|silence|hush|enough|shut up|shush)",
        "that's enough",
        "stop the (alarm|ringing|reminder)",
        "(ok|okay|thanks|thank you|got it) stop",
    ),
    "AssistantAcknowledge": _intent("(ok|okay|thanks|thank you|got it|all right|alright)"),
    "AssistantLouder": _intent(
        "[a bit|a little] louder [please]",
        "(speak|talk) [a bit|a little] louder",
        "speak up",
        "volume up",
        "turn [it|the volume|yourself] up",
        "turn up the volume",
        "(increase|raise) [the|your] volume",
    ),
    "AssistantQuieter": _intent(
        "[a bit|a little] (quieter|softer)",
        "(speak|talk) [a bit|a little] (quieter|softer|more quietly)",
        "volume down",
        "turn [it|the volume|yourself] down",
        "turn down the volume",
        "(decrease|lower|reduce) [the|your] volume",
        "not so loud",
    ),
    "AssistantMute": _intent("mute [yourself|the sound|the volume]"),
    "AssistantUnmute": _intent("unmute [yourself|the sound|the volume]"),
    "AssistantSlower": _intent(
        "(speak|talk) [a bit|a little] (slower|more slowly)",
        "slow down",
        "(not so|too) fast",
        "slower [please]",
    ),
    "AssistantFaster": _intent(
        "(speak|talk) [a bit|a little] (faster|quicker|more quickly)",
        "speed up",
        "(not so|too) slow",
        "faster [please]",
    ),
    "AssistantNewConversation": _intent(
        "[let's] (start|begin|open) [a] (new|fresh) (conversation|chat)",
        "new (conversation|chat)",
        "[let's] start over",
        "reset [the|our|this] (conversation|chat)",
        "forget (this|our) (conversation|chat)",
    ),
    "GetWeekday": _intent(
        "(what|which) day is (it|today) [today]",
        "what's today",
        "(what|which) day of (the|a) week is it [today]",
        "what is today",
        "what day [of the week] is it",
    ),
    "GetTimeExtra": _intent(
        "(do you know|can you tell me|tell me) what time it is [now]",
        "tell me the time",
        "what's the time [now|please]",
        "the time [please]",
        "time please",
    ),
    "GetDateExtra": _intent(
        "what's (the date|today's date) [today]",
        "what date is it [today]",
        "(do you know|can you tell me|tell me) (the date|what date it is|today's date)",
        "what (year|month) is it",
    ),
    "StartTimerAsk": _intent(
        "(set|start|create) [me] [a|an|the|another|one more] [new] timer",
        "timer",
    ),
    "ListTimers": _intent(
        "(list|show) [me] [all] [of] [my|the] timers",
        "what timers (are|do i have) [running|set|on|going]",
        "(do i have|are there) any timers [running|set|on|going]",
        "how many timers [are (running|set)|do i have]",
    ),
    "ListReminders": _intent(
        "(list|show|read) [me] [all] [of] [my|the] (reminders|alarms|reminders and alarms)",
        "what (reminders|alarms) (do i have|are set|have i set|are there)",
        "(do i have|are there) any (reminders|alarms) [set]",
        "(when|where) is my (alarm|reminder)",
        "when's my (alarm|reminder)",
    ),
    "ReadNotes": _intent(
        "(read|list|show) [me] [all] [of] my notes",
        "what (are my notes|notes do i have)",
    ),
    "DeleteLastNote": _intent(
        "(delete|remove|forget) [my|the] last note",
        "forget (that|what i just said)",
    ),
    "NevermindExtra": _intent(
        "(forget it|forget about it|cancel|no thanks|nothing)",
        "never mind [that|it]",
    ),
    "TimerStatusExtra": _intent(
        "how (much time|long) is (left|remaining)",
        # Home Assistant's say "on"; people and whisper also say "in", "of", "by".
        "how (much time|long) is (left|remaining) (in|of|by|at|for) (my|the) timer",
    ),
}
"""The project's own templates, for what Home Assistant's lack (English)."""


def _ha_data(language: str) -> dict[str, Any]:
    import home_assistant_intents

    path = Path(home_assistant_intents.__file__).parent / "data" / f"{language}.json"
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def intents_dict(language: str = "en") -> dict[str, Any]:
    """Home Assistant's intents for ``language`` that this assistant handles, without the
    smart-home parts (areas, "turn off the lights in 5 minutes"), plus the project's own
    for English. Returns hassil's input dictionary."""
    data = _ha_data(language)
    intents: dict[str, Any] = {}
    for name in HA_INTENTS:
        if name not in data["intents"]:
            continue
        blocks = [
            block
            for block in data["intents"][name]["data"]
            if not str(block.get("metadata", {}).get("slot_combination", "")).startswith(
                ("area", "command")
            )
            and "{area}" not in " ".join(block["sentences"])
        ]
        intents[name] = {"data": blocks}
    if language == "en":
        intents.update(OWN_INTENTS)
    data["intents"] = intents
    data["lists"] = {**data.get("lists", {}), "area": {"values": []}}
    log.debug("loaded %d intents for %s", len(intents), language)
    return data
