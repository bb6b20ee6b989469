"""The command handlers as tools: tool calls read from streamed text (Hermes/Qwen2.5 and
Llama-3 forms), the round trip through a scripted model, and a real GGUF without tool
support getting no tools. No GGUF with a tool-calling template installs offline, so the
round trip with a real tool model is not tested here."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.commands import CommandContext, Scheduler
from assistant.commands.toolchat import ToolChat, with_tools
from assistant.llm import GenerationOptions, Message
from assistant.llm.toolcalls import ToolCall, ToolCallStream, template_offers_tools


def _read(chunks: Sequence[str]) -> tuple[list[str], str, list[ToolCall]]:
    stream = ToolCallStream()
    shown = [stream.feed(c) for c in chunks]
    rest = stream.finish()
    return shown, "".join(shown) + rest, stream.calls


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_hermes_tool_calls_are_read_at_any_chunking_and_never_shown(size: int) -> None:
    reply = (
        'Sure.<tool_call>\n{"name": "set_timer", "arguments": {"seconds": 300}}\n</tool_call>'
        '<tool_call>{"name": "get_time", "arguments": "{\\"city\\": \\"Tokyo\\"}"}</tool_call>'
    )
    _, text, calls = _read(_pieces(reply, size))
    assert text == "Sure."
    assert calls == [
        ToolCall("set_timer", {"seconds": 300}),
        ToolCall("get_time", {"city": "Tokyo"}),
    ]


def test_plain_text_streams_at_once_and_a_lookalike_is_released() -> None:
    shown, text, calls = _read(["Hello", " there", " <to", "ol> is a tag", "."])
    assert shown[:2] == ["Hello", " there"]  # not held back: the voice starts at once
    assert text == "Hello there <tool> is a tag." and calls == []


@pytest.mark.parametrize(
    "reply",
    [
        '{"name": "set_alarm", "parameters": {"when": "7:30 tomorrow"}}',
        '<|python_tag|>{"name": "set_alarm", "parameters": {"when": "7:30 tomorrow"}}',
        ' {"name": "set_alarm", "parameters": {"when": "7:30 tomorrow"}}; {"name": "get_date", '
        '"parameters": {}}',
    ],
)
def test_llama3_json_tool_calls(reply: str) -> None:
    _, text, calls = _read(_pieces(reply, 5))
    assert text == "" and calls[0] == ToolCall("set_alarm", {"when": "7:30 tomorrow"})


def test_json_that_is_no_call_and_a_broken_call_are_handled() -> None:
    assert _read(['{"answer": 4', "2}"])[1:] == ('{"answer": 42}', [])
    _, text, calls = _read(["<tool_call>{not json}</tool_call>Done."])
    assert text == "Done." and calls == []


def test_templates_that_render_tools_are_told_apart() -> None:
    assert template_offers_tools("{% if tools %}{{ tools | tojson }}{% endif %}{{ messages }}")
    assert not template_offers_tools(
        "{% for message in messages %}{{ message.content }}{% endfor %}"
    )
    assert not template_offers_tools(None)


class _ScriptedToolModel:
    """A model that calls ``set_timer`` when offered tools, then answers from the result."""

    context_size = 2048
    offers_tools = True

    def __init__(self) -> None:
        self.rounds: list[tuple[list[dict[str, Any]], bool]] = []
        self.second_round_started = threading.Event()

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 0

    def stream(self, messages: Any, options: Any = None, cancel: Any = None) -> Iterator[str]:
        raise AssertionError("a tool model is streamed with its tools")

    def stream_with_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        self.rounds.append(([dict(m) for m in messages], bool(tools)))
        if messages[-1]["role"] == "user":
            call = (
                '<tool_call>\n{"name": "set_timer", "arguments": {"seconds": 300, "name": "tea"}}'
            )
            yield from _pieces(call + "\n</tool_call>", 9)
            return
        self.second_round_started.set()
        result = messages[-1]["content"]
        yield "Done: "
        yield result


def test_a_tool_call_runs_the_handler_and_the_reply_streams_from_its_result(tmp_path: Path) -> None:
    context = CommandContext(scheduler=Scheduler(tmp_path / "schedule.json"))
    model = _ScriptedToolModel()
    chat = with_tools(model, context)  # type: ignore[arg-type]
    assert isinstance(chat, ToolChat)
    deltas = chat.stream([Message("user", "Could you time my tea, five minutes?")])
    first = next(deltas)
    assert first == "Done: "  # the first words come before the second round is over
    rest = "".join(deltas)
    assert rest == "Tea timer set for 5 minutes."
    try:
        (timer,) = context.scheduler.items("timer")
        assert timer.name == "tea" and timer.duration_s == 300
    finally:
        context.scheduler.close()
    (first_round, offered), (second_round, _) = model.rounds
    assert offered and first_round == [
        {"role": "user", "content": "Could you time my tea, five minutes?"}
    ]
    call = second_round[1]["tool_calls"][0]["function"]
    assert call == {"name": "set_timer", "arguments": {"seconds": 300, "name": "tea"}}
    assert second_round[2] == {"role": "tool", "name": "set_timer", "content": rest}


def test_a_model_without_tool_support_gets_no_tools(gguf_path: Path, tmp_path: Path) -> None:
    from assistant.llm import LlamaCppChatModel

    model = LlamaCppChatModel(gguf_path, device="cpu", context_size=512)
    assert not model.offers_tools  # SmolLM2's template renders no tools
    assert with_tools(model, CommandContext()) is model
