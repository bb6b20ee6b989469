"""``assistant bench serve``: the HTTP server under load, its overhead over in-process
calls, and its answers to bad input, all in one run on the same engines.

The server runs in this process on a background thread (the engines shared by both
sides); the clients (:mod:`.serve_clients`) speak plain HTTP/1.1, so nothing but the
standard library sits between the figures and the wire.
"""

from __future__ import annotations

import http.client
import io
import logging
import secrets
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
from .serve_clients import PROMPT, Client, Failed, ProcessClient, bad_inputs

__all__ = ["ServeBenchOptions", "ServeBenchReport", "run_serve_bench"]

log = logging.getLogger(__name__)

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


def _speech_clip(engines: Any) -> bytes:
    import soundfile as sf

    from ..tts import synthesize_all

    voice = engines.voice(engines.config.tts.voice)
    audio = synthesize_all(voice, _CLIP_TEXT)
    pad = np.zeros(int(0.3 * audio.sample_rate), np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([pad, audio.samples, pad]), audio.sample_rate, format="WAV")
    return buffer.getvalue()


def _overhead(engines: Any, client: ProcessClient, wav: bytes, repeats: int) -> tuple[float, ...]:
    """Medians of (asr in-process, asr API, first token in-process, first token API)."""
    import soundfile as sf

    from ..audio import Audio

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = Audio(samples, rate)
    messages = [Message("user", PROMPT)]
    rounds: list[list[float]] = [[], [], [], []]

    def first_token(seed: int) -> float:
        # The API's sampling: the same prompt, temperature, top_p and seed.
        options = GenerationOptions(
            max_tokens=client.max_tokens,
            temperature=0.7,
            top_p=engines.config.llm.top_p,
            seed=seed,
        )
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

    # Transcription rounds first, then first-token rounds, so no first token is timed
    # right after a transcription (whose threads may still hold the other core: the API
    # side needs it for the event loop and the client, the in-process side does not).
    for i in range(repeats + 1):  # the first round warms up and is dropped
        # The two sides alternate which goes first, so neither always meets a warmer cache.
        if i % 2:
            asr_api = client.transcribe()
            asr_in = asr_local()
        else:
            asr_in = asr_local()
            asr_api = client.transcribe()
        if i:
            rounds[0].append(asr_in)
            rounds[1].append(asr_api)
    for i in range(repeats + 1):
        if i % 2:
            ttft_api = client.chat(i)
            ttft_local = first_token(i)
        else:
            ttft_local = first_token(i)
            ttft_api = client.chat(i)
        if i:
            rounds[2].append(ttft_local)
            rounds[3].append(ttft_api)
    return tuple(statistics.median(r) for r in rounds)


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
        client = Client(server.http_port, engines.chat_id, options.max_tokens)
        progress(f"overhead: {options.repeats} rounds of API vs in-process")
        remote = ProcessClient(server.http_port, engines.chat_id, options.max_tokens, wav)
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
                bad_inputs(
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
    client: Client,
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
        kind = str(exc) if isinstance(exc, Failed) else type(exc).__name__
        with lock:
            errors[kind] += 1
            garbled += kind == "garbled"

    def chat_loop() -> None:
        while time.perf_counter() < deadline:
            try:
                ttft, total, text = client.chat()
                if not text.strip():
                    raise Failed("garbled")
                with lock:
                    chat_times.append((ttft, total))
            except (OSError, http.client.HTTPException, ValueError, KeyError, Failed) as exc:
                record_error(exc)

    def asr_loop() -> None:
        nonlocal garbled
        while time.perf_counter() < deadline:
            try:
                elapsed, text = client.transcribe(wav)
                if "fox" not in text.lower():
                    raise Failed("garbled")
                with lock:
                    asr_times.append(elapsed)
            except (OSError, http.client.HTTPException, ValueError, KeyError, Failed) as exc:
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
