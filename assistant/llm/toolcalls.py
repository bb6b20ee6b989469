"""Tool calls in a model's streamed text, for chat templates that offer tools.

llama-cpp-python renders ``tools`` through a GGUF's own chat template but parses the
model's calls only when a call is forced; so the reply is read here, as it streams:

- Hermes and Qwen2.5 write ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
- Llama 3.x writes the call as its whole reply: ``{"name": ..., "parameters": {...}}``
  (after ``<|python_tag|>`` for some templates; several separated by ``;``).

Text that is not a call passes straight through as it comes (a spoken reply starts at
once); only what may be the start of a call is held back until it is known.

:func:`actions_gated` and :func:`may_act` keep a call that changes something (a timer
started) from running for a reply that may still be dropped: the live pipeline answers a
speculative turn before the user has surely finished, and only the committed turn may act.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCall", "ToolCallStream", "actions_gated", "may_act", "template_offers_tools"]

log = logging.getLogger(__name__)

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_PYTHON_TAG = "<|python_tag|>"


_GATE: ContextVar[Callable[[], bool] | None] = ContextVar("tool_action_gate", default=None)


@contextmanager
def actions_gated(gate: Callable[[], bool]) -> Iterator[None]:
    """Within the block (on this thread), :func:`may_act` asks ``gate``: it returns True
    once the reply being generated is committed, False if it was dropped (it may block
    until it knows). The pipeline's turn worker wraps each turn's reply in it."""
    token = _GATE.set(gate)
    try:
        yield
    finally:
        _GATE.reset(token)


def may_act() -> bool:
    """Whether a tool call that changes something may run now: True outside
    :func:`actions_gated` (typed chat, a server request: always committed), else the
    gate's answer (it waits for a speculative turn to be confirmed or dropped)."""
    gate = _GATE.get()
    return True if gate is None else gate()


def template_offers_tools(template: str | None) -> bool:
    """Whether a Jinja chat template renders a ``tools`` list (Qwen2.5, Llama 3.1+,
    Hermes): then the model was trained to call tools. Templates without it (TinyLlama,
    Zephyr, plain ChatML) get no tools."""
    return bool(template) and re.search(r"\btools\b", template or "") is not None


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def _call(data: Any) -> ToolCall | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):  # some models write the arguments as a JSON string
        try:
            args = json.loads(args)
        except ValueError:
            return None
    return ToolCall(data["name"], dict(args)) if isinstance(args, dict) else None


def _json_calls(text: str) -> list[ToolCall] | None:
    """The calls in a Llama-3 style reply (one object, or several joined by ``;``), or
    ``None`` when it is not made of calls."""
    calls: list[ToolCall] = []
    decoder = json.JSONDecoder()
    pos, text = 0, text.strip()
    while pos < len(text):
        try:
            data, end = decoder.raw_decode(text, pos)
        except ValueError:
            return None
        call = _call(data)
        if call is None:
            return None
        calls.append(call)
        pos = end
        while pos < len(text) and text[pos] in " \n\t;,":
            pos += 1
    return calls or None


class ToolCallStream:
    """Feed it the model's text deltas; it returns the text to show and speak, and
    keeps the calls (:attr:`calls`) and the raw reply (:attr:`raw`)."""

    def __init__(self) -> None:
        self.raw = ""
        self.calls: list[ToolCall] = []
        self._held = ""  # text that may begin a call
        self._in_call: str | None = None  # the inside of an open <tool_call>
        self._json_reply = False  # the reply began with "{": a Llama-3 call, maybe
        self._started = False

    def feed(self, delta: str) -> str:
        """The part of ``delta`` (with any text held before) that is surely no call."""
        self.raw += delta
        text = self._held + delta
        self._held = ""
        if not self._started:
            stripped = text.lstrip()
            if not stripped:
                self._held = text
                return ""
            if stripped.startswith(("{", _PYTHON_TAG)):
                self._json_reply = True
            elif _PYTHON_TAG.startswith(stripped):
                self._held = text
                return ""
            self._started = True
        if self._json_reply:
            self._held = text
            return ""
        return self._scan(text)

    def _scan(self, text: str) -> str:
        out: list[str] = []
        while text:
            if self._in_call is not None:
                inside = self._in_call + text  # the closing tag may come in pieces
                end = inside.find(_CLOSE)
                if end < 0:
                    self._in_call = inside
                    return "".join(out)
                self._in_call = None
                self._close(inside[:end])
                text = inside[end + len(_CLOSE) :]
                continue
            start = text.find(_OPEN)
            if start >= 0:
                out.append(text[:start])
                self._in_call = ""
                text = text[start + len(_OPEN) :]
                continue
            # Hold back a tail that could be the first characters of "<tool_call>".
            for keep in range(min(len(_OPEN) - 1, len(text)), 0, -1):
                if _OPEN.startswith(text[-keep:]):
                    self._held = text[-keep:]
                    text = text[:-keep]
                    break
            out.append(text)
            text = ""
        return "".join(out)

    def _close(self, inside: str) -> None:
        try:
            call = _call(json.loads(inside))
        except ValueError:
            call = None
        if call is None:
            log.info("the model wrote a tool call that is not one: %r", inside[:200])
        else:
            self.calls.append(call)

    def finish(self) -> str:
        """The text still held at the end of the reply (none if it was calls)."""
        held, self._held = self._held, ""
        if self._in_call is not None:  # a call cut short (max tokens): try it anyway
            self._close(self._in_call)
            self._in_call = None
            return ""
        if self._json_reply:
            calls = _json_calls(held.strip().removeprefix(_PYTHON_TAG))
            if calls is not None:
                self.calls.extend(calls)
                return ""
        return held
