"""``train voice`` guardrails: too little speech is refused with how much more to record,
a run of hours asks first (refused without a terminal unless --yes), one training at a
time. The duration check runs on a real tiny fit; its decision logic also has a fast test
with scripted step reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.voice.fit import StepReport
from training.voice.guard import (
    EXIT_DECLINED,
    TimeGuard,
    TrainingDeclinedError,
    check_enough_data,
    training_lock,
)

pytestmark = pytest.mark.timeout(600)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _dataset(folder: Path, seconds: list[float], rate: int = 22050) -> Path:
    """An LJSpeech folder of tone clips (for the size checks: no speech needed)."""
    (folder / "wavs").mkdir(parents=True)
    lines = []
    for i, length in enumerate(seconds):
        t = np.arange(int(rate * length)) / rate
        sf.write(folder / "wavs" / f"u{i:03d}.wav", 0.1 * np.sin(2 * np.pi * 200 * t), rate)
        lines.append(f"u{i:03d}|Hello there number {i}.|Hello there number {i}.")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_too_little_speech_is_refused_with_how_much_more_to_record(tmp_path: Path):
    data = _dataset(tmp_path / "data", [6.0])  # one recording, 0.1 minutes
    result = _cli("train", "voice", "fit", str(data), "--output", str(tmp_path / "run"))
    assert result.returncode == 1
    assert "holds 0.1 minutes of speech; the standard preset" in result.stderr
    assert "record about 59.9 minutes more" in result.stderr
    assert not (tmp_path / "run").exists()


def test_fine_tuning_needs_less_speech_than_training_from_scratch(tmp_path: Path):
    data = _dataset(tmp_path / "data", [5.0] * 12)  # 1 minute
    with pytest.raises(Exception, match="needs at least 10"):
        check_enough_data(data, "standard", fine_tune=True)
    assert check_enough_data(data, "tiny", fine_tune=False) == pytest.approx(1.0)


def _report(step: int, total: int) -> StepReport:
    return StepReport(step, total, 0.0, 0.0, {})


class _Clock:
    """Steps of 2 s after a first one of 30 s (its warm-up)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return 30.0 + 2.0 * (self.calls - 1)


def test_the_time_guard_asks_once_after_the_probe_steps_leaving_out_the_warm_up():
    asked: list[float] = []
    guard = TimeGuard(lambda estimate: asked.append(estimate) or True, clock=_Clock())
    for step in range(1, 6):
        guard(_report(step, 20_000))
    assert len(asked) == 1 and asked[0] == pytest.approx(2.0 * (20_000 - 3))
    declined = TimeGuard(None, clock=_Clock())
    declined(_report(1, 20_000))
    declined(_report(2, 20_000))
    with pytest.raises(TrainingDeclinedError, match="about 11 h 6 min"):
        declined(_report(3, 20_000))
    quick = TimeGuard(None, clock=_Clock())  # a short run is never asked about
    for step in range(1, 6):
        quick(_report(step, 100))


@pytest.mark.slow
def test_a_fit_that_would_take_hours_is_refused_without_a_terminal(tmp_path: Path, speak):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sentences = ["Hello there, how are you today?", "The sea is calm this morning.",
                 "A quiet morning by the harbour.", "Bring the lamp up to the tower.",
                 "It is late, and the ships are home.", "The keeper climbs the stairs.",
                 "Gulls circle over the rocks.", "The light turns all night long."]  # fmt: skip
    for i, text in enumerate(sentences):
        wav = speak(text)
        (recordings / f"r{i}.wav").write_bytes(wav.read_bytes())
        (recordings / f"r{i}.txt").write_text(text)
    data = tmp_path / "data"
    prepared = _cli("train", "voice", "prepare", str(recordings), "--output", str(data),
                    "--no-asr-check")  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr[-2000:]
    fit = ("train", "voice", "fit", str(data), "--output", str(tmp_path / "run"), "--preset",
           "tiny", "--steps", "1000000", "--batch-size", "2", "--device", "cpu")  # fmt: skip
    result = _cli(*fit)
    assert result.returncode == EXIT_DECLINED, result.stderr[-2000:]
    assert "this training would take about" in result.stderr and "--yes" in result.stderr
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))


def test_one_training_at_a_time(tmp_path: Path):
    data = _dataset(tmp_path / "data", [15.0])
    from assistant.config import data_dir

    with training_lock(tmp_path / "other-run", data_dir() / "voice-training.lock"):
        result = _cli("train", "voice", "fit", str(data), "--output", str(tmp_path / "run"),
                      "--preset", "tiny")  # fmt: skip
    assert result.returncode == 1
    assert f"another voice training is running (process {os.getpid()}" in result.stderr
    assert not (tmp_path / "run").exists()
