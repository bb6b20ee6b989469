"""Training throughput of the fit's layouts and speed options, one row each, all in one
run on the same base, data and LoRA adapter, on the requested device.

Rows (each is a *variant*): ``plain`` is the baseline a newcomer would write, the Hugging
Face Trainer with one example per row padded to the longest in its batch; ``padded`` is
our loop with every row padded to the block length; ``packed`` is our packed layout (what
``fit`` trains); the others are ``packed`` plus one speed option (``fused`` AdamW,
``flash`` attention, ``flex`` attention, ``liger`` kernels, ``compile``, ``auto-batch``
from free memory, ``4bit`` QLoRA) and ``all`` with every one of those that runs here.

Each row: real (non-padding) tokens per second over the timed steps (warm-up steps not
timed), model-FLOPs utilisation on a GPU of known peak, and peak GPU memory.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TrainError
from .memory import GIB, ModelShape
from .options import LlmFitOptions

__all__ = [
    "VARIANTS",
    "TrainFigure",
    "default_variants",
    "flops_per_token",
    "measure",
    "peak_flops",
    "variant_options",
]

log = logging.getLogger(__name__)

VARIANTS = ("plain", "padded", "packed", "fused", "flash", "flex", "liger", "compile",
            "auto-batch", "4bit", "all")  # fmt: skip
"""Rows the bench knows."""

_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "GH200": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
}
"""Dense bf16 tensor-core peak of known GPUs, TFLOP/s (vendors' data sheets, SXM parts)."""


@dataclass
class TrainFigure:
    """One row of the training bench."""

    variant: str
    """``plain``, ``padded``, ``packed``, ``fused`` ... (see the module's doc)."""
    layout: str
    """``plain`` (per-batch padding), ``padded`` (to the block) or ``packed``."""
    batch_size: int
    rows: int
    """Rows the timed steps went through."""
    row_length: int
    """Tokens per row (the longest of the batch for ``plain``)."""
    real_tokens: int
    """Non-padding tokens of the timed steps."""
    steps: int
    """Timed steps."""
    seconds: float
    tokens_per_second: float
    mfu: float | None = None
    """Model-FLOPs utilisation (``None`` off a GPU of known peak)."""
    peak_memory_gib: float | None = None
    """Peak GPU memory torch allocated (``None`` on the CPU)."""
    final_loss: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """The fit options that differ from the defaults."""


def peak_flops(device: str, override_tflops: float | None = None) -> float | None:
    """The device's peak dense bf16 FLOP/s (``None`` on the CPU or an unknown GPU)."""
    if override_tflops:
        return override_tflops * 1e12
    if device.split(":")[0] != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name(torch.device(device).index or 0)
    for key in sorted(_PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return _PEAK_TFLOPS[key] * 1e12
    return None


def flops_per_token(shape: ModelShape, seq_length: int) -> float:
    """Model FLOPs of training one token, as the PaLM paper counts them (appendix B):
    ``6 N + 12 L h T``, N the matrix parameters (output head included, embeddings
    not), T the attention length. A LoRA fit does less (frozen weights get no gradient)
    but the convention makes figures comparable across methods."""
    matrices = shape.linear_params + shape.vocab * shape.hidden
    return 6.0 * matrices + 12.0 * shape.layers * shape.hidden * seq_length


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def default_variants(device: str) -> list[str]:
    """Rows measured when none are named: on the CPU the layouts; on a GPU every option
    whose package is installed."""
    if device.split(":")[0] != "cuda":
        return ["plain", "padded", "packed"]
    rows = ["plain", "padded", "packed", "fused"]
    if _installed("flash_attn"):
        rows.append("flash")
    if _installed("liger_kernel"):
        rows.append("liger")
    rows += ["auto-batch", "all"]
    if _installed("bitsandbytes"):
        rows.append("4bit")
    return rows


def variant_options(variant: str, options: LlmFitOptions, device: str) -> LlmFitOptions:
    """The fit options of a row."""
    plain = dataclasses.replace(options, fused_optimizer=False, liger=False, compile=False)
    table: dict[str, dict[str, Any]] = {
        "plain": {"packing": False},
        "padded": {"packing": False},
        "packed": {},
        "fused": {"fused_optimizer": True},
        "flash": {"attention": "flash_attention_2"},
        "flex": {"attention": "flex_attention"},
        "liger": {"liger": True},
        "compile": {"compile": True},
        "auto-batch": {"batch_size": 0},
        "4bit": {"quantize": "4bit"},
    }
    changes = dict(table.get(variant, {}))
    if variant == "all":
        on_gpu = device.split(":")[0] == "cuda"
        changes = {"fused_optimizer": on_gpu, "batch_size": 0 if on_gpu else options.batch_size}
        if on_gpu and _installed("liger_kernel"):
            changes["liger"] = True
        if on_gpu and _installed("flash_attn"):
            changes["attention"] = "flash_attention_2"
        changes["compile"] = options.compile
    elif variant not in VARIANTS:
        raise TrainError(f"unknown bench row {variant!r}", hint=f"use {', '.join(VARIANTS)}")
    elif variant == "fused" and device.split(":")[0] != "cuda":
        raise TrainError("fused AdamW runs on a GPU only (on the CPU it is the packed row)")
    return dataclasses.replace(plain, **changes)


def _differences(options: LlmFitOptions, packed: LlmFitOptions) -> dict[str, Any]:
    """What a row changes against the ``packed`` row (checkpointing: when on)."""
    keys = ("packing", "batch_size", "attention", "liger", "fused_optimizer", "compile",
            "quantize", "precision")  # fmt: skip
    out = {k: getattr(options, k) for k in keys if getattr(options, k) != getattr(packed, k)}
    if options.gradient_checkpointing:
        out["gradient_checkpointing"] = True
    return out


def _synchronize(device: str) -> None:
    import torch

    if device.split(":")[0] == "cuda":
        torch.cuda.synchronize()


def _release(device: str) -> None:
    import torch

    gc.collect()
    if device.split(":")[0] == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float | None:
    import torch

    if device.split(":")[0] != "cuda":
        return None
    return torch.cuda.max_memory_allocated() / GIB


def _autocast(device: str, precision: str) -> Any:
    import contextlib

    import torch

    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.split(":")[0], dtype=dtype)
    return contextlib.nullcontext()


def run_loop(
    model: Any,
    batches: list[list[dict[str, Any]]],
    options: LlmFitOptions,
    device: str,
    precision: str,
    warmup: int = 1,
) -> tuple[float, int, int, float | None]:
    """Our training loop over ``batches``: (seconds, real tokens, rows, last loss) of
    the batches after the ``warmup`` first (those are trained, not timed). Every batch
    tensor is moved to ``device``."""
    from .fit import collate, real_tokens
    from .speed import attention_of, make_optimizer

    optimizer = make_optimizer(model, options, device)
    flatten = attention_of(options) == "flash_attention_2"
    seconds, tokens, rows, loss = 0.0, 0, 0, None
    for index, rows_of_batch in enumerate(batches):
        tensors = collate(rows_of_batch, flatten)
        batch = {key: value.to(device) for key, value in tensors.items()}
        _synchronize(device)
        start = time.perf_counter()
        with _autocast(device, precision):
            out = model(**batch).loss
        out.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _synchronize(device)
        if index >= warmup:
            seconds += time.perf_counter() - start
            tokens += real_tokens(rows_of_batch)
            rows += len(rows_of_batch)
        loss = float(out.detach())
    return seconds, tokens, rows, loss


def measure(
    variant: str,
    base: Path,
    rows: dict[str, list[dict[str, Any]]],
    options: LlmFitOptions,
    device: str,
    precision: str,
    shape: ModelShape,
    *,
    steps: int = 0,
    peak: float | None = None,
    pad_id: int = 0,
    build: Callable[..., Any] | None = None,
) -> TrainFigure:
    """One row: build the variant's model on ``device``, train ``steps`` timed steps
    (0: one pass over the rows) after one warm-up step, and free it again."""
    import torch

    from .fit import memory_plan
    from .speed import build_model

    wanted = variant_options(variant, options, device)
    memory, _, _ = memory_plan(base, wanted)
    wanted = dataclasses.replace(
        wanted,
        batch_size=memory.estimate.batch_size,
        gradient_checkpointing=memory.estimate.checkpointing,
    )
    layout = "packed" if wanted.packing else ("plain" if variant == "plain" else "padded")
    data = rows["packed" if wanted.packing else layout]
    torch.manual_seed(options.seed)
    _release(device)
    model = (build or build_model)(base, wanted, precision, device)
    model.train()
    if wanted.compile:
        model = torch.compile(model)
    try:
        if layout == "plain":
            from .plain import plain_trainer_pass

            seconds, tokens, count, loss, length = plain_trainer_pass(
                model, data, wanted, device, precision, steps, pad_id
            )
        else:
            size = wanted.batch_size
            batches = [data[i : i + size] for i in range(0, len(data), size)]
            if len(batches) < 2:
                raise TrainError(
                    f"the bench needs at least 2 batches of {size} rows for the {variant} row "
                    f"({len(data)} rows)",
                    hint="give more data or a smaller --batch-size",
                )
            batches = batches[: steps + 1] if steps else batches
            seconds, tokens, count, loss = run_loop(model, batches, wanted, device, precision)
            length = wanted.seq_length
        peak_gib = _peak(device)
    finally:
        del model
        _release(device)
    speed = tokens / seconds if seconds else 0.0
    mfu = None
    if peak and speed:
        mfu = speed * flops_per_token(shape, wanted.seq_length) / peak
    timed = -(-count // max(wanted.batch_size, 1))
    return TrainFigure(
        variant=variant,
        layout=layout,
        batch_size=wanted.batch_size,
        rows=count,
        row_length=length,
        real_tokens=tokens,
        steps=timed,
        seconds=seconds,
        tokens_per_second=speed,
        mfu=mfu,
        peak_memory_gib=None if peak_gib is None else round(peak_gib, 2),
        final_loss=loss,
        options=_differences(wanted, variant_options("packed", options, device)),
    )
