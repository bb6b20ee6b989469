"""A language model on any OpenAI-compatible server (``[llm] backend = "openai"``).

vLLM, llama.cpp's server, Ollama, LM Studio and ``assistant serve`` itself all speak
``POST {base_url}/chat/completions`` with server-sent events; this client streams from
it with the standard library alone, so the runtime gains no dependency. It opens a
connection only when a reply is asked for, and only to the configured ``base_url``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from ..config import LlmConfig
from ..errors import EngineError
from .base import GenerationOptions, Message

__all__ = ["API_KEY_ENV", "OpenAiChatModel"]

log = logging.getLogger(__name__)

API_KEY_ENV = "ASSISTANT_LLM_API_KEY"
"""Environment variable that overrides ``llm.api_key``."""

_CHARS_PER_TOKEN = 4
"""The remote tokenizer is out of reach: prompts are counted at ~4 characters a token
(English), with a margin per message for the chat template."""
_TOKENS_PER_MESSAGE = 8


class OpenAiChatModel:
    """A chat model served over the OpenAI chat-completions API.

    Args:
        base_url: the API root, e.g. ``http://gpu-box:8080/v1``.
        model: the model's name on that server.
        api_key: bearer key; empty sends no ``Authorization`` header.
        context_size: the remote model's context window, for history trimming.
        timeout_s: connect and read timeout (each read, not the whole reply).
        seed: sampling seed sent when a call gives none (-1 = none).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        context_size: int = 2048,
        timeout_s: float = 120.0,
        seed: int = -1,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise EngineError(
                f"the remote language model's base_url must be an http(s) URL, not {base_url!r}",
                hint='set [llm] base_url, e.g. "http://gpu-box:8080/v1"',
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.context_size = context_size
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._seed = seed
        log.info("remote language model %s at %s", model, self.base_url)

    @classmethod
    def from_config(cls, config: LlmConfig) -> OpenAiChatModel:
        """Build from the ``[llm]`` section (``$ASSISTANT_LLM_API_KEY`` wins over
        ``api_key``)."""
        return cls(
            config.base_url,
            config.model,
            api_key=os.environ.get(API_KEY_ENV, config.api_key),
            context_size=config.context_size,
            timeout_s=config.timeout_s,
            seed=config.seed,
        )

    @property
    def name(self) -> str:
        """The model's name on the server."""
        return self.model

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """An estimate (the server's tokenizer is not here): ~4 characters a token."""
        chars = sum(len(m.content) for m in messages)
        return chars // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE * len(messages) + 1

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text deltas as the server sends them; closing the iterator or setting
        ``cancel`` closes the connection, which stops generation on the server."""
        options = options or GenerationOptions()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        if options.stop:
            body["stop"] = list(options.stop)
        seed = options.seed if options.seed is not None else self._seed
        if seed is not None and seed >= 0:
            body["seed"] = seed
        response = self._post("/chat/completions", body)
        try:
            for data in _sse_data(response):
                if cancel is not None and cancel.is_set():
                    log.debug("remote generation cancelled")
                    return
                if data == "[DONE]":
                    return
                content = _delta_content(data, self.base_url)
                if content:
                    yield content
        except (OSError, http.client.HTTPException) as exc:
            raise EngineError(
                f"the language model server at {self.base_url} broke off the reply: {exc}"
            ) from exc
        finally:
            response.close()

    def _post(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(
                request, timeout=self.timeout_s
            )
        except urllib.error.HTTPError as exc:
            raise EngineError(
                f"the language model server at {self.base_url} answered {exc.code}: "
                f"{_error_message(exc)}",
                hint=_hint_for(exc.code),
            ) from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EngineError(
                f"cannot reach the language model server at {self.base_url}: {reason}",
                hint="check [llm] base_url and that the server is running",
            ) from exc
        return response


def _sse_data(response: http.client.HTTPResponse) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent-event stream, one per event."""
    parts: list[str] = []
    for raw in response:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if parts:
                yield "\n".join(parts)
                parts = []
            continue
        if line.startswith("data:"):
            parts.append(line[5:].lstrip(" "))
    if parts:
        yield "\n".join(parts)


def _delta_content(data: str, where: str) -> str:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise EngineError(
            f"the language model server at {where} sent bad JSON: {data[:80]!r}"
        ) from exc
    if isinstance(chunk, dict) and "error" in chunk:
        raise EngineError(f"the language model server at {where} failed: {chunk['error']}")
    try:
        choices = chunk["choices"]
        if not choices:  # the usage chunk at the end has none
            return ""
        return str(choices[0].get("delta", {}).get("content") or "")
    except (KeyError, TypeError, AttributeError) as exc:
        raise EngineError(
            f"the language model server at {where} sent an unexpected chunk: {data[:80]!r}"
        ) from exc


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def _hint_for(status: int) -> str:
    if status in (401, 403):
        return "set [llm] api_key (or $ASSISTANT_LLM_API_KEY) to the server's key"
    if status == 404:
        return "check [llm] model (the server's /v1/models lists its names) and base_url"
    return ""
