"""Training a voice end to end, offline, on real engines: recordings generated with the
Piper voice -> prepare (real VAD and whisper) -> tiny VITS fit -> SIGKILL and resume ->
fine-tune from that checkpoint (a path, and a catalog id pulled from a local hub) -> ONNX
export -> the runtime speaks with it; and the benchmark. Bad inputs to prepare:
test_train_voice_prepare.py; real human recordings: test_train_voice_real.py.

The expensive steps run once per module and are shared."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import isolate

from assistant.tts import VitsVoice, load_voice, synthesize_all
from assistant.tts.vits import phonemize
from training.voice.checkpoints import latest_voice_checkpoint
from training.voice.phonemes import prompt_list
from training.voice.prepare import PrepareOptions, prepare

pytestmark = pytest.mark.timeout(900)

N_UTTERANCES = 40
ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    """Config, data and model store shared by this module's fixtures."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("voice-home")
    isolate(mp, home)
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, speak) -> Path:
    """40 utterances spoken by the Piper voice, with an LJSpeech metadata.csv."""
    folder = tmp_path_factory.mktemp("recordings")
    rows = []
    for i, text in enumerate(prompt_list()[:N_UTTERANCES]):
        shutil.copy(speak(text), folder / f"rec{i:03d}.wav")
        rows.append(f"rec{i:03d}|{text}|{text}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def dataset(recordings, tmp_path_factory, vad, transcriber):
    out = tmp_path_factory.mktemp("dataset") / "data"
    report = prepare(PrepareOptions(recordings, out), vad, transcriber)
    return out, report


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- prepare


def test_prepare_keeps_clean_recordings_in_ljspeech_layout(dataset, recordings):
    out, report = dataset
    assert report.kept >= N_UTTERANCES - 1, report.to_text()
    rows = (out / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == report.kept
    uid, text, normalised = rows[0].split("|")
    assert text == normalised and text == prompt_list()[0]
    data, rate = sf.read(out / "wavs" / f"{uid}.wav")
    assert rate == 22050 and data.ndim == 1
    # Trimmed: the 0.3 s lead and 0.5 s tail of silence are mostly gone.
    original, orig_rate = sf.read(recordings / f"{uid}.wav")
    assert len(data) / rate < len(original) / orig_rate - 0.3
    # Loudness-normalised to about -20 dBFS RMS.
    rms_db = 20 * np.log10(np.sqrt(np.mean(data**2)))
    assert -23 < rms_db < -17
    saved = json.loads((out / "report.json").read_text())
    assert saved["kept"] == report.kept and saved["minutes"] > 0.5
    assert saved["coverage"]["ratio"] > 0.9
    assert "minutes" in (out / "report.md").read_text()


# ------------------------------------------------------------- fit, kill, resume, export


def test_fit_refuses_what_is_not_a_prepared_dataset(tmp_path, recordings):
    from assistant.errors import AssistantError
    from training.voice.fit import VoiceFitOptions, fit

    with pytest.raises(AssistantError, match=r"metadata\.csv is missing"):
        fit(VoiceFitOptions(tmp_path, tmp_path / "run", preset="tiny"))
    # The raw recordings have a metadata.csv but no wavs/ folder.
    with pytest.raises(AssistantError, match=r"no file under wavs/"):
        fit(VoiceFitOptions(recordings, tmp_path / "run", preset="tiny"))
    low = tmp_path / "low"
    (low / "wavs").mkdir(parents=True)
    sf.write(low / "wavs" / "a.wav", np.zeros(16000, np.float32), 16000)
    (low / "metadata.csv").write_text("a|Hello there.|Hello there.\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="16000 Hz but the voice is trained at 22050"):
        fit(VoiceFitOptions(low, tmp_path / "run", preset="tiny"))
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.fixture(scope="module")
def killed_run(dataset, tmp_path_factory, module_home):
    """A tiny fit from scratch in a subprocess, SIGKILLed after its 4th step's checkpoint."""
    data, _ = dataset
    run = tmp_path_factory.mktemp("run") / "scratch"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "train",
            "voice",
            "fit",
            str(data),
            "--output",
            str(run),
            "--preset",
            "tiny",
            "--steps",
            "200",
            "--checkpoint-every",
            "2",
            "--batch-size",
            "2",
            "--device",
            "cpu",
            "--yes",  # killed long before its end: no question about its length
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 400
    try:
        while not (run / "checkpoints" / "step-0000004.pt").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint at step 4 in time"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return data, run


def test_resume_after_sigkill_continues_step_count_and_optimizer(killed_run):
    import torch

    from training.voice.fit import VoiceFitOptions, fit, list_checkpoints

    data, run = killed_run
    found = list_checkpoints(run)
    assert found, "no checkpoint survived the kill"
    for _, path in found:  # every checkpoint under its real name is whole
        state = torch.load(path, map_location="cpu", weights_only=False)
        assert {"model", "optimizers", "step", "history"} <= set(state)
    last_step, last = found[-1]
    last_state = torch.load(last, map_location="cpu", weights_only=False)
    assert last_state["optimizers"][1]["state"], "generator optimizer state is empty"

    result = fit(VoiceFitOptions(data, run, preset="tiny", steps=last_step + 2, device="cpu"))

    assert result.resumed_from == last_step
    assert result.step == last_step + 2
    steps = [h["step"] for h in result.history]
    assert steps == list(range(1, last_step + 3))
    resumed = torch.load(result.checkpoint, map_location="cpu", weights_only=False)
    # Adam's step counter went on from the killed run's, it did not restart at 0.
    adam_step = next(iter(resumed["optimizers"][1]["state"].values()))["step"]
    assert float(adam_step) == last_step + 2
    assert (run / "loss.png").stat().st_size > 1000
    assert any((run / "tensorboard").iterdir())


@pytest.fixture(scope="module")
def finetuned(killed_run, tmp_path_factory, module_home):
    """A fine-tune started from the killed run's checkpoint, exported to ONNX."""
    from training.voice.export import export_voice
    from training.voice.fit import VoiceFitOptions, fit, latest_voice_checkpoint

    data, scratch = killed_run
    base = latest_voice_checkpoint(scratch)
    run = tmp_path_factory.mktemp("run") / "finetune"
    result = fit(
        VoiceFitOptions(data, run, preset="tiny", steps=2, base=base, batch_size=2, device="cpu")
    )
    exported = export_voice(result.checkpoint, run / "voice", "finetuned-test")
    return base, result, exported


@pytest.fixture
def hub_with_base(killed_run, tmp_path, monkeypatch):
    """A local HTTP hub serving the killed run's checkpoint as the catalog's ``test-base``
    (kind voice-base), the way a published base checkpoint is pulled."""
    _, scratch = killed_run
    served = tmp_path / "hub"
    served.mkdir()
    checkpoint = shutil.copy(latest_voice_checkpoint(scratch), served / "base.pt")
    data = Path(checkpoint).read_bytes()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    url = f"http://127.0.0.1:{httpd.server_address[1]}/base.pt"
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        (ROOT / "models" / "catalog.toml").read_text()
        + f"""
[[model]]
id = "test-base"
kind = "voice-base"
name = "Test VITS base"
licence = "CC0-1.0"
homepage = "https://example.org"
language = "en"
size = {len(data)}
files = [
    {{ path = "base.pt", size = {len(data)}, sha256 = "{_sha(data)}", url = "{url}" }},
]
"""
    )
    monkeypatch.setenv("ASSISTANT_CATALOG", str(catalog))
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield data
    httpd.shutdown()
    httpd.server_close()


def test_fit_from_a_catalog_base_after_an_explicit_pull(killed_run, hub_with_base, tmp_path):
    data, _ = killed_run
    run = tmp_path / "from-catalog"
    fit = (
        "train", "voice", "fit", str(data), "--output", str(run), "--preset", "tiny",
        "--steps", "1", "--batch-size", "2", "--device", "cpu", "--base", "test-base",
    )  # fmt: skip
    # Not pulled yet: training does not download, it says how to.
    refused = _cli(*fit)
    assert refused.returncode != 0
    assert "assistant models pull test-base" in refused.stderr
    assert not run.exists()

    pulled = _cli("models", "pull", "test-base")
    assert pulled.returncode == 0, pulled.stderr
    listed = _cli("models", "list", "--kind", "voice-base")
    assert "test-base" in listed.stdout

    done = _cli(*fit)
    assert done.returncode == 0, done.stderr[-3000:]
    base = Path(json.loads((run / "run.json").read_text())["options"]["base"])
    assert base.name == "base.pt" and base.read_bytes() == hub_with_base
    assert base.is_relative_to(Path(os.environ["ASSISTANT_MODELS_DIR"]))


def test_a_speech_recogniser_is_not_a_base(tmp_path):
    # Installed voices are bases (tests/test_train_voice_piper.py); other models are not.
    result = _cli(
        "train", "voice", "fit", str(tmp_path / "data"), "--output", str(tmp_path / "r"),
        "--preset", "tiny",
        "--base", "whisper-tiny.en",
    )  # fmt: skip
    assert result.returncode != 0
    assert "not a voice-base" in result.stderr


def test_finetune_starts_from_the_base_weights(finetuned):
    import torch

    base, result, _ = finetuned
    assert result.resumed_from == 0 and result.step == 2
    base_w = torch.load(base, map_location="cpu", weights_only=False)["model"]
    first = json.loads((result.run_dir / "run.json").read_text())["options"]["base"]
    assert first == str(base)
    tuned = torch.load(result.checkpoint, map_location="cpu", weights_only=False)["model"]
    # Same architecture, and weights moved only a little from the base (2 steps).
    key = "text_encoder.emb.weight"
    assert tuned[key].shape == base_w[key].shape
    assert torch.allclose(tuned[key], base_w[key], atol=0.05)


def test_exported_voice_speaks_in_the_runtime(finetuned):
    from assistant.config import TtsConfig

    _, _, exported = finetuned
    config = json.loads(exported.config.read_text())
    assert config["format"] == "assistant-vits" and config["tokenizer"]["add_blank"]
    voice = load_voice(exported.onnx, TtsConfig(device="cpu"))
    assert isinstance(voice, VitsVoice) and voice.sample_rate == 22050
    short = synthesize_all(voice, "Hello.")
    long = synthesize_all(
        voice,
        "The weather forecast promised sunshine, but it rained "
        "all afternoon, and the streets were wet.",
    )
    for audio in (short, long):
        assert np.isfinite(audio.samples).all()
        assert 0.1 < audio.duration < 30
        assert float(np.sqrt(np.mean(audio.samples**2))) > 1e-5, "silent output"
    assert long.duration > 2 * short.duration


def test_onnx_voice_matches_the_pytorch_model(finetuned):
    """Same token ids and, with the noise switched off, the same audio as Coqui's model."""
    from training.voice.evaluate import torch_synthesize
    from training.voice.model import load_model

    _, result, exported = finetuned
    model, _ = load_model(result.checkpoint)
    voice = VitsVoice(exported.onnx, device="cpu")
    for text in ("Hello there, how are you?", "It costs 42 dollars & 5 cents!", "Ça va?"):
        phonemes = phonemize(text, "en-us")
        assert voice.tokenizer.encode(phonemes) == model.tokenizer.text_to_ids(phonemes)
    model.inference_noise_scale = model.inference_noise_scale_dp = 0.0
    voice._noise_scale = voice._noise_scale_w = 0.0
    text = "Please remind me to call the doctor."
    expected = torch_synthesize(model, text, "en-us")
    got = voice.synthesize_ids(voice.token_ids(text))
    assert len(got) == len(expected)
    assert np.max(np.abs(got - np.clip(expected, -1, 1))) < 1e-3


def test_run_command_then_say_with_the_new_voice(recordings, tmp_path, speak):
    run = tmp_path / "run"
    result = _cli(
        "train",
        "voice",
        "run",
        str(recordings),
        "--preset",
        "tiny",
        "--name",
        "my-voice",
        "--output",
        str(run),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--no-asr-check",
        "--eval-sentences",
        "1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "voice" / "my-voice.onnx").is_file()
    assert json.loads((run / "eval" / "eval.json").read_text())["scores"]
    out = tmp_path / "out.wav"
    said = _cli(
        "say", "--voice", "my-voice", "Good morning, this is my own voice.", "--output", str(out)
    )
    assert said.returncode == 0, said.stderr
    data, rate = sf.read(out)
    assert rate == 22050 and 0.3 < len(data) / rate < 30
    # The assistant's spoken turn answers in the new voice too.
    reply = tmp_path / "reply.wav"
    question = speak("What is the capital of France?")
    talked = _cli("talk", "--input", str(question), "--voice", "my-voice", "--output", str(reply))
    assert talked.returncode == 0, talked.stderr
    assert sf.info(reply).samplerate == 22050 and sf.info(reply).duration > 0.3
    listed = _cli("models", "list")
    assert "my-voice" in listed.stdout and "trained" in listed.stdout


def test_runtime_speaks_a_trained_voice_without_torch(finetuned, tmp_path):
    _, _, exported = finetuned
    script = (
        "import importlib.abc, sys\n"
        "class G(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'TTS', 'transformers', 'PySide6'):\n"
        "            raise ImportError(name + ' is forbidden in the runtime')\n"
        "sys.meta_path.insert(0, G())\n"
        "from assistant.config import TtsConfig\n"
        "from assistant.tts import load_voice, synthesize_all\n"
        f"v = load_voice({str(exported.onnx)!r}, TtsConfig(device='cpu'))\n"
        "print(synthesize_all(v, 'Hello world.').duration)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) > 0.1


# ------------------------------------------------------------------------- benchmark


def test_bench_reports_training_speed_and_onnx_rtf(module_home):
    result = _cli(
        "train", "voice", "bench", "--steps", "2", "--utterances", "6", "--device", "cpu", "--json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["train_steps_per_s"] > 0
    assert figures["pytorch_rtf"] > 0 and figures["onnx_rtf"] > 0
    assert figures["onnx_speedup"] == pytest.approx(
        figures["pytorch_rtf"] / figures["onnx_rtf"], rel=0.05
    )
