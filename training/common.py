"""What the LLM and the voice trainers share: the training error, the device and precision
choice, numbered checkpoint listing, the options record and the loss plot.

Both trainers import these from here; neither keeps its own copy. Nothing heavy is
imported at module level (torch and matplotlib load inside the functions).
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fsutil import atomic_write_bytes

__all__ = [
    "PRECISIONS",
    "TrainError",
    "choose_precision",
    "from_record",
    "numbered",
    "options_record",
    "plot_losses",
    "resolve_device",
]


class TrainError(AssistantError):
    """A training step cannot run: bad options, a missing run folder or base, a device
    that is not there. The message says what failed and where; the hint what to do."""


PRECISIONS = ("fp32", "fp16", "bf16")
"""Precisions a fit can train in (``auto`` picks one; ``no`` means ``fp32``)."""


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is
    an error (never a silent fall-back to the CPU)."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise TrainError(
            f"--device {requested} was asked for but torch sees no CUDA device",
            hint="use --device cpu, or install a CUDA build of torch",
        )
    if kind not in ("cpu", "cuda", "meta"):
        raise TrainError(f"unknown device {requested!r}", hint="use auto, cpu or cuda")
    return requested


def choose_precision(requested: str, device: str) -> str:
    """``fp32``, ``fp16`` or ``bf16`` for ``requested`` (``auto``: bf16 on a GPU that has
    it, else fp16 on a GPU, fp32 on the CPU; ``no`` is fp32)."""
    import torch

    on_gpu = device.split(":")[0] == "cuda"
    if requested == "auto":
        if not on_gpu:
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested == "no":
        requested = "fp32"
    if requested not in PRECISIONS:
        raise TrainError(
            f"unknown precision {requested!r}", hint="use auto, fp32 (or no), fp16 or bf16"
        )
    if requested != "fp32" and not on_gpu:
        raise TrainError(f"precision {requested} needs a GPU", hint="use fp32 on the CPU")
    return requested


def numbered(folder: Path, pattern: re.Pattern[str], *, files: bool) -> list[tuple[int, Path]]:
    """(number, path) of the entries of ``folder`` whose whole name matches ``pattern``
    (its first group is the number), oldest first; files or folders only."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = pattern.fullmatch(child.name)
        if match and (child.is_file() if files else child.is_dir()):
            found.append((int(match.group(1)), child))
    return sorted(found)


def options_record(options: Any, *, drop_none: bool = True) -> dict[str, Any]:
    """An options dataclass as plain data for JSON or TOML: nested dataclasses become
    tables, paths strings; ``None`` values are left out (TOML has no null) unless
    ``drop_none`` is false (JSON keeps them as null)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None or not drop_none}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    return dict(plain(dataclasses.asdict(options)))


def from_record(cls: type, data: dict[str, Any]) -> Any:
    """Dataclass ``cls`` (nested ones too) from an :func:`options_record`; unknown keys
    are errors (a typo in a hand-edited record must not be ignored)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = fields[name].default_factory
        if isinstance(value, dict) and default is not dataclasses.MISSING:
            kwargs[name] = from_record(type(default()), value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def plot_losses(
    history: Sequence[dict[str, Any]],
    path: Path,
    keys: Sequence[str] = ("loss",),
    title: str = "loss",
) -> None:
    """One panel per loss in ``keys`` against ``step`` (entries without ``step`` are
    skipped), written as a PNG atomically; no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [h for h in history if "step" in h and any(k in h for k in keys)]
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys) + 2, 3.5), dpi=90)
    panels = [axes] if len(keys) == 1 else list(axes)
    for axis, key in zip(panels, keys, strict=True):
        steps = [h["step"] for h in points]
        axis.plot(steps, [h.get(key, math.nan) for h in points], lw=1, marker=".", ms=2)
        axis.set_title(f"{title} {key}" if len(keys) > 1 else title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
