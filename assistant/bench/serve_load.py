"""``assistant bench serve``: the HTTP server under load, its overhead over in-process
calls, and its answers to bad input, all in one run on the same engines.

The server runs in this process on a background thread (the engines shared by both
sides), and the clients are threads speaking plain HTTP/1.1, so nothing but the
standard library sits between the figures and the wire.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import secrets
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..llm import GenerationOptions, Message
from .report import machine_info, percentile

__all__ = ["ServeBenchOptions", "ServeBenchReport", "run_serve_bench"]

log = logging.getLogger(__name__)

_PROMPT = "Name one colour of the rainbow."
_CLIP_TEXT = "The quick brown fox jumps over the lazy dog."
OVERHEAD_GOAL = 1.1
RSS_GROWTH_GOAL = 0.05


@dataclass(frozen=True)
class ServeBenchOptions:
    duration_s: float = 60.0
    """How long the load runs (clients start no new request after it)."""
    chat_clients: int = 32
    asr_clients: int = 8
    max_tokens: int = 16
    """Reply length of every chat request."""
    warmup_s: float = 10.0
    """Load before the first RSS reading, so caches and arenas have grown."""
    repeats: int = 5
    """Rounds of the overhead comparison (medians are reported)."""


@dataclass
class Latencies:
    count: int = 0
    ttft_p50: float | None = None
    ttft_p99: float | None = None
    total_p50: float | None = None
    total_p99: float | None = None


@dataclass
class ServeBenchReport:
    options: ServeBenchOptions
    chat: Latencies
    asr: Latencies
    errors: dict[str, int]
    """Load-phase failures by kind (HTTP status, exception, ``garbled``)."""
    garbled: int
    rss_before_mb: float
    rss_after_mb: float
    asr_in_process_s: float
    asr_api_s: float
    ttft_in_process_s: float
    ttft_api_s: float
    bad_input: list[dict[str, Any]]
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def rss_growth(self) -> float:
        return self.rss_after_mb / self.rss_before_mb - 1.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rss_growth"] = self.rss_growth
        data["asr_ratio"] = self.asr_api_s / self.asr_in_process_s
        data["ttft_ratio"] = self.ttft_api_s / self.ttft_in_process_s
        return data


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _multipart(wav: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="q.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + wav
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class _Client:
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

    def chat(self) -> tuple[float, float, str]:
        """(time to first token, time to the end, text) of one streamed reply."""
        body = json.dumps(
            {
                "model": self.chat_id,
                "stream": True,
                "max_tokens": self.max_tokens,
                "temperature": 0.7,
                "messages": [{"role": "user", "content": _PROMPT}],
            }
        ).encode()
        start = time.perf_counter()
        try:
            response = self._send("/v1/chat/completions", body, "application/json")
            if response.status != 200:
                response.read()
                raise _Failed(f"http {response.status}")
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
                raise _Failed("garbled")
            return first, end, "".join(parts)
        except BaseException:
            self._drop()
            raise

    def transcribe(self, wav: bytes) -> tuple[float, str]:
        body, ctype = _multipart(wav, {"model": "whisper-1"})
        start = time.perf_counter()
        try:
            response = self._send("/v1/audio/transcriptions", body, ctype)
            data = response.read()
            if response.status != 200:
                raise _Failed(f"http {response.status}")
            return time.perf_counter() - start, str(json.loads(data)["text"])
        except BaseException:
            self._drop()
            raise


class _Failed(Exception):
    pass


def _speech_clip(engines: Any) -> bytes:
    import soundfile as sf

    from ..tts import synthesize_all

    voice = engines.voice(engines.config.tts.voice)
    audio = synthesize_all(voice, _CLIP_TEXT)
    pad = np.zeros(int(0.3 * audio.sample_rate), np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([pad, audio.samples, pad]), audio.sample_rate, format="WAV")
    return buffer.getvalue()


class _ProcessClient:
    """A :class:`_Client` in a process of its own, driven line by line over its stdin:
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
            [sys.executable, "-m", "assistant.bench.serve_load", str(port), chat_id,
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

    def chat(self) -> float:
        return self._ask("chat")

    def transcribe(self) -> float:
        return self._ask("asr")

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(30)
        self._wav.close()


def _client_process(argv: list[str]) -> None:
    """The other end of :class:`_ProcessClient`: ``chat`` or ``asr`` per line, each
    answered with the seconds it took (first token, for chat)."""
    import sys

    port, chat_id, max_tokens, wav_path = argv
    client = _Client(int(port), chat_id, int(max_tokens))
    with open(wav_path, "rb") as handle:
        wav = handle.read()
    for line in sys.stdin:
        try:
            value = client.chat()[0] if line.strip() == "chat" else client.transcribe(wav)[0]
            print(f"{value:.6f}", flush=True)
        except Exception as exc:  # reported to the parent, which stops
            print(f"error {type(exc).__name__}: {exc}", flush=True)


def _overhead(engines: Any, client: _ProcessClient, wav: bytes, repeats: int) -> tuple[float, ...]:
    """Medians of (asr in-process, asr API, first token in-process, first token API)."""
    import soundfile as sf

    from ..audio import Audio

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = Audio(samples, rate)
    messages = [Message("user", _PROMPT)]
    options = GenerationOptions(max_tokens=client.max_tokens, temperature=0.7)
    rounds: list[list[float]] = [[], [], [], []]

    def first_token() -> float:
        start = time.perf_counter()
        stream = engines.chat.stream(messages, options)
        next(stream)
        elapsed = time.perf_counter() - start
        for _ in stream:  # finish, as the API side does, so both leave the model idle
            pass
        return elapsed

    def asr_local() -> float:
        start = time.perf_counter()
        engines.transcriber.transcribe(audio)
        return time.perf_counter() - start

    for i in range(repeats + 1):  # the first round warms up and is dropped
        # The two sides alternate which goes first, so neither always meets a warmer cache.
        if i % 2:
            asr_api = client.transcribe()
            asr_in = asr_local()
            ttft_api = client.chat()
            ttft_local = first_token()
        else:
            asr_in = asr_local()
            asr_api = client.transcribe()
            ttft_local = first_token()
            ttft_api = client.chat()
        if i:
            for bucket, value in zip(rounds, (asr_in, asr_api, ttft_local, ttft_api), strict=True):
                bucket.append(value)
    return tuple(statistics.median(r) for r in rounds)


def _bad_inputs(port: int, keyed_port: int, chat_id: str, max_body: int) -> list[dict[str, Any]]:
    """Each bad request with the status it got (and the one it should get)."""

    def post(path: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        ).encode() + body

    chat = "/v1/chat/completions"
    msg = [{"role": "user", "content": "hi"}]
    wav_part, wav_type = _multipart(b"", {"model": "whisper-1"})
    junk_part, junk_type = _multipart(b"not audio at all" * 64, {"model": "whisper-1"})
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


def run_serve_bench(
    config: Config,
    store: Any,
    options: ServeBenchOptions,
    progress: Callable[[str], None] = lambda _line: None,
    engines: Any = None,
) -> ServeBenchReport:
    """Everything in one run; ``engines`` (a loaded ServeEngines) skips loading."""
    import copy

    from ..serve import ServeEngines, ServerOptions, ServerThread

    config = copy.deepcopy(config)
    # The never-finishing body waits this long for its 408; the default 30 s would
    # stretch the run for no new information.
    config.serve.body_timeout_s = min(config.serve.body_timeout_s, 5.0)
    if engines is None:
        progress("loading the engines")
        engines = ServeEngines.load(config, store)
    wav = _speech_clip(engines)
    key = secrets.token_urlsafe(16)
    with (
        ServerThread(engines, ServerOptions(port=0)) as server,
        ServerThread(engines, ServerOptions(host="0.0.0.0", port=0, api_key=key)) as keyed,
    ):
        assert server.http_port is not None and keyed.http_port is not None
        client = _Client(server.http_port, engines.chat_id, options.max_tokens)
        progress(f"overhead: {options.repeats} rounds of API vs in-process")
        remote = _ProcessClient(server.http_port, engines.chat_id, options.max_tokens, wav)
        try:
            asr_local, asr_api, ttft_local, ttft_api = _overhead(
                engines, remote, wav, options.repeats
            )
        finally:
            remote.close()
        progress(f"warm-up load for {options.warmup_s:g} s")
        _load(client, wav, options, options.warmup_s, None)
        rss_before = _rss_mb()
        progress(
            f"load: {options.chat_clients} chat + {options.asr_clients} transcription "
            f"clients for {options.duration_s:g} s, bad input tried meanwhile"
        )
        bad: list[dict[str, Any]] = []
        chat, asr, errors, garbled = _load(
            client,
            wav,
            options,
            options.duration_s,
            lambda: bad.extend(
                _bad_inputs(
                    server.http_port or 0,
                    keyed.http_port or 0,
                    engines.chat_id,
                    config.serve.max_body_mb * 1024 * 1024,
                )
            ),
        )
        rss_after = _rss_mb()
    return ServeBenchReport(
        options=options,
        chat=chat,
        asr=asr,
        errors=errors,
        garbled=garbled,
        rss_before_mb=rss_before,
        rss_after_mb=rss_after,
        asr_in_process_s=asr_local,
        asr_api_s=asr_api,
        ttft_in_process_s=ttft_local,
        ttft_api_s=ttft_api,
        bad_input=bad,
        machine=asdict(machine_info()),
    )


def _load(
    client: _Client,
    wav: bytes,
    options: ServeBenchOptions,
    duration: float,
    meanwhile: Callable[[], None] | None,
) -> tuple[Latencies, Latencies, dict[str, int], int]:
    deadline = time.perf_counter() + duration
    lock = threading.Lock()
    chat_times: list[tuple[float, float]] = []
    asr_times: list[float] = []
    errors: Counter[str] = Counter()
    garbled = 0

    def record_error(exc: BaseException) -> None:
        nonlocal garbled
        kind = str(exc) if isinstance(exc, _Failed) else type(exc).__name__
        with lock:
            errors[kind] += 1
            garbled += kind == "garbled"

    def chat_loop() -> None:
        while time.perf_counter() < deadline:
            try:
                ttft, total, text = client.chat()
                if not text.strip():
                    raise _Failed("garbled")
                with lock:
                    chat_times.append((ttft, total))
            except (OSError, http.client.HTTPException, ValueError, KeyError, _Failed) as exc:
                record_error(exc)

    def asr_loop() -> None:
        nonlocal garbled
        while time.perf_counter() < deadline:
            try:
                elapsed, text = client.transcribe(wav)
                if "fox" not in text.lower():
                    raise _Failed("garbled")
                with lock:
                    asr_times.append(elapsed)
            except (OSError, http.client.HTTPException, ValueError, KeyError, _Failed) as exc:
                record_error(exc)

    threads = [threading.Thread(target=chat_loop, daemon=True) for _ in range(options.chat_clients)]
    threads += [threading.Thread(target=asr_loop, daemon=True) for _ in range(options.asr_clients)]
    for thread in threads:
        thread.start()
    if meanwhile is not None:
        time.sleep(min(2.0, duration / 4))
        try:
            meanwhile()
        except Exception:  # the load goes on; the report shows what is missing
            log.exception("the bad-input round failed")
    for thread in threads:
        thread.join()
    chat = Latencies(count=len(chat_times))
    if chat_times:
        ttfts = [t for t, _ in chat_times]
        totals = [t for _, t in chat_times]
        chat = Latencies(
            len(chat_times),
            percentile(ttfts, 50),
            percentile(ttfts, 99),
            percentile(totals, 50),
            percentile(totals, 99),
        )
    asr = Latencies(count=len(asr_times))
    if asr_times:
        asr = Latencies(
            len(asr_times), None, None, percentile(asr_times, 50), percentile(asr_times, 99)
        )
    return chat, asr, dict(errors), garbled


def format_serve(report: ServeBenchReport) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f} ms"

    o = report.options
    lines = [
        f"load: {o.chat_clients} streaming chat + {o.asr_clients} transcription clients, "
        f"{o.duration_s:g} s, {o.max_tokens} tokens a reply",
        f"  chat  completed {report.chat.count:>5}  TTFT p50 {ms(report.chat.ttft_p50)} "
        f"p99 {ms(report.chat.ttft_p99)}  complete p50 {ms(report.chat.total_p50)} "
        f"p99 {ms(report.chat.total_p99)}",
        f"  asr   completed {report.asr.count:>5}  complete p50 {ms(report.asr.total_p50)} "
        f"p99 {ms(report.asr.total_p99)}",
        f"  errors: {report.errors or 'none'}   garbled: {report.garbled}",
        f"  RSS {report.rss_before_mb:.0f} MiB after warm-up -> {report.rss_after_mb:.0f} MiB "
        f"({report.rss_growth * 100:+.1f} %, goal <= {RSS_GROWTH_GOAL * 100:.0f} %)",
        "overhead (medians, API / in-process, goal <= 1.1):",
        f"  transcription  {ms(report.asr_in_process_s)} -> {ms(report.asr_api_s)}  "
        f"{report.asr_api_s / report.asr_in_process_s:.2f}x",
        f"  first token    {ms(report.ttft_in_process_s)} -> {ms(report.ttft_api_s)}  "
        f"{report.ttft_api_s / report.ttft_in_process_s:.2f}x",
        "bad input (tried during the load):",
    ]
    for case in report.bad_input:
        ok = "ok " if case["status"] == case["expected"] else "BAD"
        lines.append(f"  {ok} {case['case']:<34} {case['status']} (expected {case['expected']})")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    _client_process(sys.argv[1:])
