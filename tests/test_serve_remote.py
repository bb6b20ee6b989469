"""Remote engines: the app's own ``backend = "openai"`` language model and speech
recogniser against ``assistant serve`` and against llama-cpp-python's own OpenAI server,
which nobody here wrote; the config, errors and ``doctor`` for them."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from serve_setup import GREEDY, QUESTION, serve_config

from assistant.config import Config
from assistant.llm import GenerationOptions, complete
from assistant.llm.remote import OpenAiChatModel
from assistant.serve import ServeEngines, ServerThread
from assistant.store import ModelStore


def test_remote_backend_against_this_server(
    serve_server: ServerThread, serve_engines: ServeEngines
) -> None:
    remote = OpenAiChatModel(serve_server.url, serve_engines.chat_id, context_size=512)
    assert complete(remote, QUESTION, GREEDY) == complete(serve_engines.chat, QUESTION, GREEDY)


def test_remote_backend_errors_are_clear(serve_server: ServerThread) -> None:
    from assistant.errors import EngineError

    with pytest.raises(EngineError, match=r"answered 404.*does not exist"):
        complete(OpenAiChatModel(serve_server.url, "nope"), QUESTION, GREEDY)
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


def test_doctor_shows_the_remote_language_model(tmp_path: Path) -> None:
    from assistant.doctor import run_checks

    config = serve_config(tmp_path / "models")
    config.llm.backend = "openai"
    config.llm.base_url = "http://gpu-box:8080/v1"
    config.llm.model = "big-model"
    checks = run_checks(config, ModelStore.from_config(config.models))
    llm = [c for c in checks if c.area == "llm model"]
    assert len(llm) == 1 and llm[0].status == "ok"
    assert "remote: big-model at http://gpu-box:8080/v1" in llm[0].detail


def test_remote_speech_recognition_against_this_server(
    serve_server: ServerThread, serve_engines: ServeEngines, question_wav: bytes
) -> None:
    from assistant.asr.remote import OpenAiTranscriber
    from assistant.audio import Audio

    samples, rate = sf.read(io.BytesIO(question_wav), dtype="float32")
    audio = Audio(samples, rate)
    remote = OpenAiTranscriber(serve_server.url, "whisper-1").transcribe(audio, prompt="A fox.")
    local = serve_engines.transcriber.transcribe(audio, prompt="A fox.")  # type: ignore[call-arg]
    assert remote.text == local.text and "fox" in remote.text.lower()
    assert remote.language == "en" and len(remote.segments) == len(local.segments)
