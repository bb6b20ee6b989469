"""``assistant serve`` against bad input and bad clients: malformed and wrong requests get
OpenAI-style 4xx errors (sent as raw bytes, since no client library sends them), clients
that go away free their engine, keys guard a non-loopback bind, and the shortened load
benchmark loses nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from serve_setup import post, raw

from assistant.serve import ServeEngines, ServerOptions, ServerThread


@pytest.fixture(scope="module")
def client(serve_server: ServerThread):
    return openai.OpenAI(base_url=serve_server.url, api_key="unused", max_retries=0, timeout=120)


def test_bad_requests_get_openai_errors(
    serve_server: ServerThread, serve_engines: ServeEngines, client
) -> None:
    port = serve_server.http_port
    chat = "/v1/chat/completions"
    cases = [
        (post(chat, b"{not json"), 400, "invalid_json"),
        (
            post(chat, json.dumps({"model": serve_engines.chat_id, "messages": "hi"}).encode()),
            400,
            "invalid_type",
        ),
        (
            post(
                chat,
                json.dumps(
                    {
                        "model": serve_engines.chat_id,
                        "messages": [{"role": "user", "content": "x"}],
                        "max_tokens": "9",
                    }
                ).encode(),
            ),
            400,
            "invalid_type",
        ),
        (
            post(
                chat,
                json.dumps(
                    {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}
                ).encode(),
            ),
            404,
            "model_not_found",
        ),
        (
            post(
                "/v1/audio/speech",
                json.dumps({"model": "tts-1", "input": "hi", "voice": "alloy"}).encode(),
            ),
            400,
            "voice_not_found",
        ),
        (
            post(
                "/v1/audio/speech",
                json.dumps({"model": "tts-1", "input": "hi", "voice": "../../etc/passwd"}).encode(),
            ),
            400,
            "voice_not_found",
        ),
        (
            post("/v1/embeddings", json.dumps({"model": "x", "input": "hi"}).encode()),
            404,
            "model_not_found",
        ),
        (
            post(
                "/v1/embeddings",
                json.dumps({"model": "all-minilm-l6-v2", "input": ["a"] * 300}).encode(),
            ),
            400,
            "too_many_inputs",
        ),
        (post("/v1/nothing", b"{}"), 404, "not_found"),
        (
            post(
                chat,
                json.dumps(
                    {
                        "model": serve_engines.chat_id,
                        "messages": [{"role": "user", "content": "word " * 700}],
                    }
                ).encode(),
            ),
            400,
            "context_length_exceeded",
        ),
    ]
    for request, status, code in cases:
        got, body = raw(port, request)
        assert (got, body["error"]["code"]) == (status, code), body
        assert body["error"]["message"] and body["error"]["type"]
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.audio.transcriptions.create(model="whisper-1", file=("e.wav", b"", "audio/wav"))
    with pytest.raises(openai.BadRequestError, match="not audio"):
        client.audio.transcriptions.create(
            model="whisper-1", file=("x.wav", b"RIFF nonsense" * 50, "audio/wav")
        )
    big = b"\0" * (1024 * 1024 + 10)
    got, body = raw(port, post("/v1/audio/transcriptions", big, "multipart/form-data; b=x"))
    assert got == 413 and body["error"]["code"] == "request_too_large"
    # A body that never finishes: the headers promise 100 bytes, 10 come.
    start = time.perf_counter()
    got, body = raw(
        port, post(chat, b"{}")[:-2].replace(b"Length: 2", b"Length: 100") + b'{"model":', wait=10
    )
    assert got == 408 and 1.0 < time.perf_counter() - start < 6
    assert client.models.list().data  # and the server still serves


def test_client_that_disconnects_stops_generation(
    serve_server: ServerThread, serve_engines: ServeEngines
) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", serve_server.http_port, timeout=60)
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(
            {
                "model": serve_engines.chat_id,
                "stream": True,
                "max_tokens": 400,
                "temperature": 0.8,
                "messages": [{"role": "user", "content": "Tell me a very long story about ships."}],
            }
        ),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    assert response.status == 200
    response.read1(200)
    start = time.perf_counter()
    conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    conn.close()
    while serve_engines.chat_slots.running and time.perf_counter() - start < 10:
        time.sleep(0.02)
    assert serve_engines.chat_slots.running == 0
    # 400 tokens take this model several seconds here; a stopped generation frees the
    # slot at its next token.
    assert time.perf_counter() - start < 2.0


def test_a_queued_client_that_disconnects_leaves_the_queue(
    serve_server: ServerThread, serve_engines: ServeEngines
) -> None:
    import http.client

    def start(max_tokens: int) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", serve_server.http_port, timeout=60)
        body = {
            "model": serve_engines.chat_id, "stream": True, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Tell me a very long story."}],
        }  # fmt: skip
        conn.request("POST", "/v1/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json"})  # fmt: skip
        return conn

    busy = start(400)
    response = busy.getresponse()
    response.read1(100)  # the model is generating for the first client
    queued = start(4)
    deadline = time.perf_counter() + 5
    while serve_engines.chat_slots.waiting == 0 and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert serve_engines.chat_slots.waiting == 1
    queued.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    queued.close()
    deadline = time.perf_counter() + 2
    while serve_engines.chat_slots.waiting and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert serve_engines.chat_slots.waiting == 0 and serve_engines.chat_slots.running == 1
    busy.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    busy.close()


def test_non_loopback_bind_needs_a_key_and_checks_it(serve_engines: ServeEngines) -> None:
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="without an API key"):
        ServerThread(serve_engines, ServerOptions(host="0.0.0.0", port=0)).start()
    with ServerThread(
        serve_engines, ServerOptions(host="0.0.0.0", port=0, api_key="s3cret")
    ) as srv:
        url = f"http://127.0.0.1:{srv.http_port}/v1"
        for key in ("wrong", "s3cre", "s3cret-and-more"):
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=url, api_key=key, max_retries=0).models.list()
        got, body = raw(
            srv.http_port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert got == 401 and body["error"]["code"] == "invalid_api_key"
        assert openai.OpenAI(base_url=url, api_key="s3cret").models.list().data


def test_cli_refuses_open_bind_without_key_before_loading(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "without an API key" in result.stderr and "hint:" in result.stderr


def test_bench_serve_short_load_loses_nothing(serve_engines: ServeEngines) -> None:
    """`assistant bench serve` in miniature: 4 chat + 2 transcription clients for 4 s,
    the bad-input list meanwhile; every request completes whole and each bad one gets
    its status."""
    from assistant.bench.serve_load import ServeBenchOptions, format_serve, run_serve_bench

    options = ServeBenchOptions(
        duration_s=4, chat_clients=4, asr_clients=2, max_tokens=4, warmup_s=0, repeats=1
    )
    report = run_serve_bench(
        serve_engines.config, serve_engines.store, options, engines=serve_engines
    )
    assert report.errors == {} and report.garbled == 0
    assert report.chat.count >= 1 and report.asr.count >= 1
    assert report.chat.ttft_p50 is not None and report.chat.ttft_p50 <= report.chat.total_p50
    assert len(report.bad_input) == 11
    assert [c for c in report.bad_input if c["status"] != c["expected"]] == []
    assert "first token" in format_serve(report)
