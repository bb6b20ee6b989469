"""Helpers of the ``assistant serve`` tests (tests/test_serve_*.py): the server's config,
a fixed question, raw HTTP for the requests no client library sends, and the wyoming
client library's round trip. The shared server itself is in conftest.py."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.config import Config
from assistant.llm import GenerationOptions, Message

QUESTION = [
    Message("system", "You are a helpful assistant. Answer in one short sentence."),
    Message("user", "What is the capital of France?"),
]
GREEDY = GenerationOptions(max_tokens=12, temperature=0.0, seed=1)


def serve_config(models_dir: Path) -> Config:
    config = Config()
    config.models.dir = str(models_dir)
    config.llm.context_size = 512
    config.llm.max_tokens = 16
    config.asr.device = config.llm.device = config.tts.device = "cpu"
    config.serve.max_body_mb = 1
    config.serve.body_timeout_s = 1.5
    return config


def raw(port: int, request: bytes, wait: float = 10.0) -> tuple[int, dict[str, Any]]:
    """Send bytes as they are; (status, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body or b"{}")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def post(path: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    """A whole POST request's bytes."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wyoming(port: int, events: Sequence[Any], until: str, timeout: float = 60) -> list[Any]:
    """Send ``events`` with the wyoming client library on one connection; the events
    that come back, up to the first of type ``until``."""
    from wyoming.client import AsyncTcpClient

    async def run() -> list[Any]:
        got = []
        async with AsyncTcpClient("127.0.0.1", port, read_timeout=timeout) as conn:
            for event in events:
                await conn.write_event(event.event())
            while True:
                event = await conn.read_event()
                assert event is not None, "the server closed the connection"
                got.append(event)
                if event.type == until:
                    return got

    return asyncio.run(run())
