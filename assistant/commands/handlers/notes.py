"""Notes: "remember that ...", "what did I say about ...", "read my notes"."""

from __future__ import annotations

import re
from typing import Any

from ..context import Answer, CommandContext

__all__ = ["INTENTS"]

_NO_NOTES = Answer("Notes are not available here.", declined=True)


def _second_person(text: str) -> str:
    swaps = {"i": "you", "my": "your", "me": "you", "i'm": "you're", "i've": "you've", "am": "are"}
    return re.sub(r"\b(i'm|i've|i|my|me|am)\b", lambda m: swaps[m.group(0)], text)


def _add(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.notes is None:
        return _NO_NOTES
    note = ctx.notes.add(str(slots["note"]))
    return Answer("OK, I'll remember that.", data={"id": note.id})


def _find(slots: dict[str, Any], ctx: CommandContext) -> Answer | None:
    if ctx.notes is None:
        return _NO_NOTES
    found = ctx.notes.search(str(slots["topic"]).replace("-", ""))  # "wi-fi" is "wifi"
    if not found and slots.get("soft"):
        return None
    if not found:
        return Answer(f"I have no notes about {_second_person(str(slots['topic']))}.")
    texts = [_second_person(n.text) for n in found[:3]]
    return Answer("You told me: " + "; ".join(texts) + ".", data={"notes": [n.id for n in found]})


def _read(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.notes is None:
        return _NO_NOTES
    notes = ctx.notes.all()
    if not notes:
        return Answer("You have no notes.")
    latest = notes[-5:]
    head = f"You have {len(notes)} note{'s' if len(notes) > 1 else ''}"
    if len(notes) > len(latest):
        head += f"; the last {len(latest)}"
    return Answer(head + ": " + "; ".join(_second_person(n.text) for n in latest) + ".")


def _delete_last(slots: dict[str, Any], ctx: CommandContext) -> Answer:
    if ctx.notes is None:
        return _NO_NOTES
    note = ctx.notes.delete_last()
    if note is None:
        return Answer("You have no notes.")
    return Answer(f"Deleted the note: {_second_person(note.text)}.")


INTENTS = {"AddNote": _add, "FindNotes": _find, "ReadNotes": _read, "DeleteLastNote": _delete_last}
