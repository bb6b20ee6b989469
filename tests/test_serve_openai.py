"""``assistant serve``'s OpenAI API with real clients: the official ``openai`` library
and curl against the server on the real embedded engines (conftest.py's ``serve_server``).
Every reply is a few tokens and every clip a second or two."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile as sf
from serve_setup import GREEDY, QUESTION

from assistant.llm import complete
from assistant.serve import ServeEngines, ServerThread


@pytest.fixture(scope="module")
def client(serve_server: ServerThread):
    return openai.OpenAI(base_url=serve_server.url, api_key="unused", max_retries=0, timeout=120)


def test_models_are_listed(client, serve_engines: ServeEngines) -> None:
    ids = [m.id for m in client.models.list()]
    assert serve_engines.chat_id in ids and serve_engines.asr_id in ids and "tts-1" in ids


def test_embeddings_match_the_document_index_embedder(client, serve_engines: ServeEngines) -> None:
    import numpy as np

    from assistant.knowledge import default_embedder

    texts = ["How do I descale the kettle?", "The boiler needs a yearly service."]
    answer = client.embeddings.create(model="all-minilm-l6-v2", input=texts)
    got = np.array([item.embedding for item in answer.data], dtype=np.float32)
    want = default_embedder(serve_engines.store).embed(texts)  # type: ignore[arg-type]
    assert got.shape == (2, 384) and answer.model == "all-minilm-l6-v2"
    assert np.allclose(got, want, atol=1e-6)
    assert answer.usage.prompt_tokens > len(" ".join(texts).split())
    assert "all-minilm-l6-v2" in [m.id for m in client.models.list().data]


def test_chat_whole_and_streamed_match_in_process(client, serve_engines: ServeEngines) -> None:
    expected = complete(serve_engines.chat, QUESTION, GREEDY)
    whole = client.chat.completions.create(
        model=serve_engines.chat_id,
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
        model=serve_engines.chat_id,
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


def test_stop_string_ends_the_reply(client, serve_engines: ServeEngines) -> None:
    reply = client.chat.completions.create(
        model=serve_engines.chat_id,
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


def test_speech_formats_voice_and_speed(client, serve_engines: ServeEngines) -> None:
    text = "Hello there. This is the assistant speaking."
    voice = serve_engines.config.tts.voice
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
    fast_samples, fast_rate = decode_flac(fast)
    assert fast_rate == rate and 0.35 * normal < len(fast_samples) / rate < 0.7 * normal
    pcm = client.audio.speech.create(
        model="tts-1",
        voice=voice,
        input="Hello.",
        response_format="pcm",  # type: ignore[arg-type]
    ).read()
    assert len(pcm) % 2 == 0 and 0.3 < len(pcm) / 2 / 24000 < 3.0


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """FLAC bytes as int16 samples, decoded by FFmpeg (PyAV): a streamed FLAC's header
    leaves the length unknown, which libsndfile's reader does not take."""
    import av

    assert data[:4] == b"fLaC" and data.count(b"fLaC") == 1
    with av.open(io.BytesIO(data), format="flac") as container:
        stream = container.streams.audio[0]
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(frames).astype(np.int16), int(stream.rate)


def test_flac_stream_is_one_valid_stream_of_the_samples_given() -> None:
    from assistant.serve.formats import FlacStream, pcm16

    rng = np.random.default_rng(1)
    t = np.arange(22050 * 3) / 22050
    sound = (0.4 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 0.02, len(t))).astype(np.float32)
    encoder = FlacStream(22050)
    pieces = [encoder.add(sound[i : i + 7000]) for i in range(0, len(sound), 7000)]
    pieces.append(encoder.end())
    data = b"".join(pieces)
    samples, rate = decode_flac(data)
    assert rate == 22050
    np.testing.assert_array_equal(samples, np.frombuffer(pcm16(sound), "<i2"))
    # Frames leave as they are encoded: most of the stream before the end.
    assert sum(map(len, pieces[:-1])) > 0.8 * len(data)


def _speak_streamed(port: int, text: str, voice: str, fmt: str) -> tuple[bytes, float, float]:
    """(the body, when its first bytes came, when it ended), in seconds."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    body = {"model": "tts-1", "input": text, "voice": voice, "response_format": fmt}
    conn.request("POST", "/v1/audio/speech", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    first = response.read1(65536)
    first_at = time.perf_counter() - start
    rest = response.read()
    return first + rest, first_at, time.perf_counter() - start


def test_speech_arrives_before_synthesis_ends_as_wav_and_flac(
    serve_server: ServerThread, serve_engines: ServeEngines
) -> None:
    """The first sentence's audio is sent while the rest is still being made."""
    sentences = " ".join(f"This is sentence number {n} of a long reply." for n in range(5))
    voice, port = serve_engines.config.tts.voice, serve_server.http_port
    assert port is not None
    wav, first_at, total = _speak_streamed(port, sentences, voice, "wav")
    assert wav[:4] == b"RIFF" and first_at < total / 2, (first_at, total)
    flac, first_at, total = _speak_streamed(port, sentences, voice, "flac")
    assert first_at < total / 2, (first_at, total)
    from_wav, wav_rate = sf.read(io.BytesIO(wav), dtype="int16")
    from_flac, flac_rate = decode_flac(flac)
    assert wav_rate == flac_rate == 22050
    # The voice varies its timing from one synthesis to the next, a little.
    assert 0.85 < len(from_flac) / len(from_wav) < 1.15, (len(from_flac), len(from_wav))
    assert np.abs(from_flac).max() > 3000


def test_curl_chat_and_upload(
    serve_server: ServerThread, serve_engines: ServeEngines, question_wav: bytes, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is missing: install it (scripts/setup.sh)"
    body = json.dumps(
        {
            "model": serve_engines.chat_id,
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
            f"{serve_server.url}/chat/completions",
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
            f"{serve_server.url}/audio/transcriptions",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "fox" in text.lower()


def test_small_answers_are_not_held_back(serve_server: ServerThread) -> None:
    """Nagle's algorithm is off: an answer written as headers then body used to wait for
    the client's delayed ACK, 40 ms a request on a kept-alive connection."""
    import http.client
    import statistics

    conn = http.client.HTTPConnection("127.0.0.1", serve_server.http_port, timeout=10)
    times = []
    for _ in range(12):
        start = time.perf_counter()
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        times.append(time.perf_counter() - start)
    conn.close()
    assert statistics.median(times[2:]) < 0.02, times
