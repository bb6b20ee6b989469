"""The command handlers as tools for a language model that can call them (Qwen2.5,
Llama 3.x, Hermes-style templates): OpenAI-style function specifications, as llama.cpp's
chat formats take them, and :func:`call_tool`, which runs one call through the same
handlers as the sentence templates and returns the text the model reads back.

:mod:`.toolchat` offers them to the configured model when its chat template supports
tool calling; the small default model uses the templates only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .context import Answer, CommandContext
from .handlers import HANDLERS
from .patterns import math_expression
from .units import unit_name

__all__ = ["ACTING_TOOLS", "TOOLS", "ToolError", "call_tool"]

log = logging.getLogger(__name__)


def _fn(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_S = {"type": "string"}
_N = {"type": "number"}

TOOLS: tuple[dict[str, Any], ...] = (
    _fn("set_timer", "Start a countdown timer.", {"seconds": _N, "name": _S}, ["seconds"]),
    _fn("list_timers", "The running timers and the time left on each.", {}, []),
    _fn("cancel_timer", "Cancel a timer (by name when several run).", {"name": _S}, []),
    _fn(
        "set_reminder",
        "Remind the user of a task at a time, e.g. when='at 4 pm' or 'tomorrow at 9'.",
        {"task": _S, "when": _S},
        ["task", "when"],
    ),
    _fn("set_alarm", "Set an alarm, e.g. when='7:30 tomorrow'.", {"when": _S}, ["when"]),
    _fn("list_reminders", "The alarms and reminders that are set, with their times.", {}, []),
    _fn("get_time", "The current local time, or the time in a city.", {"city": _S}, []),
    _fn("get_date", "Today's date and day of the week.", {}, []),
    _fn(
        "calculate",
        "Arithmetic and percentages, e.g. '15 percent of 80' or '(3+4)*2'.",
        {"expression": _S},
        ["expression"],
    ),
    _fn(
        "convert_units",
        "Convert a quantity between units, e.g. 5 miles to kilometers.",
        {"quantity": _N, "from_unit": _S, "to_unit": _S},
        ["quantity", "from_unit", "to_unit"],
    ),
    _fn("add_note", "Keep a note for the user.", {"text": _S}, ["text"]),
    _fn("search_notes", "Find the user's notes about a topic.", {"topic": _S}, ["topic"]),
    _fn(
        "open",
        "Open an application by name, a folder (documents, downloads, ...) or a web address. "
        "Only when the user asked for it.",
        {"target": _S},
        ["target"],
    ),
)
"""The tool specifications (OpenAI's function-calling format)."""

ACTING_TOOLS = frozenset(
    {"set_timer", "cancel_timer", "set_reminder", "set_alarm", "add_note", "open"}
)
"""The tools that change something (the others only read): they run only for a committed
turn (:func:`~assistant.llm.toolcalls.may_act`)."""


class ToolError(ValueError):
    """A tool call names no known tool or lacks an argument."""


def _slots(name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if name == "set_timer":
        return "HassStartTimer", {"duration": float(args["seconds"]), "name": args.get("name", "")}
    if name == "list_timers":
        return "ListTimers", {}
    if name == "cancel_timer":
        return "HassCancelTimer", {"name": args["name"]} if args.get("name") else {}
    if name == "set_reminder":
        return "SetReminder", {"task": str(args["task"]), "when": str(args["when"])}
    if name == "set_alarm":
        return "SetAlarm", {"when": str(args["when"])}
    if name == "list_reminders":
        return "ListReminders", {}
    if name == "get_time":
        return (
            ("TimeInCity", {"city": args["city"]})
            if args.get("city")
            else ("HassGetCurrentTime", {})
        )
    if name == "get_date":
        return "HassGetCurrentDate", {}
    if name == "calculate":
        raw = str(args["expression"])
        return "Calculate", {"expression": math_expression(raw.lower()) or raw, "raw": raw}
    if name == "convert_units":
        source, target = unit_name(str(args["from_unit"])), unit_name(str(args["to_unit"]))
        if source is None or target is None:
            raise ToolError(
                f"unknown unit: {args['from_unit'] if source is None else args['to_unit']}"
            )
        return "Convert", {"quantity": str(args["quantity"]), "from": source, "to": target}
    if name == "add_note":
        return "AddNote", {"note": str(args["text"])}
    if name == "search_notes":
        return "FindNotes", {"topic": str(args["topic"])}
    if name == "open":
        from .patterns import PATTERNS

        target = str(args["target"]).lower()
        slots = next(p for p in PATTERNS if p.intent == "Open").match(f"open {target}")
        return "Open", slots or {"app": target}
    raise ToolError(f"no tool called {name!r}")


def call_tool(name: str, arguments: str | dict[str, Any], context: CommandContext) -> str:
    """Run one tool call; returns what to give the model back (the handler's answer, or
    an error it can read and repair)."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        intent, slots = _slots(name, args)
    except (ToolError, KeyError, ValueError, TypeError) as exc:
        log.info("bad tool call %s(%s): %s", name, arguments, exc)
        return f"error: {exc}"
    answer: Answer | None = HANDLERS[intent][1](slots, context)
    if answer is None:
        return "error: nothing found"
    return answer.text
