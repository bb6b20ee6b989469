"""The clients of ``assistant bench serve``: plain HTTP/1.1 over the standard library,
one kept-alive connection per thread, a client in a process of its own for the overhead
comparison (``python -m assistant.bench.serve_clients``), and the bad requests."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from typing import Any

from ..multipart import form_data

__all__ = ["BadInput", "Client", "Failed", "ProcessClient", "bad_inputs"]

PROMPT = "Name one colour of the rainbow."
"""What every chat request asks."""

BadInput = dict[str, Any]


class Client:
    """HTTP/1.1 requests, one kept-alive connection per calling thread (as the OpenAI
    client libraries keep theirs)."""

    def __init__(self, port: int, chat_id: str, max_tokens: int) -> None:
        self.port = port
        self.chat_id = chat_id
        self.max_tokens = max_tokens
        self._local = threading.local()

    def _send(self, path: str, body: bytes, ctype: str) -> http.client.HTTPResponse:
        """Send on this thread's connection; a kept-alive one the server has closed
        meanwhile is opened again once."""
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                self._local.conn = conn
            try:
                conn.request("POST", path, body, {"Content-Type": ctype})
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if not reused or attempt:
                    raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def chat(self, seed: int | None = None) -> tuple[float, float, str]:
        """(time to first token, time to the end, text) of one streamed reply."""
        request: dict[str, Any] = {
            "model": self.chat_id,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": 0.7,
            "messages": [{"role": "user", "content": PROMPT}],
        }
        if seed is not None:
            request["seed"] = seed
        body = json.dumps(request).encode()
        start = time.perf_counter()
        try:
            response = self._send("/v1/chat/completions", body, "application/json")
            if response.status != 200:
                response.read()
                raise Failed(f"http {response.status}")
            first = None
            parts: list[str] = []
            done = False
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    done = True
                    break
                chunk = json.loads(data)
                delta = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
                if delta:
                    parts.append(delta)
                    if first is None:
                        first = time.perf_counter() - start
            end = time.perf_counter() - start
            response.read()  # the end of the chunked body, so the connection can be reused
            if not done or first is None:
                raise Failed("garbled")
            return first, end, "".join(parts)
        except BaseException:
            self._drop()
            raise

    def transcribe(self, wav: bytes) -> tuple[float, str]:
        body, ctype = form_data({"model": "whisper-1"}, wav)
        start = time.perf_counter()
        try:
            response = self._send("/v1/audio/transcriptions", body, ctype)
            data = response.read()
            if response.status != 200:
                raise Failed(f"http {response.status}")
            return time.perf_counter() - start, str(json.loads(data)["text"])
        except BaseException:
            self._drop()
            raise


class Failed(Exception):
    pass


class ProcessClient:
    """A :class:`Client` in a process of its own, driven line by line over its stdin:
    the API side of the overhead comparison must not share this process's interpreter
    lock with the server, as no real client does."""

    def __init__(self, port: int, chat_id: str, max_tokens: int, wav: bytes) -> None:
        import subprocess
        import sys
        import tempfile

        self.max_tokens = max_tokens
        self._wav = tempfile.NamedTemporaryFile(suffix=".wav")  # noqa: SIM115
        self._wav.write(wav)
        self._wav.flush()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.bench.serve_clients", str(port), chat_id,
             str(max_tokens), self._wav.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def _ask(self, command: str) -> float:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip()
        try:
            return float(answer)
        except ValueError:
            raise RuntimeError(f"the client process failed: {answer or 'no answer'}") from None

    def chat(self, seed: int) -> float:
        """First token of a reply sampled with ``seed`` (the in-process side uses the same
        seed, so both sides sample the same tokens)."""
        return self._ask(f"chat {seed}")

    def transcribe(self) -> float:
        return self._ask("asr")

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(30)
        self._wav.close()


def _client_process(argv: list[str]) -> None:
    """The other end of :class:`ProcessClient`: ``chat SEED`` or ``asr`` per line, each
    answered with the seconds it took (first token, for chat)."""
    import sys

    port, chat_id, max_tokens, wav_path = argv
    client = Client(int(port), chat_id, int(max_tokens))
    with open(wav_path, "rb") as handle:
        wav = handle.read()
    for line in sys.stdin:
        command, *seed = line.split()
        try:
            if command == "chat":
                value = client.chat(int(seed[0]) if seed else None)[0]
            else:
                value = client.transcribe(wav)[0]
            print(f"{value:.6f}", flush=True)
        except Exception as exc:  # reported to the parent, which stops
            print(f"error {type(exc).__name__}: {exc}", flush=True)


def bad_inputs(port: int, keyed_port: int, chat_id: str, max_body: int) -> list[dict[str, Any]]:
    """Each bad request with the status it got (and the one it should get)."""

    def post(path: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        ).encode() + body

    chat = "/v1/chat/completions"
    msg = [{"role": "user", "content": "hi"}]
    wav_part, wav_type = form_data({"model": "whisper-1"}, b"")
    junk_part, junk_type = form_data({"model": "whisper-1"}, b"not audio at all" * 64)
    cases: list[tuple[str, int, bytes, int]] = [
        ("malformed JSON", port, post(chat, b"{oops"), 400),
        (
            "wrong types",
            port,
            post(
                chat, json.dumps({"model": chat_id, "messages": msg, "temperature": "hot"}).encode()
            ),
            400,
        ),
        (
            "unknown model",
            port,
            post(chat, json.dumps({"model": "gpt-x", "messages": msg}).encode()),
            404,
        ),
        (
            "unknown voice",
            port,
            post(
                "/v1/audio/speech",
                json.dumps({"model": "tts-1", "input": "hi", "voice": "nobody"}).encode(),
            ),
            400,
        ),
        ("empty upload", port, post("/v1/audio/transcriptions", wav_part, wav_type), 400),
        ("non-audio upload", port, post("/v1/audio/transcriptions", junk_part, junk_type), 400),
        (
            "upload over the limit",
            port,
            post("/v1/audio/transcriptions", b"\0" * (max_body + 1), wav_type),
            413,
        ),
        (
            "body that never finishes",
            port,
            post(chat, b"{}").replace(b"Content-Length: 2", b"Content-Length: 99"),
            408,
        ),
        (
            "missing key (non-loopback bind)",
            keyed_port,
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            401,
        ),
        (
            "wrong key (non-loopback bind)",
            keyed_port,
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
            b"Connection: close\r\n\r\n",
            401,
        ),
    ]
    results = []
    for name, target, request, expected in cases:
        status = _raw_status(target, request)
        results.append({"case": name, "expected": expected, "status": status})
    results.append(_disconnect_mid_stream(port, chat_id))
    return results


def _raw_status(port: int, request: bytes) -> int:
    """The status line's code; 0 when the connection broke without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # The server may answer early and stop reading: its answer may still be here.
        with contextlib.suppress(OSError):
            sock.sendall(request[:-2] if b"Content-Length: 99" in request else request)
        data = b""
        try:
            while b"\r\n" not in data:
                part = sock.recv(4096)
                if not part:
                    return 0
                data += part
        except OSError:
            return 0
    return int(data.split()[1])


def _disconnect_mid_stream(port: int, chat_id: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(
            {
                "model": chat_id,
                "stream": True,
                "max_tokens": 200,
                "messages": [{"role": "user", "content": "Tell a long story."}],
            }
        ),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read1(100)
    conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    conn.close()
    return {"case": "client disconnects mid-stream", "expected": 200, "status": response.status}


if __name__ == "__main__":
    import sys

    _client_process(sys.argv[1:])
