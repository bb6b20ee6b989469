"""Tools in ``POST /v1/chat/completions``: the request's ``tools``, ``tool_choice`` and
tool history checked and turned into what the model's chat template renders, and the
model's calls read back from its text (:mod:`assistant.llm.toolcalls`).

Two ways to a call:

- ``tool_choice`` ``"auto"`` (the default with tools): the tools are rendered by the
  GGUF's own chat template and the model decides; only models whose template renders
  tools (Qwen2.5, Llama 3.1+, Hermes) take it, others get a 400.
- ``tool_choice`` ``"required"`` or naming a function: llama.cpp's grammar (from a JSON
  schema of the allowed calls) forces the reply to be one call, so any local GGUF model
  can fill in the arguments (as llama.cpp's own server does).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..llm import GenerationOptions
from ..llm.toolcalls import ToolCall, ToolCallStream
from .errors import ApiError

__all__ = [
    "ToolReply",
    "ToolRequest",
    "call_dicts",
    "model_offers_tools",
    "parse_tools",
    "plain_history",
    "stream_tool_reply",
    "tool_messages",
]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class ToolRequest:
    """The request's tools and how the model may use them."""

    tools: list[dict[str, Any]]
    """OpenAI function specifications, as the chat template renders them."""
    choice: str
    """``auto``, ``required`` or ``function`` (then :attr:`function` names it)."""
    function: str | None = None

    @property
    def forced(self) -> bool:
        return self.choice != "auto"


@dataclass
class ToolReply:
    """What one generation called (filled as the reply streams)."""

    calls: list[ToolCall] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def model_offers_tools(chat: Any) -> bool:
    """Whether the model's chat template renders tools (the model was trained on them)."""
    return bool(getattr(chat, "offers_tools", False)) and hasattr(chat, "stream_with_tools")


def _bad(message: str, param: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, code, param)


def _function(item: Any, i: int) -> dict[str, Any]:
    where = f"tools[{i}]"
    if not isinstance(item, dict) or item.get("type") != "function":
        raise _bad(f"{where} must be {{'type': 'function', 'function': {{...}}}}", "tools")
    spec = item.get("function")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise _bad(f"{where}.function needs a 'name'", "tools")
    params = spec.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        raise _bad(f"{where}.function.parameters must be a JSON schema object", "tools")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise _bad(f"{where}.function.description must be a string", "tools")
    out = {"name": spec["name"], "description": description, "parameters": params}
    return {"type": "function", "function": out}


def parse_tools(data: dict[str, Any], chat: Any, model: str) -> ToolRequest | None:
    """The request's tools (None: answer without them); 400 for a malformed list, a
    ``tool_choice`` naming a tool not given, or ``auto`` on a model without tools."""
    raw, choice = data.get("tools"), data.get("tool_choice")
    if raw is None or raw == [] or choice == "none":
        if choice not in (None, "none", "auto"):
            raise _bad("'tool_choice' needs 'tools'", "tool_choice")
        return None
    if not isinstance(raw, list):
        raise _bad("'tools' must be a list of functions", "tools", "invalid_type")
    tools = [_function(item, i) for i, item in enumerate(raw)]
    names = [t["function"]["name"] for t in tools]
    parallel = data.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _bad("'parallel_tool_calls' must be true or false", "parallel_tool_calls")
    if choice is None or choice == "auto":
        if not model_offers_tools(chat):
            raise ApiError(
                400,
                f"the model {model!r} does not support tools: its chat template renders "
                "none; name a function in 'tool_choice' (or use \"required\") to have "
                "the call forced by a grammar",
                "tools_unsupported",
                "tools",
            )
        return ToolRequest(tools, "auto")
    if not hasattr(chat, "stream_with_tools"):
        raise ApiError(
            400, f"the model {model!r} cannot call tools", "tools_unsupported", "tool_choice"
        )
    if choice == "required":
        return _checked(ToolRequest(tools, "required"))
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name not in names:
            raise _bad(f"'tool_choice' names {name!r}, which is not in 'tools'", "tool_choice")
        return _checked(ToolRequest(tools, "function", name))
    raise _bad(
        '\'tool_choice\' must be "none", "auto", "required" or '
        "{'type': 'function', 'function': {'name': ...}}",
        "tool_choice",
    )


def _checked(tools: ToolRequest) -> ToolRequest:
    """400 when llama.cpp cannot make a grammar of the functions' parameter schemas."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        json_schema_to_gbnf(json.dumps(_schema(tools)))
    except Exception as exc:  # the converter raises whatever its schema walk meets
        raise _bad(
            f"the functions' 'parameters' cannot be forced by a grammar: {exc}", "tools"
        ) from exc
    return tools


def _arguments(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise _bad(f"{where}.arguments must be a JSON object (as a string)", "messages")
    return value


def tool_messages(value: list[Any], text: Any) -> list[dict[str, Any]]:
    """``messages`` as the chat template takes them: assistant turns may carry
    ``tool_calls`` (arguments as objects), ``tool`` turns carry a result and the name of
    the function it answers. ``text(content, where)`` reads a content field."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _bad(f"{where} must be an object", "messages", "invalid_type")
        role = item.get("role")
        if role == "tool":
            call_id = item.get("tool_call_id")
            message = {"role": "tool", "content": text(item.get("content"), where)}
            name = names.get(call_id) if isinstance(call_id, str) else None
            if name is None:
                raise _bad(f"{where}.tool_call_id does not match an earlier tool call", "messages")
            message["name"] = name
            out.append(message)
            continue
        if role not in _ROLES:
            raise _bad(
                f"{where}.role {role!r} is not supported; use system, developer, user, "
                "assistant or tool",
                "messages",
            )
        message = {"role": _ROLES[role], "content": text(item.get("content"), where)}
        calls = item.get("tool_calls") if role == "assistant" else None
        if calls:
            if not isinstance(calls, list):
                raise _bad(f"{where}.tool_calls must be a list", "messages", "invalid_type")
            rendered = []
            for j, call in enumerate(calls):
                spec = call.get("function") if isinstance(call, dict) else None
                if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                    raise _bad(f"{where}.tool_calls[{j}] needs a function name", "messages")
                if isinstance(call.get("id"), str):
                    names[call["id"]] = spec["name"]
                args = _arguments(spec.get("arguments"), f"{where}.tool_calls[{j}].function")
                rendered.append(
                    {"type": "function", "function": {"name": spec["name"], "arguments": args}}
                )
            message["tool_calls"] = rendered
        out.append(message)
    return out


def _schema(tools: ToolRequest) -> dict[str, Any]:
    """A JSON schema that only the allowed calls match: ``{"name", "arguments"}``."""
    allowed = [
        t["function"]
        for t in tools.tools
        if tools.function is None or t["function"]["name"] == tools.function
    ]
    shapes = [
        {
            "type": "object",
            "properties": {"name": {"const": f["name"]}, "arguments": f["parameters"]},
            "required": ["name", "arguments"],
        }
        for f in allowed
    ]
    return shapes[0] if len(shapes) == 1 else {"anyOf": shapes}


def plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool turns written as text, for a template that renders no tools."""
    out = []
    for m in messages:
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"Result of {m['name']}: {m['content']}"})
        elif m.get("tool_calls"):
            calls = " ".join(json.dumps(c["function"]) for c in m["tool_calls"])
            out.append({"role": "assistant", "content": (m["content"] + " " + calls).strip()})
        else:
            out.append(m)
    return out


def _forcing_prompt(
    chat: Any, messages: list[dict[str, Any]], tools: ToolRequest
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """(messages, tools for the template) of a forced call. A template without tools is
    told about them in a system message, so the model can fill in the arguments."""
    if model_offers_tools(chat):
        return messages, tools.tools
    which = f"the function {tools.function}" if tools.function else "one of these functions"
    listing = json.dumps([t["function"] for t in tools.tools])
    note = (
        f"You can call these functions: {listing}\nAnswer with a call of {which} as JSON: "
        '{"name": ..., "arguments": {...}}.'
    )
    plain = plain_history(messages)
    if plain and plain[0]["role"] == "system":
        return [
            {"role": "system", "content": plain[0]["content"] + "\n\n" + note},
            *plain[1:],
        ], None
    return [{"role": "system", "content": note}, *plain], None


def stream_tool_reply(
    chat: Any,
    messages: list[dict[str, Any]],
    tools: ToolRequest,
    options: GenerationOptions,
    cancel: threading.Event,
    reply: ToolReply,
) -> Iterator[str]:
    """The reply's text deltas (what is not a call); the calls land in ``reply`` once
    the generation has ended."""
    reader = ToolCallStream()
    if tools.forced:
        prompt, offered = _forcing_prompt(chat, messages, tools)
        deltas = chat.stream_with_tools(
            prompt, offered, options, cancel, json_schema=_schema(tools)
        )
    else:
        deltas = chat.stream_with_tools(messages, tools.tools, options, cancel)
    try:
        for delta in deltas:
            shown = reader.feed(delta)
            if shown:
                yield shown
    except ValueError as exc:  # llama.cpp: the prompt exceeds the context window
        raise ApiError(400, f"the prompt does not fit: {exc}", "context_length_exceeded") from exc
    rest = reader.finish()  # a forced call cut short by max_tokens stays text
    if rest:
        yield rest
    reply.calls.extend(reader.calls)
    reply.ids.extend(f"call_{uuid.uuid4().hex[:24]}" for _ in reader.calls)


def call_dicts(reply: ToolReply, *, indexed: bool = False) -> list[dict[str, Any]]:
    """OpenAI ``tool_calls`` (with ``index`` for stream deltas); arguments as JSON text."""
    out = []
    for i, (call, ident) in enumerate(zip(reply.calls, reply.ids, strict=True)):
        item: dict[str, Any] = {
            "id": ident,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        if indexed:
            item = {"index": i, **item}
        out.append(item)
    return out
