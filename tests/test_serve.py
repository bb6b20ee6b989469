"""``assistant serve`` with real clients: the official ``openai`` library, curl, raw
sockets for the bad inputs, and the app's own remote backend (``[llm] backend =
"openai"``) against this server. The engines are the real embedded models; every reply
is a few tokens and every clip a second or two, so the module stays short."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile as sf

from assistant.config import Config
from assistant.llm import GenerationOptions, Message, complete
from assistant.llm.remote import OpenAiChatModel
from assistant.serve import ServeEngines, ServerOptions, ServerThread
from assistant.store import ModelStore

QUESTION = [
    Message("system", "You are a helpful assistant. Answer in one short sentence."),
    Message("user", "What is the capital of France?"),
]
GREEDY = GenerationOptions(max_tokens=12, temperature=0.0, seed=1)


def _config(models_dir: Path) -> Config:
    config = Config()
    config.models.dir = str(models_dir)
    config.llm.context_size = 512
    config.llm.max_tokens = 16
    config.asr.device = config.llm.device = config.tts.device = "cpu"
    config.serve.max_body_mb = 1
    config.serve.body_timeout_s = 1.5
    return config


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> ServeEngines:
    config = _config(tmp_path_factory.mktemp("models"))
    return ServeEngines.load(config, ModelStore.from_config(config.models))


@pytest.fixture(scope="module")
def server(engines: ServeEngines):
    with ServerThread(engines, ServerOptions(port=0, wyoming_port=0)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServerThread):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory, piper_onnx: Path) -> bytes:
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(piper_onnx)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    parts = [c.audio_float_array for c in voice.synthesize("The quick brown fox.", steady)]
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate(parts), voice.config.sample_rate, format="WAV")
    return buffer.getvalue()


# ------------------------------------------------------------------ the openai library


def test_models_are_listed(client, engines: ServeEngines) -> None:
    ids = [m.id for m in client.models.list()]
    assert engines.chat_id in ids and engines.asr_id in ids and "tts-1" in ids


def test_embeddings_match_the_document_index_embedder(client, engines: ServeEngines) -> None:
    import numpy as np

    from assistant.knowledge import default_embedder

    texts = ["How do I descale the kettle?", "The boiler needs a yearly service."]
    answer = client.embeddings.create(model="all-minilm-l6-v2", input=texts)
    got = np.array([item.embedding for item in answer.data], dtype=np.float32)
    want = default_embedder(engines.store).embed(texts)  # type: ignore[arg-type]
    assert got.shape == (2, 384) and answer.model == "all-minilm-l6-v2"
    assert np.allclose(got, want, atol=1e-6)
    assert answer.usage.prompt_tokens > len(" ".join(texts).split())
    assert "all-minilm-l6-v2" in [m.id for m in client.models.list().data]


def test_chat_whole_and_streamed_match_in_process(client, engines: ServeEngines) -> None:
    expected = complete(engines.chat, QUESTION, GREEDY)
    whole = client.chat.completions.create(
        model=engines.chat_id,
        messages=[m.to_dict() for m in QUESTION],  # type: ignore[misc]
        max_tokens=12,
        temperature=0,
        seed=1,
    )
    assert whole.choices[0].message.content == expected
    assert "paris" in expected.lower()
    assert whole.usage is not None and whole.usage.prompt_tokens > 5
    assert whole.choices[0].finish_reason in ("stop", "length")
    stream = client.chat.completions.create(
        model=engines.chat_id,
        messages=[m.to_dict() for m in QUESTION],  # type: ignore[misc]
        max_tokens=12,
        temperature=0,
        seed=1,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 2


def test_stop_string_ends_the_reply(client, engines: ServeEngines) -> None:
    reply = client.chat.completions.create(
        model=engines.chat_id,
        messages=[{"role": "user", "content": "Count: 1, 2, 3, 4, 5"}],
        max_tokens=12,
        temperature=0,
        stop=["3"],
    )
    assert "3" not in (reply.choices[0].message.content or "")


def test_transcription_in_every_format(client, question_wav: bytes) -> None:
    def ask(fmt: str):  # type: ignore[no-untyped-def]
        return client.audio.transcriptions.create(
            model="whisper-1",
            file=("q.wav", question_wav, "audio/wav"),
            response_format=fmt,
            language="en",
            prompt="A fox.",
        )

    assert "quick brown fox" in ask("json").text.lower()
    verbose = ask("verbose_json")
    assert verbose.language == "en" and verbose.segments and verbose.duration > 0.5
    assert verbose.segments[0].end > verbose.segments[0].start
    assert "quick brown fox" in str(ask("text")).lower()
    srt = str(ask("srt"))
    assert srt.startswith("1\n00:00:00,000 --> ") and "fox" in srt.lower()
    assert str(ask("vtt")).startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_speech_formats_voice_and_speed(client, engines: ServeEngines) -> None:
    text = "Hello there. This is the assistant speaking."
    voice = engines.config.tts.voice
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice=voice,
        input=text,
        response_format="wav",  # type: ignore[arg-type]
    ) as response:
        wav = response.read()
    samples, rate = sf.read(io.BytesIO(wav))
    normal = len(samples) / rate
    assert rate == 22050 and 1.0 < normal < 8.0 and np.abs(samples).max() > 0.05
    fast = client.audio.speech.create(
        model="tts-1",
        voice=voice,
        input=text,
        response_format="flac",
        speed=2.0,  # type: ignore[arg-type]
    ).read()
    fast_samples, _ = sf.read(io.BytesIO(fast))
    assert 0.35 * normal < len(fast_samples) / rate < 0.7 * normal
    pcm = client.audio.speech.create(
        model="tts-1",
        voice=voice,
        input="Hello.",
        response_format="pcm",  # type: ignore[arg-type]
    ).read()
    assert len(pcm) % 2 == 0 and 0.3 < len(pcm) / 2 / 24000 < 3.0


def test_speech_arrives_before_synthesis_ends(server: ServerThread, engines: ServeEngines) -> None:
    """The first sentence's audio is sent while the rest is still being made."""
    import http.client

    sentences = " ".join(f"This is sentence number {n} of a long reply." for n in range(5))
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    start = time.perf_counter()
    conn.request(
        "POST",
        "/v1/audio/speech",
        json.dumps({"model": "tts-1", "input": sentences, "voice": engines.config.tts.voice}),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    first = response.read1(65536)
    first_at = time.perf_counter() - start
    rest = response.read()
    total = time.perf_counter() - start
    assert response.status == 200 and first[:4] == b"RIFF" and len(rest) > 0
    assert first_at < total / 2, (first_at, total)


# ------------------------------------------------------------------ curl


def test_curl_chat_and_upload(
    server: ServerThread, engines: ServeEngines, question_wav: bytes, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is missing: install it (scripts/setup.sh)"
    body = json.dumps(
        {
            "model": engines.chat_id,
            "max_tokens": 4,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Hi"}],
        }
    )
    out = subprocess.run(
        [
            curl,
            "-sS",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            f"{server.url}/chat/completions",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out)["choices"][0]["message"]["role"] == "assistant"
    wav = tmp_path / "q.wav"
    wav.write_bytes(question_wav)
    text = subprocess.run(
        [
            curl,
            "-sS",
            "-F",
            f"file=@{wav}",
            "-F",
            "model=whisper-1",
            "-F",
            "response_format=text",
            f"{server.url}/audio/transcriptions",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "fox" in text.lower()


# ------------------------------------------------------------------ bad input


def _raw(port: int, request: bytes, wait: float = 10.0) -> tuple[int, dict]:
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


def _post(path: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def test_bad_requests_get_openai_errors(
    server: ServerThread, engines: ServeEngines, client
) -> None:
    port = server.http_port
    chat = "/v1/chat/completions"
    cases = [
        (_post(chat, b"{not json"), 400, "invalid_json"),
        (
            _post(chat, json.dumps({"model": engines.chat_id, "messages": "hi"}).encode()),
            400,
            "invalid_type",
        ),
        (
            _post(
                chat,
                json.dumps(
                    {
                        "model": engines.chat_id,
                        "messages": [{"role": "user", "content": "x"}],
                        "max_tokens": "9",
                    }
                ).encode(),
            ),
            400,
            "invalid_type",
        ),
        (
            _post(
                chat,
                json.dumps(
                    {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}
                ).encode(),
            ),
            404,
            "model_not_found",
        ),
        (
            _post(
                "/v1/audio/speech",
                json.dumps({"model": "tts-1", "input": "hi", "voice": "alloy"}).encode(),
            ),
            400,
            "voice_not_found",
        ),
        (
            _post(
                "/v1/audio/speech",
                json.dumps({"model": "tts-1", "input": "hi", "voice": "../../etc/passwd"}).encode(),
            ),
            400,
            "voice_not_found",
        ),
        (
            _post("/v1/embeddings", json.dumps({"model": "x", "input": "hi"}).encode()),
            404,
            "model_not_found",
        ),
        (
            _post(
                "/v1/embeddings",
                json.dumps({"model": "all-minilm-l6-v2", "input": ["a"] * 300}).encode(),
            ),
            400,
            "too_many_inputs",
        ),
        (_post("/v1/nothing", b"{}"), 404, "not_found"),
        (
            _post(
                chat,
                json.dumps(
                    {
                        "model": engines.chat_id,
                        "messages": [{"role": "user", "content": "word " * 700}],
                    }
                ).encode(),
            ),
            400,
            "context_length_exceeded",
        ),
    ]
    for request, status, code in cases:
        got, body = _raw(port, request)
        assert (got, body["error"]["code"]) == (status, code), body
        assert body["error"]["message"] and body["error"]["type"]
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.audio.transcriptions.create(model="whisper-1", file=("e.wav", b"", "audio/wav"))
    with pytest.raises(openai.BadRequestError, match="not audio"):
        client.audio.transcriptions.create(
            model="whisper-1", file=("x.wav", b"RIFF nonsense" * 50, "audio/wav")
        )
    big = b"\0" * (1024 * 1024 + 10)
    got, body = _raw(port, _post("/v1/audio/transcriptions", big, "multipart/form-data; b=x"))
    assert got == 413 and body["error"]["code"] == "request_too_large"
    # A body that never finishes: the headers promise 100 bytes, 10 come.
    start = time.perf_counter()
    got, body = _raw(
        port, _post(chat, b"{}")[:-2].replace(b"Length: 2", b"Length: 100") + b'{"model":', wait=10
    )
    assert got == 408 and 1.0 < time.perf_counter() - start < 6
    assert client.models.list().data  # and the server still serves


def test_client_that_disconnects_stops_generation(
    server: ServerThread, engines: ServeEngines
) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(
            {
                "model": engines.chat_id,
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
    while engines.chat_slots.running and time.perf_counter() - start < 10:
        time.sleep(0.02)
    assert engines.chat_slots.running == 0
    # 400 tokens take this model several seconds here; a stopped generation frees the
    # slot at its next token.
    assert time.perf_counter() - start < 2.0


def test_a_queued_client_that_disconnects_leaves_the_queue(
    server: ServerThread, engines: ServeEngines
) -> None:
    import http.client

    def start(max_tokens: int) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
        body = {
            "model": engines.chat_id, "stream": True, "max_tokens": max_tokens,
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
    while engines.chat_slots.waiting == 0 and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert engines.chat_slots.waiting == 1
    queued.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    queued.close()
    deadline = time.perf_counter() + 2
    while engines.chat_slots.waiting and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert engines.chat_slots.waiting == 0 and engines.chat_slots.running == 1
    busy.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    busy.close()


def test_non_loopback_bind_needs_a_key_and_checks_it(engines: ServeEngines) -> None:
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="without an API key"):
        ServerThread(engines, ServerOptions(host="0.0.0.0", port=0)).start()
    with ServerThread(engines, ServerOptions(host="0.0.0.0", port=0, api_key="s3cret")) as srv:
        url = f"http://127.0.0.1:{srv.http_port}/v1"
        for key in ("wrong", "s3cre", "s3cret-and-more"):
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=url, api_key=key, max_retries=0).models.list()
        got, body = _raw(
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


# ------------------------------------------------------------------ the remote backend


def test_remote_backend_against_this_server(server: ServerThread, engines: ServeEngines) -> None:
    remote = OpenAiChatModel(server.url, engines.chat_id, context_size=512)
    assert complete(remote, QUESTION, GREEDY) == complete(engines.chat, QUESTION, GREEDY)


def test_remote_backend_errors_are_clear(server: ServerThread) -> None:
    from assistant.errors import EngineError

    with pytest.raises(EngineError, match=r"answered 404.*does not exist"):
        complete(OpenAiChatModel(server.url, "nope"), QUESTION, GREEDY)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(EngineError, match="cannot reach"):
        complete(OpenAiChatModel(f"http://127.0.0.1:{free}/v1", "m"), QUESTION, GREEDY)


def test_remote_backend_against_llama_cpp_server(gguf_path: Path, tmp_path: Path) -> None:
    """llama-cpp-python's own OpenAI server: an implementation nobody here wrote."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "llama_cpp_server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512",
             "--model_alias", "smol"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        remote = OpenAiChatModel(
            f"http://127.0.0.1:{port}/v1", "smol", context_size=512, timeout_s=30
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.2)
        reply = complete(remote, QUESTION, GREEDY)
        assert "paris" in reply.lower()
        deltas = list(remote.stream(QUESTION, GenerationOptions(max_tokens=3, temperature=0)))
        assert 1 <= len(deltas) <= 3
    finally:
        proc.terminate()
        proc.wait(10)


def test_load_chat_model_picks_the_remote_backend(tmp_path: Path) -> None:
    from assistant.engines import load_chat_model

    config = Config()
    config.llm.backend = "openai"
    config.llm.base_url = "http://gpu-box:8080/v1"
    config.llm.model = "big-model"
    config.validate()
    model = load_chat_model(config, ModelStore.from_config(config.models))
    assert isinstance(model, OpenAiChatModel) and model.model == "big-model"
    config.llm.base_url = "gpu-box"
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="base_url"):
        config.validate()


# ------------------------------------------------------------------ Wyoming


def _wyoming(server: ServerThread, events, until):  # type: ignore[no-untyped-def]
    """Send ``events`` with the wyoming client library; collect replies up to ``until``."""
    import asyncio

    from wyoming.client import AsyncTcpClient

    async def run():  # type: ignore[no-untyped-def]
        got = []
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port, read_timeout=60) as conn:
            for event in events:
                await conn.write_event(event.event())
            while True:
                event = await conn.read_event()
                assert event is not None, "the server closed the connection"
                got.append(event)
                if event.type == until:
                    return got

    return asyncio.run(run())


def test_wyoming_describe_lists_every_service(server: ServerThread, engines: ServeEngines) -> None:
    from wyoming.info import Describe, Info

    info = Info.from_event(_wyoming(server, [Describe()], "info")[-1])
    assert info.asr[0].models[0].name == engines.asr_id
    assert engines.config.tts.voice in [v.name for v in info.tts[0].voices]
    assert info.handle[0].models[0].name == engines.chat_id
    assert info.wake == []  # no wake word model yet: the seam is in assistant/serve/wake.py


def test_wyoming_speech_to_text(server: ServerThread, question_wav: bytes) -> None:
    from wyoming.asr import Transcribe, Transcript
    from wyoming.audio import AudioChunk, AudioStart, AudioStop

    samples, rate = sf.read(io.BytesIO(question_wav), dtype="int16")
    pcm = samples.tobytes()
    chunks = [
        AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + 4096])
        for i in range(0, len(pcm), 4096)
    ]
    events = [
        Transcribe(language="en"),
        AudioStart(rate=rate, width=2, channels=1),
        *chunks,
        AudioStop(),
    ]
    transcript = Transcript.from_event(_wyoming(server, events, "transcript")[-1])
    assert "quick brown fox" in transcript.text.lower()


def test_wyoming_text_to_speech(server: ServerThread, engines: ServeEngines) -> None:
    from wyoming.audio import AudioChunk, AudioStart
    from wyoming.tts import Synthesize, SynthesizeVoice

    voice = SynthesizeVoice(name=engines.config.tts.voice)
    got = _wyoming(
        server, [Synthesize(text="Hello from the assistant.", voice=voice)], "audio-stop"
    )
    start = AudioStart.from_event(got[0])
    audio = b"".join(AudioChunk.from_event(e).audio for e in got if e.type == "audio-chunk")
    assert start.rate == 22050 and start.width == 2
    assert 0.8 < len(audio) / 2 / start.rate < 5
    got = _wyoming(server, [Synthesize(text="Hi.", voice=SynthesizeVoice(name="nope"))], "error")
    assert "not installed" in got[-1].data["text"]


def test_wyoming_handle_answers_with_the_language_model(server: ServerThread) -> None:
    from wyoming.asr import Transcript
    from wyoming.handle import Handled

    got = _wyoming(server, [Transcript(text="What is the capital of France?")], "handled")
    assert Handled.from_event(got[-1]).text


def test_wyoming_detect_without_wake_model_says_so(server: ServerThread) -> None:
    from wyoming.wake import Detect

    got = _wyoming(server, [Detect()], "error")
    assert got[-1].data["code"] == "wake-unavailable"


# ------------------------------------------------------------------ the load, shortened


@pytest.mark.slow
def test_bench_serve_short_load_loses_nothing(engines: ServeEngines) -> None:
    """`assistant bench serve` in miniature: 4 chat + 2 transcription clients for 4 s,
    the bad-input list meanwhile; every request completes whole and each bad one gets
    its status."""
    from assistant.bench.serve_load import ServeBenchOptions, format_serve, run_serve_bench

    options = ServeBenchOptions(
        duration_s=4, chat_clients=4, asr_clients=2, max_tokens=4, warmup_s=0, repeats=1
    )
    report = run_serve_bench(engines.config, engines.store, options, engines=engines)
    assert report.errors == {} and report.garbled == 0
    assert report.chat.count >= 1 and report.asr.count >= 1
    assert report.chat.ttft_p50 is not None and report.chat.ttft_p50 <= report.chat.total_p50
    assert len(report.bad_input) == 11
    assert [c for c in report.bad_input if c["status"] != c["expected"]] == []
    assert "first token" in format_serve(report)


def test_doctor_shows_the_remote_language_model(tmp_path: Path) -> None:
    from assistant.doctor import run_checks

    config = _config(tmp_path / "models")
    config.llm.backend = "openai"
    config.llm.base_url = "http://gpu-box:8080/v1"
    config.llm.model = "big-model"
    checks = run_checks(config, ModelStore.from_config(config.models))
    llm = [c for c in checks if c.area == "llm model"]
    assert len(llm) == 1 and llm[0].status == "ok"
    assert "remote: big-model at http://gpu-box:8080/v1" in llm[0].detail


def test_remote_speech_recognition_against_this_server(
    server: ServerThread, engines: ServeEngines, question_wav: bytes
) -> None:
    from assistant.asr.remote import OpenAiTranscriber
    from assistant.audio import Audio

    samples, rate = sf.read(io.BytesIO(question_wav), dtype="float32")
    audio = Audio(samples, rate)
    remote = OpenAiTranscriber(server.url, "whisper-1").transcribe(audio, prompt="A fox.")
    local = engines.transcriber.transcribe(audio, prompt="A fox.")  # type: ignore[call-arg]
    assert remote.text == local.text and "fox" in remote.text.lower()
    assert remote.language == "en" and len(remote.segments) == len(local.segments)
