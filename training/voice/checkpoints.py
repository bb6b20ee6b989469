"""A voice run's checkpoints: listed by step, written atomically, read with a clear error,
pruned to the newest few; and a base checkpoint (a file, or a ``voice-base`` model of the
store) found and its weights copied where they fit."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.fsutil import atomic_open

from ..common import TrainError, numbered

if TYPE_CHECKING:
    from assistant.store import ModelStore

__all__ = [
    "base_weights",
    "latest_voice_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_matching",
    "prune_checkpoints",
    "resolve_base",
    "save_checkpoint",
]

_CKPT = re.compile(r"^step-(\d+)\.pt$")


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's checkpoints, oldest first."""
    return numbered(Path(run_dir) / "checkpoints", _CKPT, files=True)


def latest_voice_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint of a run, or ``None``."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save into a temporary file beside ``path``, then rename: a kill leaves the
    previous checkpoints intact and never a half-written one under a real name."""
    import torch

    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        return dict(torch.load(str(path), map_location="cpu", weights_only=False))
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise TrainError(
            f"cannot read checkpoint {path}: {exc}",
            hint="delete it to resume from the one before, or start a new run",
        ) from exc


def resolve_base(spec: str, store: ModelStore) -> Path:
    """The base file that ``--base`` names: a path (a Piper voice's ``.onnx``, a run's
    ``.pt``, a Coqui ``.pth``, or a folder holding one), the id of an installed Piper
    voice, or the id of a ``voice-base`` model in the store.

    Store ids are catalog entries pulled with ``assistant models pull ID``, or checkpoints
    imported with ``assistant models import FILE --kind voice-base``. Training never
    downloads: a catalog id that is not installed fails with the command that pulls it.
    """
    from assistant.store.manifest import find_main

    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        found = [p.name for p in path.iterdir() if p.is_file()]
        return path / find_main("voice-base", found, f"base checkpoint folder {path}")
    if os.sep in spec or spec.endswith((".pt", ".pth", ".onnx", ".ckpt")):
        raise TrainError(
            f"base {path} does not exist",
            hint="pass a Piper voice (.onnx), a checkpoint file (.pt from a run, or a Coqui "
            "VITS .pth), or the id of an installed voice (`assistant models list`)",
        )
    from .voice_base import resolve_voice

    voice = resolve_voice(spec, store)
    if voice is not None:
        return voice
    return store.resolve("voice-base", spec).path


def base_weights(path: Path) -> dict[str, Any]:
    """Weights of a base checkpoint: one of ours, or a Coqui ``.pth`` (``model`` key)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TrainError(
            f"base checkpoint {path} does not exist",
            hint="pass a checkpoint file (.pt from a run, or a Coqui VITS .pth)",
        )
    state = load_checkpoint(path)
    weights = state.get("model")
    if not isinstance(weights, dict):
        raise TrainError(f"{path} holds no model weights (no 'model' entry)")
    return weights


def load_matching(model: Any, weights: dict[str, Any]) -> tuple[int, list[str]]:
    """Copy the tensors whose name and shape match; returns (copied, skipped names)."""
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(set(own) - set(usable))
    model.load_state_dict(usable, strict=False)
    return len(usable), skipped


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (and leftovers of killed writes)."""
    found = list_checkpoints(run_dir)
    for _, path in found[: max(0, len(found) - keep)]:
        path.unlink(missing_ok=True)
    for tmp in (run_dir / "checkpoints").glob(".step-*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - tmp.stat().st_mtime > 60:
                tmp.unlink()
