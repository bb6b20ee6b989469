"""One whole spoken turn through the ``assistant`` command, on the real models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from model_files import tiny_voice

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.text import word_error_rate

QUESTION = "What is the capital of France?"
# Its greedy answer is a full sentence with no words that the tiny recogniser confuses
# with the joe voice ("France is" comes back as "Francis").
LONG_ANSWER_QUESTION = "What is the tallest mountain in the world?"


def run_assistant(
    *args: str, config: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "assistant"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def greedy_config(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 60\n")
    return path


def test_spoken_question_gets_a_spoken_answer_that_matches_the_printed_one(
    tmp_path, speak, greedy_config, whisper_dir
):
    reply_wav = tmp_path / "reply.wav"
    result = run_assistant(
        "talk",
        "--input",
        str(speak(LONG_ANSWER_QUESTION)),
        "--output",
        str(reply_wav),
        "--json",
        config=greedy_config,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert word_error_rate(LONG_ANSWER_QUESTION, out["heard"]) <= 0.2
    assert out["reply"].strip()
    reply = read_audio(reply_wav, rate=None)
    assert reply.duration > 0.5 and np.abs(reply.samples).max() > 0.05
    assert abs(reply.duration - out["reply_seconds"]) < 0.05
    heard_back = WhisperTranscriber(whisper_dir, device="cpu").transcribe(reply).text
    assert word_error_rate(out["reply"], heard_back) <= 0.3, (out["reply"], heard_back)
    assert {"vad", "asr", "first_token", "first_audio"} <= set(out["timings"])


def test_talk_prints_what_it_heard_and_answered(tmp_path, speak, greedy_config):
    result = run_assistant(
        "talk", "-i", str(speak(QUESTION)), "-o", str(tmp_path / "r.wav"), config=greedy_config
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].lower().startswith("you: what is the capital of france")
    assert lines[1].startswith("assistant: ") and len(lines[1]) > len("assistant: ") + 3


def test_8khz_stereo_input_is_converted_and_understood(tmp_path, speak, greedy_config):
    audio = read_audio(speak(QUESTION), rate=8000)
    stereo = tmp_path / "q8k.wav"
    sf.write(stereo, np.stack([audio.samples, audio.samples * 0.8], axis=1), 8000)
    result = run_assistant(
        "talk", "-i", str(stereo), "-o", str(tmp_path / "r.wav"), "--json", config=greedy_config
    )
    assert result.returncode == 0, result.stderr
    assert word_error_rate(QUESTION, json.loads(result.stdout)["heard"]) <= 0.2


def _assert_one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and pattern in first, result.stderr


def test_empty_and_silent_files_say_no_speech_detected(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, np.float32), 16000)
    for path in (empty, silent):
        result = run_assistant("talk", "-i", str(path), "-o", str(tmp_path / "r.wav"))
        _assert_one_line_error(result, f"no speech detected in {path}")
        assert not (tmp_path / "r.wav").exists()
    _assert_one_line_error(run_assistant("transcribe", str(silent)), "no speech detected")


def test_non_audio_file_is_a_one_line_error(tmp_path):
    text = tmp_path / "question.wav"
    text.write_text("What is the capital of France?")
    _assert_one_line_error(run_assistant("talk", "-i", str(text)), "is not an audio file")


def test_debug_flag_shows_the_traceback(tmp_path):
    result = run_assistant("--debug", "transcribe", str(tmp_path / "missing.wav"))
    assert result.returncode == 1 and "Traceback" in result.stderr


def _damage(path: str, keep: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(keep)


def test_corrupt_models_name_the_file_and_exit_non_zero(
    tmp_path, gguf_path, piper_onnx, whisper_dir, speak
):
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(gguf_path.read_bytes()[:3_000_000])
    # Import refuses a broken file, naming it; the engines' own errors are seen on
    # copies damaged after import.
    _assert_one_line_error(run_assistant("models", "import", str(truncated), "--kind", "llm"),
                           "cut.gguf")  # fmt: skip
    shutil.copy(gguf_path, truncated)
    assert run_assistant("models", "import", str(truncated), "--kind", "llm").returncode == 0
    _damage(run_assistant("models", "path", "cut").stdout.strip(), keep=3_000_000)
    result = run_assistant("chat", "--llm", "cut")
    _assert_one_line_error(result, "cut.gguf")
    assert "truncated or corrupt" in result.stderr

    garbage = tmp_path / "noise.onnx"
    garbage.write_bytes(np.random.default_rng(1).bytes(50_000))
    (tmp_path / "noise.onnx.json").write_bytes(Path(f"{piper_onnx}.json").read_bytes())
    _assert_one_line_error(run_assistant("models", "import", str(garbage), "--kind", "voice"),
                           "noise.onnx")  # fmt: skip
    (tmp_path / "good").mkdir()
    voice = tiny_voice(tmp_path / "good", "noise")
    assert run_assistant("models", "import", str(voice), "--kind", "voice").returncode == 0
    installed = Path(run_assistant("models", "path", "noise").stdout.strip())
    installed.write_bytes(garbage.read_bytes())
    result = run_assistant("say", "hello", "--voice", "noise", "-o", str(tmp_path / "s.wav"))
    _assert_one_line_error(result, "noise.onnx")

    result = run_assistant("transcribe", str(speak(QUESTION)), "--asr", "no-such-model")
    _assert_one_line_error(result, "no-such-model")


def test_a_spoken_command_is_answered_without_the_model_and_a_timer_is_stored(
    tmp_path, speak, greedy_config
):
    result = run_assistant(
        "talk", "-i", str(speak("Set a pasta timer for ten minutes.")), "-o",
        str(tmp_path / "r.wav"), "--json", config=greedy_config,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["command"] == {"intent": "HassStartTimer", "handler": "timers"}, out
    assert "first_audio" in out["timings"] and out["reply_seconds"] > 0.3
    from assistant.commands.store import default_schedule_path

    stored = json.loads(default_schedule_path().read_text())["items"]
    assert [(i["kind"], i["name"], i["duration_s"]) for i in stored] == [("timer", "pasta", 600)]
