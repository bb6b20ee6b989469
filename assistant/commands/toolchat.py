"""The command handlers offered as tools to a model that can call them.

:class:`ToolChat` wraps a chat model whose GGUF chat template renders tools (Qwen2.5,
Llama 3.x, Hermes): it is a chat model itself, so the pipeline, ``chat`` and ``talk``
stream its replies as any other. Each reply is generated with :data:`~.tools.TOOLS` in
the prompt; a tool call in the streamed text (:class:`~assistant.llm.toolcalls.ToolCallStream`)
runs its handler, the result goes back to the model as a ``tool`` message, and the
model's answer streams on: the spoken reply starts as soon as the result is in.
A call that changes something (:data:`~.tools.ACTING_TOOLS`) runs only once the turn is
committed (:func:`~assistant.llm.toolcalls.may_act`): never for a dropped speculation.

:func:`with_tools` gives the wrapper only to a model that supports tools; the small
default model (TinyLlama) keeps the sentence templates alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..llm import ChatModel, GenerationOptions, Message
from ..llm.toolcalls import ToolCallStream, may_act
from .context import CommandContext
from .tools import ACTING_TOOLS, TOOLS, call_tool

__all__ = ["MAX_TOOL_ROUNDS", "ToolChat", "ToolModel", "with_tools"]

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 2
"""Tool calls answered per reply; the round after the last is generated without tools."""


class ToolModel(ChatModel, Protocol):
    """A chat model that can take tools (:class:`~assistant.llm.LlamaCppChatModel`)."""

    @property
    def offers_tools(self) -> bool: ...

    def stream_with_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]: ...


class ToolChat:
    """``model`` with the command handlers as its tools (see the module's text).

    Args:
        model: a chat model that offers tools.
        context: the scheduler, notes and settings the handlers act on.
        tools: the specifications offered (all of :data:`~.tools.TOOLS` by default).
    """

    def __init__(
        self,
        model: ToolModel,
        context: CommandContext,
        tools: Sequence[dict[str, Any]] = TOOLS,
    ) -> None:
        self.model = model
        self.context = context
        self.tools = list(tools)
        self.context_size = model.context_size
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        """Every call run so far: (tool, arguments, result)."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The messages' length (the tool specifications come on top: a few hundred)."""
        return self.model.count_tokens(messages)

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """The reply's text deltas; tool calls are run between them, never shown."""
        dicts: list[dict[str, Any]] = [m.to_dict() for m in messages]
        for round_ in range(MAX_TOOL_ROUNDS + 1):
            reader = ToolCallStream()
            tools = self.tools if round_ < MAX_TOOL_ROUNDS else None
            for delta in self.model.stream_with_tools(dicts, tools, options, cancel):
                text = reader.feed(delta)
                if text:
                    yield text
            rest = reader.finish()
            if rest:
                yield rest
            if not reader.calls or (cancel is not None and cancel.is_set()):
                return
            # A call that changes something waits until the turn is committed: a
            # speculation the user talked on past is dropped without acting.
            if any(c.name in ACTING_TOOLS for c in reader.calls) and not may_act():
                log.info("a dropped turn's tool calls were not run: %s", reader.calls)
                return
            dicts.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"type": "function",
                         "function": {"name": c.name, "arguments": c.arguments}}
                        for c in reader.calls
                    ],
                }
            )  # fmt: skip
            for call in reader.calls:
                result = call_tool(call.name, call.arguments, self.context)
                log.info("tool %s(%s) -> %s", call.name, call.arguments, result)
                self.calls.append((call.name, call.arguments, result))
                dicts.append({"role": "tool", "name": call.name, "content": result})


def with_tools(model: ChatModel, context: CommandContext) -> ChatModel:
    """``model`` with the handlers as tools if its chat template offers tools, else
    ``model`` unchanged."""
    if getattr(model, "offers_tools", False) and hasattr(model, "stream_with_tools"):
        log.info("the language model can call tools: the commands are offered as tools")
        return ToolChat(model, context)  # type: ignore[arg-type]
    return model
