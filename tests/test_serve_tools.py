"""Tools in ``POST /v1/chat/completions`` with the official ``openai`` client: a call
forced by a grammar on the default model (whose template has no tools), the 400 for
``auto`` there, and a copy of the real GGUF whose chat template renders tools (written by
the ``gguf`` package's own metadata tool) taking tools and a tool-call history."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from assistant.llm import LlamaCppChatModel
from assistant.serve import ServeEngines, ServerOptions, ServerThread
from assistant.serve.chat_tools import tool_messages

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 24}},
            "required": ["city"],
        },
    },
}
TIME: Any = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now",
        "parameters": {"type": "object", "properties": {}},
    },
}
ASK: Any = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def client(serve_server: ServerThread):
    return openai.OpenAI(base_url=serve_server.url, api_key="unused", max_retries=0, timeout=120)


def test_a_named_function_is_forced_on_a_model_without_tools(
    client, serve_engines: ServeEngines
) -> None:
    answer = client.chat.completions.create(
        model=serve_engines.chat_id,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
        temperature=0,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)

    stream = client.chat.completions.create(
        model=serve_engines.chat_id,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice="required",
        max_tokens=40,
        temperature=0,
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0
    assert calls[0].function.name in ("get_weather", "get_time")
    assert isinstance(json.loads(calls[0].function.arguments), dict)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_auto_tools_need_a_template_that_renders_them(client, serve_engines: ServeEngines) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=serve_engines.chat_id, messages=ASK, tools=[WEATHER])
    assert caught.value.code == "tools_unsupported" and "tool_choice" in caught.value.message
    with pytest.raises(openai.BadRequestError, match="not in 'tools'"):
        client.chat.completions.create(
            model=serve_engines.chat_id,
            messages=ASK,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    # tool_choice "none" answers as if there were no tools
    plain = client.chat.completions.create(
        model=serve_engines.chat_id, messages=ASK, tools=[WEATHER], tool_choice="none",
        max_tokens=4,
    )  # fmt: skip
    assert plain.choices[0].message.tool_calls is None


@pytest.fixture(scope="module")
def tool_server(serve_engines: ServeEngines, gguf_path: Path, tmp_path_factory):
    """The embedded GGUF with a Hermes-style chat template that renders tools."""
    copy = tmp_path_factory.mktemp("tool-gguf") / "smollm2-tools.gguf"
    template = Path(__file__).with_name("tool_template.jinja")
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(gguf_path), str(copy),
         "--chat-template-file", str(template), "--force"],
        check=True, capture_output=True,
    )  # fmt: skip
    model = LlamaCppChatModel(copy, device="cpu", context_size=512)
    assert model.offers_tools
    engines = ServeEngines(
        config=serve_engines.config,
        store=None,
        chat=model,
        chat_id="smollm2-tools",
        transcriber=serve_engines.transcriber,
        asr_id=serve_engines.asr_id,
    )
    engines.configure_slots()
    with ServerThread(engines, ServerOptions(port=0)) as running:
        yield running, model


def test_a_model_whose_template_renders_tools_takes_them(tool_server) -> None:
    server, model = tool_server
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=120)
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    history: Any = [
        *ASK,
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function", "function": call}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees."},
    ]  # fmt: skip
    # What the server hands the template shows the tools and the history.
    dicts = tool_messages(history, lambda content, _where: content or "")
    prompt = model._formatter(messages=dicts, tools=[WEATHER]).prompt
    assert '"name": "get_weather"' in prompt and '"city": "Paris"' in prompt
    assert "<tool_response>\nSunny, 21 degrees." in prompt
    answer = client.chat.completions.create(
        model="smollm2-tools", messages=history, tools=[WEATHER], max_tokens=24, temperature=0
    )
    choice = answer.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    assert choice.message.content or choice.message.tool_calls
    unmatched: Any = [*ASK, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]
    with pytest.raises(openai.BadRequestError, match="tool_call_id"):
        client.chat.completions.create(model="smollm2-tools", messages=unmatched, tools=[WEATHER])


class _Caller:
    """A scripted model that calls a tool the way Hermes/Qwen2.5 write it (the 135M
    model never decides to call one by itself): the server's reading of ``auto`` calls,
    beside the real-model tests above."""

    context_size = 512
    offers_tools = True

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def count_tokens(self, messages: Any) -> int:
        return 10

    def stream_with_tools(
        self, messages: Any, tools: Any, options: Any, cancel: Any
    ) -> Iterator[str]:
        self.seen.append((messages, tools))
        call = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
        text = f"Let me look. <tool_call>{call}</tool_call>"
        yield from (text[i : i + 5] for i in range(0, len(text), 5))


def test_auto_calls_come_back_as_openai_tool_calls(serve_engines: ServeEngines) -> None:
    model = _Caller()
    engines = ServeEngines(
        config=serve_engines.config, store=None, chat=model,  # type: ignore[arg-type]
        chat_id="caller", transcriber=serve_engines.transcriber, asr_id="a",
    )  # fmt: skip
    engines.configure_slots()
    with ServerThread(engines, ServerOptions(port=0)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
        whole = client.chat.completions.create(model="caller", messages=ASK, tools=[WEATHER])
        chunks = list(
            client.chat.completions.create(
                model="caller", messages=ASK, tools=[WEATHER], stream=True
            )
        )
    assert model.seen[0][1][0]["function"]["name"] == "get_weather"
    message = whole.choices[0].message
    assert whole.choices[0].finish_reason == "tool_calls"
    assert message.content == "Let me look. "
    (call,) = message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert text == "Let me look. " and calls[0].function
    assert calls[0].function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
