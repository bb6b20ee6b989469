"""Guardrails before and during a voice training: enough data, a sane duration, one at a time.

A new user who presses Train with one recording should not start a 12-hour job by
accident. Before a fit: the recordings must hold the minutes the preset needs (the
error says how many more to record). After a few timed steps: when the whole run would
take longer than an hour on this machine, the user is asked first (``--yes`` answers in
advance). And only one training runs at a time, whatever started it (the CLI or the
voice lab): a lock file in the data folder says which one runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

__all__ = [
    "ASK_ABOVE_S",
    "PROBE_STEPS",
    "TimeGuard",
    "TrainingBusyError",
    "TrainingDeclinedError",
    "check_enough_data",
    "format_duration",
    "required_minutes",
    "speech_minutes",
    "training_lock",
]

log = logging.getLogger(__name__)

ASK_ABOVE_S = 3600.0
"""A run estimated to take longer than this asks first."""

PROBE_STEPS = 3
"""Steps timed before the estimate (the first one, with its warm-up, is not counted)."""

_MINUTES = {
    # preset: (from scratch, fine-tuning a base voice)
    "tiny": (0.2, 0.2),  # a smoke test of the pipeline: a handful of clips
    "standard": (60.0, 10.0),
}
"""Minutes of speech a preset needs: a voice from scratch needs about an hour of
speech, fine-tuning a base voice 10-20 minutes."""

_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")

_SECONDS_PER_PROMPT = 5.0
"""About how long one prompt of the voice lab takes to say."""

EXIT_DECLINED = 3
"""Exit code of ``train voice fit`` when the run would take too long and was not
confirmed (the voice lab asks the user, then runs it again with ``--yes``)."""


class TrainingDeclinedError(AssistantError):
    """The run would take longer than the user agreed to."""

    exit_code = EXIT_DECLINED

    def __init__(self, estimate_s: float, steps: int) -> None:
        self.estimate_s = estimate_s
        super().__init__(
            f"this training would take about {format_duration(estimate_s)} on this machine "
            f"({steps} steps); not started",
            hint="train fewer steps (--steps), use the tiny preset to try things out, "
            "train on a machine with a GPU, or add --yes to train anyway",
        )


class TrainingBusyError(AssistantError):
    """Another training holds the lock."""


def required_minutes(preset: str, fine_tune: bool) -> float:
    """Minutes of speech ``preset`` needs (less when fine-tuning a base voice)."""
    scratch, tuned = _MINUTES.get(preset, _MINUTES["standard"])
    return tuned if fine_tune else scratch


def speech_minutes(folder: Path) -> float:
    """Minutes of audio in ``folder``: a prepared dataset's ``wavs/``, else every audio
    file in it (a folder of recordings, with or without ``metadata.csv``)."""
    import soundfile as sf

    folder = Path(folder)
    wavs = folder / "wavs"
    root = wavs if wavs.is_dir() else folder
    if not root.is_dir():
        return 0.0
    seconds = 0.0
    for path in root.rglob("*"):
        if path.suffix.lower() not in _AUDIO_SUFFIXES or not path.is_file():
            continue
        try:
            seconds += sf.info(str(path)).duration
        except (sf.LibsndfileError, RuntimeError):
            log.debug("%s is not readable audio", path)
    return seconds / 60.0


def check_enough_data(
    folder: Path, preset: str, *, fine_tune: bool, subject: str | None = None
) -> float:
    """Refuse a run with less speech than ``preset`` needs; returns the minutes found.

    ``subject`` starts the message (default: "FOLDER holds").

    Raises:
        AssistantError: too little speech; the message says how much more to record.
    """
    have = speech_minutes(folder)
    need = required_minutes(preset, fine_tune)
    if have + 1e-9 >= need:
        return have
    missing = need - have
    prompts = max(1, round(missing * 60 / _SECONDS_PER_PROMPT))
    kind = "fine-tuning a base voice" if fine_tune else "a voice from scratch"
    subject = subject or f"{folder} holds"
    raise AssistantError(
        f"{subject} {have:.1f} minutes of speech; the {preset} preset ({kind}) needs "
        f"at least {need:g}: record about {missing:.1f} minutes more (about {prompts} more "
        "prompts)",
        hint="record more prompts (the voice lab, or `assistant train voice prompts`)"
        + (", or use the tiny preset to try the steps out" if preset != "tiny" else ""),
    )


def format_duration(seconds: float) -> str:
    """``"12 h 10 min"``, ``"25 min"``, ``"40 s"``."""
    if seconds >= 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"


class TimeGuard:
    """Wraps a fit's ``on_step``: after :data:`PROBE_STEPS` timed steps, a run that would
    take longer than ``limit_s`` goes on only if ``confirm(estimate_s)`` says so.

    The steps are timed here, from the end of the first one (its warm-up, the first
    allocation and compilation, would make every estimate too long).

    Args:
        confirm: asked once with the estimated seconds left; ``None`` always declines
            (no one to ask).
        on_step: the progress callback to pass the reports on to.
        limit_s: what counts as too long.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        confirm: Callable[[float], bool] | None,
        on_step: Callable[[Any], None] | None = None,
        *,
        limit_s: float = ASK_ABOVE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._confirm = confirm
        self._on_step = on_step
        self._limit_s = limit_s
        self._clock = clock
        self._first: tuple[int, float] | None = None
        self._seen = 0
        self._decided = False
        self.estimate_s: float | None = None
        """The estimate the decision was made on (``None`` until then)."""

    def __call__(self, report: Any) -> None:
        if self._on_step is not None:
            self._on_step(report)
        now = self._clock()
        self._seen += 1
        if self._first is None:
            self._first = (report.step, now)
        if self._decided or self._seen < PROBE_STEPS:
            return
        self._decided = True
        first_step, first_at = self._first
        per_step = (now - first_at) / max(1, report.step - first_step)
        self.estimate_s = per_step * (report.total - report.step)
        log.info("training estimate: %s left", format_duration(self.estimate_s))
        if self.estimate_s <= self._limit_s:
            return
        if self._confirm is None or not self._confirm(self.estimate_s):
            raise TrainingDeclinedError(self.estimate_s, report.total)


def _lock_path() -> Path:
    from assistant.config import data_dir

    return data_dir() / "voice-training.lock"


@contextlib.contextmanager
def training_lock(run_dir: Path, path: Path | None = None) -> Iterator[None]:
    """Hold the one-training-at-a-time lock while training into ``run_dir``.

    Raises:
        TrainingBusyError: another process trains now (says which run, which process).
    """
    import fcntl

    path = path or _lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                owner = json.loads(handle.read() or "{}")
            except ValueError:
                owner = {}
            raise TrainingBusyError(
                f"another voice training is running (process {owner.get('pid', '?')}, "
                f"into {owner.get('run', '?')})",
                hint="wait for it to finish, or stop it (the voice lab's Stop button, or "
                "Ctrl+C where it runs); one training at a time keeps the machine usable",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "run": str(run_dir)}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
