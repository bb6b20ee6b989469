"""``assistant train voice bench --base VOICE``: the figures of fine-tuning from a Piper
voice, measured in one run.

- Step-0 parity: the voice imported into the training model, before any step, noise off,
  against the ONNX voice on 10 fixed sentences (waveform correlation, log-mel distance,
  whisper's WER of both).
- Fine-tune (``--finetune DATA`` or ``--asterisk N``): train within a time budget, keep
  every checkpoint, then score the base and each checkpoint on the held-out sentences:
  WER (intelligibility must never be lost) and speaker similarity to the speaker's own
  held-out recordings (it must rise above the base's).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BaseBenchOptions", "run_base_bench"]

log = logging.getLogger(__name__)

MAX_WER = 0.15
"""Held-out WER every checkpoint of the fine-tune must stay under."""


@dataclass(frozen=True)
class BaseBenchOptions:
    """What to measure."""

    base: Path
    """The Piper voice (.onnx)."""
    parity: bool = True
    """Run the step-0 parity check."""
    data: Path | None = None
    """A prepared dataset to fine-tune on (None: no fine-tune)."""
    run_dir: Path | None = None
    """Where the fine-tune's run goes."""
    budget_s: float = 600.0
    """Training time of the fine-tune."""
    checkpoint_every: int = 50
    """Steps between the checkpoints scored."""
    bring_up_steps: int | None = None
    """Steps with the base's weights frozen (None: the CPU recipe's)."""
    batch_size: int = 4
    """Utterances per step."""
    sentences: int = 8
    """Held-out sentences scored per checkpoint."""
    device: str = "cpu"
    """Training device."""
    threads: int | None = None
    """CPU threads (None: torch's default)."""


def run_base_bench(options: BaseBenchOptions, transcriber: Any) -> dict[str, Any]:
    """Run it; returns the figures as plain data."""
    import torch

    report: dict[str, Any] = {
        "base": str(options.base),
        "device": options.device,
        "torch_threads": torch.get_num_threads(),
    }
    if options.parity:
        from .parity import step0_parity

        parity = step0_parity(options.base, transcriber=transcriber)
        report["parity"] = {
            "sentences": len(parity.correlations),
            "min_waveform_correlation": round(parity.min_correlation, 6),
            "max_log_mel_distance": max(parity.mel_distances),
            "one_rounding_log_mel_distance": parity.rounding_mel_distance,
            "length_mismatches": parity.length_mismatches,
            "wer_onnx": parity.wer_onnx,
            "wer_imported": parity.wer_torch,
            "passed": parity.min_correlation >= 0.99
            and parity.wer_onnx is not None
            and parity.wer_torch is not None
            and abs(parity.wer_torch - parity.wer_onnx) <= 0.02,
            "seconds": round(parity.seconds, 1),
        }
    if options.data is not None:
        report["finetune"] = _finetune(options, transcriber)
    return report


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _finetune(options: BaseBenchOptions, transcriber: Any) -> dict[str, Any]:
    import json

    from .checkpoints import list_checkpoints
    from .evaluate import evaluate
    from .fit import VoiceFitOptions, fit

    assert options.data is not None and options.run_dir is not None
    run = Path(options.run_dir)
    began = time.monotonic()
    result = fit(
        VoiceFitOptions(
            options.data,
            run,
            base=options.base,
            steps=10**6,
            checkpoint_every=options.checkpoint_every,
            device=options.device,
            batch_size=options.batch_size,
            keep_checkpoints=10**6,
            bring_up_steps=options.bring_up_steps,
            heldout_every=10,
            time_budget_s=options.budget_s,
            threads=options.threads,
        )
    )
    trained_s = time.monotonic() - began
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    held = record["heldout"][: options.sentences]
    sentences = [h["text"] for h in held]
    wavs = [Path(h["wav"]) for h in held]
    checkpoints = [path for _, path in list_checkpoints(run)]
    began = time.monotonic()
    scored = evaluate(
        checkpoints, sentences, transcriber, run / "eval", references=wavs, base=options.base
    )
    eval_s = time.monotonic() - began
    preset = record.get("preset", {})
    base = scored.scores[0]
    points = [
        {"step": s.step, "wer": round(s.wer, 4), "similarity": round(s.similarity or 0.0, 4)}
        for s in scored.scores[1:]
    ]
    return {
        "train_clips": len(record["train"]),
        "heldout_clips": len(record["heldout"]),
        "scored_sentences": len(sentences),
        "budget_s": options.budget_s,
        "trained_s": round(trained_s, 1),
        "steps": result.step,
        "steps_per_s": round(result.steps_per_second, 4),
        "eval_s": round(eval_s, 1),
        "recipe": {
            "batch_size": options.batch_size,
            "lr": preset.get("lr"),
            "bring_up_steps": options.bring_up_steps
            if options.bring_up_steps is not None
            else preset.get("bring_up_steps"),
            "frozen_after_bring_up": list(preset.get("frozen_after_bring_up", [])),
            "max_clip_s": preset.get("max_clip_s"),
            "discriminator": "small" if preset.get("small_discriminator") else "full",
            "torch_threads": torch_threads(),
        },
        "base": {"wer": round(base.wer, 4), "similarity": round(base.similarity or 0.0, 4)},
        "checkpoints": points,
        "wer_ok_at_every_checkpoint": all(p["wer"] <= MAX_WER for p in points),
        "similarity_above_base": bool(points)
        and points[-1]["similarity"] > (base.similarity or 0.0),
        "plot": str(run / "eval" / "eval.png"),
    }
