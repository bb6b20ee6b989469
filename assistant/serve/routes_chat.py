"""``POST /v1/chat/completions``: the shared language model, streamed by server-sent
events or answered whole."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..errors import AssistantError
from ..llm import GenerationOptions, Message, fit_to_context
from .chat_tools import (
    ToolReply,
    ToolRequest,
    call_dicts,
    parse_tools,
    plain_history,
    stream_tool_reply,
    tool_messages,
)
from .engines import ServeEngines
from .errors import ApiError
from .parsing import json_body, opt_int, opt_number, require_str
from .queueing import ClientGone, iterate_in_thread, unless_disconnected

__all__ = ["chat_completions", "parse_chat_request"]


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[Message]
    options: GenerationOptions
    stream: bool
    include_usage: bool
    tools: ToolRequest | None = None
    """Set: the reply may be (or, forced, is) tool calls."""
    tool_dicts: list[dict[str, Any]] | None = None
    """The messages as the chat template takes them (tool turns kept)."""


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(
                    400,
                    f"{where}: only text content is supported, not {kind!r}",
                    "unsupported_content",
                    "messages",
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise ApiError(
                    400, f"{where}: a text part needs a string 'text'", "invalid_type", "messages"
                )
            texts.append(text)
        return "".join(texts)
    if value is None:
        return ""
    raise ApiError(
        400, f"{where}.content must be a string or a list of text parts", "invalid_type", "messages"
    )


def _messages(value: Any, with_tools: bool) -> tuple[list[Message], list[dict[str, Any]]]:
    """The conversation as messages (tool turns written as text) and as the chat
    template's dictionaries (tool turns kept, for a generation with tools)."""
    if not isinstance(value, list) or not value:
        raise ApiError(400, "'messages' must be a non-empty list", "invalid_type", "messages")
    dicts = tool_messages(value, _content)
    if with_tools:
        return [], dicts
    plain = plain_history(dicts)
    return [Message(m["role"], m["content"]) for m in plain], dicts


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise ApiError(
        400, "'stop' must be a string or a list of up to 4 strings", "invalid_type", "stop"
    )


def parse_chat_request(data: dict[str, Any], engines: ServeEngines) -> ChatRequest:
    """Check every field; 400 names the first wrong one, 404 an unknown model."""
    model = require_str(data, "model")
    if model != engines.chat_id:
        raise ApiError(
            404,
            f"the model {model!r} does not exist here; this server has {engines.chat_id!r}",
            "model_not_found",
            "model",
        )
    tools = parse_tools(data, engines.chat, model)
    messages, dicts = _messages(data.get("messages"), tools is not None)
    if opt_int(data, "n", 1, 1, 1) != 1:  # pragma: no cover - opt_int already refuses
        raise ApiError(400, "'n' must be 1", "invalid_value", "n")
    fmt = data.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise ApiError(
            400,
            "only response_format {'type': 'text'} is supported",
            "invalid_value",
            "response_format",
        )
    context = engines.chat.context_size
    default_tokens = engines.config.llm.max_tokens
    max_tokens = opt_int(data, "max_completion_tokens", None, 1, context - 1)
    if max_tokens is None:
        max_tokens = opt_int(data, "max_tokens", default_tokens, 1, context - 1)
    seed = opt_int(data, "seed", None, -(2**63), 2**64 - 1)
    options = GenerationOptions(
        max_tokens=max_tokens or default_tokens,
        temperature=opt_number(data, "temperature", engines.config.llm.temperature, 0.0, 2.0),
        top_p=opt_number(data, "top_p", engines.config.llm.top_p, 0.0, 1.0),
        seed=None if seed is None else seed % 2**32,
        stop=_stop(data.get("stop")),
    )
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", "invalid_type", "stream")
    stream_options = data.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise ApiError(400, "'stream_options' must be an object", "invalid_type", "stream_options")
    usage = bool(stream_options.get("include_usage"))
    return ChatRequest(model, messages, options, stream, usage, tools, dicts)


@dataclass
class _Usage:
    prompt: int = 0
    completion: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
        }


def _fitted(model: Any, messages: list[Message], reply_tokens: int) -> list[Message]:
    """``messages`` trimmed to fit the context (:func:`fit_to_context`). A prompt whose
    rendered text has fewer bytes than the tokens left surely fits (a token is at least
    one byte; a few spare for a BOS and a leading space), so the usual short request
    skips the tokenizer before its first token."""
    render = getattr(model, "render_prompt", None)
    if render is not None:
        spare = model.context_size - reply_tokens - 8
        if len(render(messages).encode("utf-8")) <= spare:
            return messages
    return fit_to_context(model, messages, reply_tokens)


def _generate(  # type: ignore[no-untyped-def]
    engines: ServeEngines, chat: ChatRequest, usage: _Usage, tools: ToolReply
):
    def make(cancel: threading.Event) -> Iterator[str]:
        model = engines.chat
        plain = chat.messages or [Message(m["role"], m["content"]) for m in
                                  plain_history(chat.tool_dicts or [])]  # fmt: skip
        try:
            messages = _fitted(model, plain, chat.options.max_tokens)
        except AssistantError as exc:
            raise ApiError(400, exc.message, "context_length_exceeded", "messages") from exc
        # Ready: the slot is held and the prompt fits. A stream's headers go out now,
        # while the model reads the prompt, not after its first token.
        yield ""
        if chat.tools is None:
            deltas = model.stream(messages, chat.options, cancel)
        else:  # the tool specifications are not counted in the usage
            deltas = stream_tool_reply(
                model, chat.tool_dicts or [], chat.tools, chat.options, cancel, tools
            )
        for delta in deltas:
            usage.completion += 1
            yield delta
        # Counted after the reply, off the path to its first token.
        usage.prompt = model.count_tokens(messages)

    return make


def _finish(chat: ChatRequest, usage: _Usage, reply: ToolReply) -> str:
    if reply.calls:
        return "tool_calls"
    return "length" if usage.completion >= chat.options.max_tokens else "stop"


async def chat_completions(request: Request) -> Response:
    engines: ServeEngines = request.app.state.engines
    chat = parse_chat_request(await json_body(request), engines)
    usage = _Usage()
    reply = ToolReply()
    cancel = threading.Event()
    deltas = iterate_in_thread(
        engines.chat_slots,
        _generate(engines, chat, usage, reply),
        cancel,
        engines.config.serve.request_timeout_s,
    )
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    # The generation's "ready" (or the error) comes before any header is sent, so a full
    # queue or an over-long prompt gets its own status code; a failing engine is an error
    # event in the stream, or a 500 when the reply is whole.
    try:
        first: str | None = await unless_disconnected(request.receive, deltas.__anext__())
    except StopAsyncIteration:
        first = None
    except ClientGone:
        await deltas.aclose()  # it left the queue, or its generation is stopped
        return Response(status_code=499)  # nobody is listening: nothing is sent
    except AssistantError as exc:
        await deltas.aclose()
        raise ApiError(500, f"the language model failed: {exc.message}", "engine_error") from exc
    if not chat.stream:
        parts = [first or ""]

        async def collect() -> None:
            async for delta in deltas:
                parts.append(delta)

        try:
            await unless_disconnected(request.receive, collect())
        except ClientGone:
            await deltas.aclose()  # stops the generation at its next token
            return Response(status_code=499)
        except AssistantError as exc:
            raise ApiError(
                500, f"the language model failed: {exc.message}", "engine_error"
            ) from exc
        message: dict[str, Any] = {"role": "assistant", "content": "".join(parts)}
        if reply.calls:
            message["content"] = message["content"] or None
            message["tool_calls"] = call_dicts(reply)
        return JSONResponse(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": chat.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": _finish(chat, usage, reply),
                        "logprobs": None,
                    }
                ],
                "usage": usage.to_dict(),
            }
        )

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return f"data: {json.dumps(body)}\n\n"

    async def events() -> AsyncIterator[str]:
        try:
            yield chunk({"role": "assistant", "content": ""}, None)
            if first is not None:
                async for delta in deltas:
                    yield chunk({"content": delta}, None)
            if reply.calls:
                yield chunk({"tool_calls": call_dicts(reply, indexed=True)}, None)
            yield chunk({}, _finish(chat, usage, reply))
            if chat.include_usage:
                body = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": chat.model,
                    "choices": [],
                    "usage": usage.to_dict(),
                }
                yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
        except AssistantError as exc:
            error = {
                "error": {
                    "message": f"the language model failed: {exc.message}",
                    "type": "server_error",
                    "code": "engine_error",
                    "param": None,
                }
            }
            yield f"data: {json.dumps(error)}\n\n"
        finally:
            cancel.set()  # a client that went away stops llama.cpp at its next token
            await deltas.aclose()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
