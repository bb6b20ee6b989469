"""What a voice run writes beside its checkpoints (the run record, progress for watchers,
TensorBoard logs) and the gradient averaging of data-parallel training."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.fsutil import atomic_write_text

from ..common import options_record
from .data import Utterance

if TYPE_CHECKING:
    from .fit import VoiceFitOptions

__all__ = ["average_gradients", "tensorboard", "write_progress", "write_run_record"]


def average_gradients(params: list[Any], world: int) -> None:
    """Mean of each gradient over the processes (data-parallel training)."""
    import torch
    import torch.distributed as dist

    # One collective over all gradients flattened, not one per parameter (hundreds of
    # small all-reduces a step would leave the GPUs waiting on latency).
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def write_progress(
    run_dir: Path, step: int, total: int, per_step: float, history: list[dict[str, float]]
) -> None:
    """``progress.json``: where the run is, for watchers in other processes (the GUI's
    voice lab); at most 200 points of the mel loss curve."""
    every = max(1, len(history) // 200)
    record = {
        "step": step,
        "total": total,
        "seconds_per_step": round(per_step, 4),
        "eta_s": round(per_step * (total - step), 1),
        "losses": {k: v for k, v in history[-1].items() if k != "step"},
        "curve": [[h["step"], h.get("mel", 0.0)] for h in history[::every]],
    }
    atomic_write_text(run_dir / "progress.json", json.dumps(record))


def tensorboard(folder: Path, step: int) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    # purge_step drops events a killed session logged after its last checkpoint.
    return SummaryWriter(log_dir=str(folder), purge_step=step or None)


def write_run_record(
    run_dir: Path,
    options: VoiceFitOptions,
    preset: dict[str, Any],
    language: str,
    train_set: list[Utterance],
    heldout: list[Utterance],
) -> None:
    record = {
        "options": options_record(options, drop_none=False),
        "preset": preset,
        "language": language,
        "train": [u.id for u in train_set],
        "heldout": [{"id": u.id, "text": u.text, "wav": str(u.wav)} for u in heldout],
        "pid": os.getpid(),
    }
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=2, ensure_ascii=False))
