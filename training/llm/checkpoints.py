"""Checkpoints that survive a kill: only complete ones are ever resumed from.

The Trainer writes ``checkpoint-<step>/`` file by file; a kill in the middle leaves a
folder that looks like a checkpoint but is not one. Once the Trainer has finished one
(``on_save``), a ``COMPLETE`` marker is written into it atomically; resuming picks the
newest folder with the marker and moves half-written ones aside. Old checkpoints are
dropped by renaming first, so a kill during clean-up never leaves a marked, half-deleted
checkpoint.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_write_text

from ..common import numbered

__all__ = ["MARKER", "complete_checkpoints", "latest_llm_checkpoint", "make_callback"]

log = logging.getLogger(__name__)

MARKER = "COMPLETE"
"""File marking a checkpoint the Trainer finished writing."""

_PATTERN = re.compile(r"checkpoint-(\d+)")


def _steps(folder: Path) -> list[tuple[int, Path]]:
    return numbered(folder, _PATTERN, files=False)


def complete_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    return [path for _, path in _steps(folder) if (path / MARKER).is_file()]


def latest_llm_checkpoint(folder: Path, clean: bool = True) -> Path | None:
    """The newest complete checkpoint; with ``clean`` (rank 0 only, when several processes
    train), incomplete ones (a kill while saving) are removed."""
    complete = complete_checkpoints(folder)
    for _, path in _steps(folder):
        if clean and path not in complete:
            log.warning("removing the incomplete checkpoint %s (interrupted while saving)", path)
            _drop(path)
    return complete[-1] if complete else None


def _drop(path: Path) -> None:
    trash = path.with_name(f".trash-{path.name}")
    shutil.rmtree(trash, ignore_errors=True)
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def make_callback(folder: Path, keep: int) -> Any:
    """A ``TrainerCallback`` that marks each saved checkpoint complete and keeps the
    newest ``keep``."""
    from transformers import TrainerCallback

    class _MarkComplete(TrainerCallback):  # type: ignore[misc]
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if not state.is_world_process_zero:
                return
            path = Path(folder) / f"checkpoint-{state.global_step}"
            if path.is_dir():
                atomic_write_text(path / MARKER, f"{state.global_step}\n")
                log.info("checkpoint %s complete", path)
            for old in complete_checkpoints(Path(folder))[: -max(1, keep)]:
                _drop(old)

    return _MarkComplete()
