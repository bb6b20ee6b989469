"""``assistant train wakeword``: plan the clips, build the windows, train the
classifier, export it to ONNX and register it in the model store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.fsutil import atomic_write_text
from assistant.wake.custom import FEATURES, FORMAT, INPUT, OUTPUT
from assistant.wake.features import DIM, WINDOW

from .data import Dataset, Job, build_dataset, load_audio_files, sentences
from .phrases import REQUESTS, check_phrase, context_phrases, near_phrases
from .rule import Rule, choose_rule, run_level
from .synth import Speaker, espeak_speakers, piper_speakers

__all__ = [
    "MIN_TAKES",
    "PRESETS",
    "Budget",
    "WakeTrainOptions",
    "WakeTrainResult",
    "train",
]

log = logging.getLogger(__name__)

MIN_TAKES = 3
"""Own recordings, when given, must number at least this many."""


@dataclass(frozen=True)
class Budget:
    """How much to make and train."""

    positives: int
    near: int
    sentences: int
    noise: int
    real_s: float
    """Seconds of real recordings (``--negatives``) used as negatives."""
    steps: int
    take_copies: int = 20
    mine_every: int = 500
    """Steps between hard-negative mining rounds (the first after a quarter of the run)."""
    context: int = 0
    """Clips of the phrase's words in other sentences (:func:`context_phrases`)."""
    follow: float = 0.0
    """Share of the spoken positives followed at once by a request or a sentence."""


PRESETS = {
    "tiny": Budget(positives=40, near=30, sentences=16, noise=6, real_s=60, steps=400,
                   take_copies=4, mine_every=100, context=10),
    "standard": Budget(positives=900, near=480, sentences=600, noise=60, real_s=4500,
                       steps=8000, context=480, follow=0.5),
}  # fmt: skip
"""``tiny`` is for tests (a minute); ``standard`` is the real thing (~6-9 minutes on 2
cores)."""

HIDDEN = 256
"""Units of the classifier's first layer."""
NEGATIVE_WEIGHT = 2.0
"""A negative window's loss weight against a positive's 1: false accepts cost more."""
HARD_SHARE = 0.02
"""Each mining round keeps this share of the training negatives, those the model scores
highest, and half of every later batch's negatives come from them."""
VAL_SHARE = 0.1
"""Share of the spoken clips (phrase, near phrases, sentences, noise) held out."""
VAL_REAL_SHARE = 0.4
"""Share of the real recordings held out: the false-accept side of the validation."""


@dataclass
class WakeTrainOptions:
    """What ``assistant train wakeword`` was asked to do."""

    phrase: str
    name: str
    output: Path
    takes: Path | None = None
    negatives: list[Path] = field(default_factory=list)
    preset: str = "standard"
    workers: int = 0
    """0 = one per core."""
    seed: int = 0
    hold_out: tuple[str, ...] = ()
    """Speaker labels (prefixes) never used in training (the bench tests on them)."""
    register: bool = True
    replace: bool = False
    negative_audio: list[np.ndarray] = field(default_factory=list)
    """Real recordings without the phrase, already loaded (16 kHz float32)."""


@dataclass
class WakeTrainResult:
    """Where the model went and how it did on its validation clips."""

    model: Path
    registered: str | None
    seconds: float
    windows: int
    positives: int
    val_recall: float
    val_false_rate: float
    """Share of held-out negative clips the rule wakes on."""
    counts: dict[str, int]
    threshold: float = 0.5
    """The threshold written beside the model."""
    frames: int = 1
    """Scores in a row over it that the word needs (written beside the model)."""


def _takes(path: Path) -> list[np.ndarray]:
    if not path.exists():
        raise AssistantError(
            f"{path} does not exist", hint="pass the folder of your recorded takes"
        )
    try:
        audio = load_audio_files([path])
    except AssistantError as exc:
        raise AssistantError(f"a take cannot be read: {exc.message}", hint=exc.hint) from None
    if len(audio) < MIN_TAKES:
        raise AssistantError(
            f"{path}: {len(audio)} recorded take(s) of the wake phrase; at least {MIN_TAKES} "
            "are needed",
            hint=f"record the phrase {MIN_TAKES} times or more (one WAV per take), or leave "
            "out --takes to train on the installed voices only",
        )
    return audio


def _plan(opts: WakeTrainOptions, budget: Budget, speakers: list[Speaker], phrase: str,
          takes: list[np.ndarray], real: list[np.ndarray]) -> list[Job]:  # fmt: skip
    rng = random.Random(opts.seed)
    near = near_phrases(phrase)
    texts = sentences()
    piper = [s for s in speakers if s.engine == "piper"]
    others = [s for s in speakers if s.engine != "piper"]

    def speaker() -> Speaker:
        # Piper voices are slower to run: about a quarter of the clips.
        if piper and (not others or rng.random() < 0.25):
            return rng.choice(piper)
        return rng.choice(others)

    jobs: list[Job] = []
    seed = opts.seed * 1_000_003
    for _ in range(budget.positives):
        seed += 1
        who = speaker()  # drawn before the text, as before follows existed (same plans)
        text = rng.choice([phrase, phrase + "!", phrase + "?"])
        follow = ""
        if budget.follow and rng.random() < budget.follow:
            text = phrase + rng.choice(["", ","])
            follow = rng.choice(REQUESTS) if rng.random() < 0.5 else rng.choice(texts)
        jobs.append(Job("positive", seed, who, text, follow=follow))
    for take in takes:
        for _ in range(budget.take_copies):
            seed += 1
            jobs.append(Job("take", seed, None, "", take))
    for i in range(budget.near):
        seed += 1
        jobs.append(Job("negative", seed, speaker(), near[i % len(near)] if near else "hello"))
    for _ in range(budget.sentences):
        seed += 1
        jobs.append(Job("negative", seed, speaker(), rng.choice(texts)))
    context = context_phrases(phrase)
    for i in range(budget.context if context else 0):
        seed += 1
        jobs.append(Job("negative", seed, speaker(), context[i % len(context)]))
    for _ in range(budget.noise):
        seed += 1
        jobs.append(Job("noise", seed))
    # Real recordings, cut into 10 s pieces.
    total, piece = 0, 10 * 16000
    for audio in real:
        for start in range(0, len(audio), piece):
            if total >= budget.real_s * 16000:
                break
            part = audio[start : start + piece]
            if len(part) >= 3 * 16000:
                seed += 1
                jobs.append(Job("audio", seed, None, "", part))
                total += len(part)
    rng.shuffle(jobs)
    return jobs


@dataclass
class _Fitted:
    model: object
    rule: Rule
    """Frames, threshold and the held-out phrase clips' recall under them."""
    val_false_rate: float
    """Share of held-out real-recording and noise clips the rule would wake on (0 by
    construction unless no rule cleared them)."""
    val_real_minutes: float
    """Minutes of held-out real recordings the rule was checked on."""


def _scores(model: Any, x: Any, idx: np.ndarray, batch: int = 4096) -> np.ndarray:
    """The model's scores on the windows ``x[idx]``, a batch at a time (no copy of all)."""
    import torch

    with torch.no_grad():
        parts = [torch.sigmoid(model(x[idx[i : i + batch]]).squeeze(1))
                 for i in range(0, len(idx), batch)]  # fmt: skip
    return torch.cat(parts).numpy() if parts else np.zeros(0, np.float32)


def _fit(data: Dataset, steps: int, seed: int, progress: Callable[[int, int], None],
         mine_every: int = 500, real: np.ndarray | None = None) -> _Fitted:  # fmt: skip
    """Train the classifier on ``data`` (:data:`VAL_SHARE` of its spoken clips and
    :data:`VAL_REAL_SHARE` of its real recordings held out), mining hard negatives every
    ``mine_every`` steps after the first quarter, then choose the frames and threshold on
    the held-out clips (:func:`choose_rule`). ``real`` marks the windows cut from real
    recordings."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a small model: more threads only wait on each other
    rng = np.random.default_rng(seed)
    is_real = real if real is not None else np.zeros(len(data.y), bool)
    val_clips: set[int] = set()
    for share, group in ((VAL_SHARE, ~is_real), (VAL_REAL_SHARE, is_real)):
        clips = np.unique(data.clip[group])
        if len(clips):
            size = max(1, int(len(clips) * share))
            val_clips |= set(rng.choice(clips, size=size, replace=False).tolist())
    val = np.isin(data.clip, list(val_clips))
    x = torch.from_numpy(data.x)
    y = torch.from_numpy(data.y)
    pos = np.nonzero((data.y == 1) & ~val)[0]
    neg = np.nonzero((data.y == 0) & ~val)[0]
    if len(pos) == 0 or len(neg) == 0:
        raise AssistantError("no training windows were made", hint="check the voices and takes")
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(WINDOW * DIM, HIDDEN),
        nn.LayerNorm(HIDDEN),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(HIDDEN, 64),
        nn.ReLU(),
        nn.Linear(64, 1),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    half = 128
    hard = np.zeros(0, np.int64)
    for step in range(steps):
        if mine_every and step >= steps // 4 and (step - steps // 4) % mine_every == 0:
            # Hard-negative mining: the negatives the model now scores highest (real
            # speech that sounds a little like the phrase, near phrases) get half of
            # every batch's negatives until the next round.
            model.eval()
            scores = _scores(model, x, neg)
            keep = max(half, int(len(neg) * HARD_SHARE))
            hard = neg[np.argsort(scores)[-keep:]]
        model.train()
        if len(hard):
            negatives = np.concatenate([rng.choice(neg, half), rng.choice(hard, half)])
        else:
            negatives = rng.choice(neg, half * 2)
        idx = np.concatenate([rng.choice(pos, half), negatives])
        logits = model(x[idx]).squeeze(1)
        target = y[idx]
        # False accepts cost more than false rejects.
        weight = torch.where(target > 0.5, 1.0, NEGATIVE_WEIGHT)
        loss = (loss_fn(logits, target) * weight).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            progress(step + 1, steps)
    model.eval()
    vidx = np.nonzero(val)[0]  # in clip order, each clip's windows in time order
    score = _scores(model, x, vidx)
    vy, vclip = data.y[vidx], data.clip[vidx]
    held_positives: list[np.ndarray] = []
    held_negatives: list[np.ndarray] = []
    vkind = data.kind[vidx] if len(data.kind) == len(data.y) else np.zeros(len(vidx), "<U8")
    for c in np.unique(vclip):
        mine = vclip == c
        if (vy[mine] == 1).any():  # a phrase clip: its positive windows (its partial
            held_positives.append(score[mine & (vy == 1)])  # phrase is not a false accept)
        elif vkind[mine][0] in ("audio", "noise"):
            # Real recordings and noise judge false accepts. The spoken near phrases
            # ("bey computer") are for training only: said by a robotic voice one is
            # the phrase itself to a listener, and clearing it would cost every voice.
            held_negatives.append(score[mine])
    rule = choose_rule(held_positives, held_negatives)
    false = sum(run_level(n, rule.frames) >= rule.threshold for n in held_negatives)
    real_minutes = float(is_real[vidx].sum()) * 0.08 / 60  # a window per 80 ms step
    return _Fitted(model, rule, false / max(len(held_negatives), 1), real_minutes)


def _export(model: object, path: Path) -> None:
    import torch
    from torch import nn

    wrapped = nn.Sequential(model, nn.Sigmoid())  # type: ignore[call-overload]
    wrapped.eval()
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            (torch.zeros(1, WINDOW, DIM),),
            str(path),
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


class _Progress:
    """Progress lines on stderr: stage, count, ETA."""

    def __init__(self, out: Callable[[str], None] | None) -> None:
        self.out = out
        self._last = 0.0

    def stage(self, name: str) -> Callable[[int, int], None]:
        start = time.monotonic()

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if self.out is None or (now - self._last < 2.0 and done < total):
                return
            self._last = now
            eta = (now - start) / done * (total - done) if done else 0.0
            self.out(f"[{name}] {done}/{total} ({100 * done // max(total, 1)}%), "
                     f"{now - start:.0f} s, ETA {eta:.0f} s")  # fmt: skip

        return report


def train(opts: WakeTrainOptions, store: object | None,
          out: Callable[[str], None] | None = None) -> WakeTrainResult:  # fmt: skip
    """Train, export and (unless ``opts.register`` is false) register the word."""
    from assistant.store.catalog import check_model_id

    start = time.monotonic()
    phrase = check_phrase(opts.phrase)
    if opts.preset not in PRESETS:
        raise AssistantError(f"unknown preset {opts.preset!r}", hint=f"choose {', '.join(PRESETS)}")
    check_model_id(opts.name)
    if opts.register and store is not None and not opts.replace:
        try:
            store.get(opts.name)  # type: ignore[attr-defined]
        except AssistantError:
            pass
        else:
            raise AssistantError(
                f"a model named {opts.name!r} is already installed",
                hint="choose another --name, or pass --replace to train it again",
            )
    budget = PRESETS[opts.preset]
    takes = _takes(opts.takes) if opts.takes else []
    real = load_audio_files(opts.negatives, limit_s=budget.real_s) if opts.negatives else []
    real += opts.negative_audio
    speakers = [s for s in piper_speakers(store) + espeak_speakers()
                if not any(s.label.startswith(h) for h in opts.hold_out)]  # fmt: skip
    if not speakers:
        raise AssistantError(
            "no voice to speak the wake phrase: no Piper voice in the store and no espeak-ng",
            hint="apt-get install espeak-ng",
        )
    workers = opts.workers or max(1, min(2, os.cpu_count() or 1))
    jobs = _plan(opts, budget, speakers, phrase, takes, real)
    progress = _Progress(out)
    if out:
        out(f"training wake word {phrase!r} as {opts.name}: {len(jobs)} clips from "
            f"{len(speakers)} voices, {len(takes)} own takes, {len(real)} real recordings; "
            f"{workers} worker(s)")  # fmt: skip
    data, _ = build_dataset(jobs, real, workers, progress.stage("clips"))
    fitted = _fit(data, budget.steps, opts.seed, progress.stage("train"), budget.mine_every,
                  real=data.kind == "audio")  # fmt: skip
    model, rule, false_rate = fitted.model, fitted.rule, fitted.val_false_rate
    recall = rule.recall
    if out:
        out(f"threshold {rule.threshold:.2f}, {rule.frames} frame(s) in a row (chosen on the "
            f"held-out clips: phrase clips detected {recall:.0%}, real-speech and noise clips "
            f"woken on {false_rate:.1%}, {fitted.val_real_minutes:.0f} min of real speech)")
    opts.output.mkdir(parents=True, exist_ok=True)
    file_stem = re.sub(r"[^A-Za-z0-9_.-]", "_", opts.name)
    with tempfile.TemporaryDirectory(dir=opts.output) as tmp:
        onnx_path = Path(tmp) / f"{file_stem}.onnx"
        _export(model, onnx_path)
        meta = {
            "format": FORMAT,
            "phrase": phrase,
            "threshold": rule.threshold,
            "frames": rule.frames,
            "window": WINDOW,
            "features": FEATURES,
            "trained": {
                "preset": opts.preset,
                "clips": data.counts,
                "windows": len(data.y),
                "val_recall": recall,
                "val_false_clip_rate": false_rate,
                "val_real_minutes": fitted.val_real_minutes,
            },
        }
        atomic_write_text(Path(tmp) / f"{file_stem}.onnx.json", json.dumps(meta, indent=2))
        final = opts.output / "model"
        if final.exists():
            shutil.rmtree(final)
        Path(tmp).rename(final)
        Path(tmp).mkdir()  # so TemporaryDirectory's cleanup finds it
    main = final / f"{file_stem}.onnx"
    registered = None
    if opts.register and store is not None:
        if opts.replace:
            from assistant.store.check import check_model

            check_model("wake", main)  # the new word is sound before the old one goes
            with contextlib.suppress(AssistantError):
                store.remove(opts.name)  # type: ignore[attr-defined]
        installed = store.register(  # type: ignore[attr-defined]
            final, "wake", opts.name, name=f"wake word: {phrase}",
            licence="trained locally", language="en",
        )  # fmt: skip
        registered = installed.id
        main = installed.path
    seconds = time.monotonic() - start
    return WakeTrainResult(main, registered, seconds, len(data.y), int((data.y == 1).sum()),
                           recall, false_rate, data.counts, rule.threshold,
                           rule.frames)  # fmt: skip


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
