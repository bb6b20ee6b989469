"""Who may call the server and how much they may send.

Loopback by default; any other bind needs a key, checked in constant time on every
request. Request bodies are read here, before any route sees them, with a size limit
and a deadline, so a huge upload or a body that never finishes costs one bounded
buffer and is answered with 413 or 408.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import AssistantError
from .errors import error_response

__all__ = ["AuthMiddleware", "BodyLimitMiddleware", "check_bind", "is_loopback"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """``host`` (a name or an address) is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_bind(host: str, api_key: str) -> None:
    """Refuse to listen beyond loopback without a key."""
    if not is_loopback(host) and not api_key:
        raise AssistantError(
            f"refusing to serve on {host} without an API key: other machines could use it",
            hint="set [serve] api_key or $ASSISTANT_SERVE_API_KEY, or bind 127.0.0.1",
        )


class AuthMiddleware:
    """Every HTTP request must carry ``Authorization: Bearer <key>`` (when a key is set)."""

    def __init__(self, app: App, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._key or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        scheme, _, token = given.partition(b" ")
        # compare_digest takes the same time wherever the first difference is.
        ok = hmac.compare_digest(token.strip(), self._key) and scheme.lower() == b"bearer"
        if not ok:
            message = (
                "invalid API key" if given else "missing API key: send Authorization: Bearer <key>"
            )
            await error_response(401, message, "invalid_api_key")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Read each request body in full first: at most ``max_bytes``, within ``timeout_s``."""

    def __init__(self, app: App, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.info("request body not finished within %.0f s", self.timeout_s)
                response = error_response(
                    408, f"the request body did not arrive within {self.timeout_s:g} s", "timeout"
                )
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes / (1024 * 1024)
        response = error_response(
            413, f"the request body is over the {limit:g} MiB limit", "request_too_large"
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
        # Read (and drop) a little of what is still coming: closing on unread data makes
        # the kernel reset the connection, and the client might never see the 413.
        await _drain(receive, self.max_bytes, min(self.timeout_s, 2.0))


async def _drain(receive: Receive, max_bytes: int, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    drained = 0
    while drained <= max_bytes:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        drained += len(message.get("body", b""))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
