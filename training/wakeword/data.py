"""The training set of a custom wake word, as windows of openWakeWord embeddings.

Each clip (the phrase, a near-sounding phrase, a sentence, real speech, noise) is put on
a ~2.4 s canvas after some background, augmented, and run through the same front end as
the detector (:func:`assistant.wake.features.embed_clip`). From a clip of the phrase the
windows ending from 80 ms before to 160 ms after the phrase's end are positives and those
ending well before it (a partial phrase) negatives; every window of the other clips is a
negative.

Clips are made in worker processes (one per core), each with its own front end and
voices, :data:`SEGMENT` jobs at a time from a fresh start: a clip depends on its job and
the jobs before it in its segment only, so the same seed makes the same clips whatever
the number of workers and however the pool hands them out.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.audio.io import read_audio
from assistant.wake.features import STEP, WINDOW, FrontEnd, embed_clip

from .synth import RATE, Speaker, Synthesizer, augment, shift_pitch, trim

__all__ = ["Clip", "Dataset", "Job", "build_dataset", "load_audio_files", "sentences"]

log = logging.getLogger(__name__)

_FIRST_ROW_END = 11  # embed_clip's row r ends at sample (r + 11) * STEP
_CANVAS = int(2.4 * RATE)
_PROMPTS = Path(__file__).resolve().parent.parent / "voice" / "prompts_en.txt"

SEGMENT = 8
"""Jobs a worker makes in a row after restarting its synthesizer (Piper's sessions made
again, their noise generators seeded from the segment's first job): the pool hands out
whole segments. A restart costs a Piper session per voice used (~0.1 s, a short
sentence's synthesis); per job, it would add ~10 % to the clips."""


def sentences() -> list[str]:
    """Ordinary English sentences (the voice-recording prompts) for negatives."""
    lines = _PROMPTS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Job:
    """One clip to make: ``kind`` is ``positive``, ``take`` (a recorded positive),
    ``negative`` (said by a voice), ``audio`` (a slice of real recordings) or ``noise``."""

    kind: str
    seed: int
    speaker: Speaker | None = None
    text: str = ""
    audio: np.ndarray | None = field(default=None, repr=False, compare=False)
    follow: str = ""
    """For a positive: what the same voice says right after the phrase, with no pause
    ("hey computer what time is it"); empty for silence after it."""


@dataclass
class Clip:
    """A job's windows: (n, WINDOW, DIM) and their labels."""

    windows: np.ndarray
    labels: np.ndarray
    kind: str
    speaker: str


@dataclass
class Dataset:
    """Every window with its label and the clip it came from."""

    x: np.ndarray
    y: np.ndarray
    clip: np.ndarray
    counts: dict[str, int]
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U8"))
    """Each window's clip kind (``positive``, ``audio``...)."""


def load_audio_files(paths: list[Path], limit_s: float | None = None) -> list[np.ndarray]:
    """16 kHz audio of every audio file in ``paths`` (files or folders)."""
    out: list[np.ndarray] = []
    total = 0.0
    suffixes = {".wav", ".flac", ".ogg", ".mp3"}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes) \
            if path.is_dir() else [path]  # fmt: skip
        for file in files:
            audio = read_audio(file, RATE).samples
            out.append(audio)
            total += len(audio) / RATE
            if limit_s is not None and total >= limit_s:
                return out
    return out


_state: dict[str, object] = {}


def _init_worker(babble: list[np.ndarray]) -> None:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _state["front"] = FrontEnd(threads=1)
    _state["synth"] = Synthesizer()
    _state["babble"] = babble


def _windows(emb: np.ndarray) -> np.ndarray:
    if len(emb) < WINDOW:
        return np.zeros((0, WINDOW, emb.shape[1] if emb.ndim == 2 else 96), np.float32)
    idx = np.arange(WINDOW - 1, len(emb))
    return np.stack([emb[i - WINDOW + 1 : i + 1] for i in idx]).astype(np.float32)


def _make(task: tuple[int, Job]) -> Clip:
    segment, job = task  # the segment's seed, and the job
    front: FrontEnd = _state["front"]  # type: ignore[assignment]
    synth: Synthesizer = _state["synth"]  # type: ignore[assignment]
    babble: list[np.ndarray] = _state["babble"]  # type: ignore[assignment]
    if _state.get("segment") != segment:  # the pool's next segment: start afresh
        synth.restart(segment)
        _state["segment"] = segment
    rng = np.random.default_rng(job.seed)
    synth.rng = random.Random(job.seed)
    label = job.speaker.label if job.speaker else job.kind
    if job.kind == "audio" and job.audio is not None:
        emb = embed_clip(front, (job.audio * 32767).astype(np.int16))
        w = _windows(emb)
        return Clip(w, np.zeros(len(w), np.float32), job.kind, label)
    if job.kind == "noise":
        speech = np.zeros(int(rng.uniform(0.5, 1.5) * RATE), np.float32)
    elif job.kind == "take" and job.audio is not None:
        speech = trim(job.audio)
    else:
        assert job.speaker is not None
        speech = trim(synth.say(job.speaker, job.text))
    # The speed/pitch shift before the canvas: shifting the canvas would move the
    # phrase's end away from the sample that labels the windows (by up to 0.2 s).
    if job.follow and job.speaker is not None:
        # Words right after the phrase (a gap of 0-120 ms): the windows that end on the
        # phrase's end then hear the next word's start, as in "hey computer what time".
        # The phrase and what follows are shifted together.
        gap = np.zeros(int(rng.uniform(0.0, 0.12) * RATE), np.float32)
        after = np.concatenate([gap, trim(synth.say(job.speaker, job.follow))[: int(0.8 * RATE)]])
        joined = np.concatenate([speech, after])
        shifted = shift_pitch(joined, rng)
        cut = round(len(speech) * len(shifted) / max(len(joined), 1))
        speech, after = shifted[:cut], shifted[cut:]
    else:
        speech = shift_pitch(speech, rng)
        after = np.zeros(int(0.4 * RATE), np.float32)
    # Background before the clip: quiet, or someone talking (words before the wake word).
    lead_len = max(_CANVAS - len(speech) - int(rng.uniform(0.05, 0.35) * RATE), RATE // 4)
    lead = np.zeros(lead_len, np.float32)
    if babble and rng.random() < 0.3:
        source = babble[int(rng.integers(0, len(babble)))]
        start = int(rng.integers(0, max(1, len(source) - lead_len)))
        piece = np.resize(source[start : start + lead_len], lead_len)
        lead = piece * (10 ** (rng.uniform(-12, 0) / 20)) * (np.abs(speech).max() + 1e-6) / (
            np.abs(piece).max() + 1e-6)  # fmt: skip
        lead[-int(0.25 * RATE) :] *= 0.0  # a short pause before the phrase
    canvas = np.concatenate([lead, speech, after])
    end = lead_len + len(speech)
    canvas = augment(canvas, rng, babble, shift=False)
    emb = embed_clip(front, (np.clip(canvas, -1, 1) * 32767).astype(np.int16))
    w = _windows(emb)
    ends = (np.arange(WINDOW - 1, len(emb)) + _FIRST_ROW_END) * STEP
    if job.kind in ("positive", "take"):
        labels = np.full(len(w), -1.0, np.float32)  # -1: not used
        labels[(ends >= end - STEP) & (ends <= end + 2 * STEP)] = 1.0
        labels[ends < end - int(0.45 * RATE)] = 0.0
    else:
        labels = np.zeros(len(w), np.float32)
    keep = labels >= 0
    return Clip(w[keep], labels[keep], job.kind, label)


def build_dataset(
    jobs: list[Job],
    babble: list[np.ndarray],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Dataset, list[Clip]]:
    """Run every job in ``workers`` processes; returns the windows and the clips."""
    clips: list[Clip] = []
    # Each segment is seeded by its first job (the plan's seed goes into every job's).
    tasks = [(jobs[i - i % SEGMENT].seed, job) for i, job in enumerate(jobs)]

    def results() -> Iterator[Clip]:
        if workers <= 1:
            _init_worker(babble)
            _state.pop("segment", None)
            yield from map(_make, tasks)
            return
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(babble,)) as pool:
            yield from pool.imap(_make, tasks, chunksize=SEGMENT)

    for i, clip in enumerate(results()):
        clips.append(clip)
        if progress:
            progress(i + 1, len(jobs))
    xs = [c.windows for c in clips if len(c.windows)]
    ys = [c.labels for c in clips if len(c.windows)]
    ids = [np.full(len(c.windows), i) for i, c in enumerate(clips) if len(c.windows)]
    kinds = [np.full(len(c.windows), c.kind, "<U8") for c in clips if len(c.windows)]
    counts: dict[str, int] = {}
    for c in clips:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    data = Dataset(np.concatenate(xs), np.concatenate(ys), np.concatenate(ids), counts,
                   np.concatenate(kinds))  # fmt: skip
    return data, clips
