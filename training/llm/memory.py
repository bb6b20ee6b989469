"""How much memory a LoRA / QLoRA fit needs, estimated from the base's config before any
weight is loaded, so a fit that cannot fit is refused with figures ("this needs ~11 GB;
you have 8") instead of crashing out of memory an hour in.

The estimate is deliberately simple: weights, the adapter with its gradients and AdamW
state, the activations kept for the backward pass, the logits, and a fixed overhead. It
also picks the batch size (``--batch-size auto``) and whether to recompute activations
(gradient checkpointing) when memory is short.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from .options import LlmFitOptions

__all__ = [
    "GIB",
    "MemoryEstimate",
    "MemoryPlan",
    "ModelShape",
    "choose_batch_size",
    "estimate",
    "fits",
    "free_memory",
    "needs_checkpointing",
    "plan",
    "shape_of",
]

log = logging.getLogger(__name__)

GIB = 1024**3

_OVERHEAD = {True: int(0.75 * GIB), False: int(0.25 * GIB)}
"""By device (on a GPU or not): CUDA context, allocator slack, kernels' work space; the
interpreter and libraries on the CPU."""

_SHARE = 0.9
"""Share of the free memory a fit may plan to use."""


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know of a Llama-shaped decoder."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def linear_params(self) -> int:
        """Parameters of the projections of all layers (what 4-bit quantizes)."""
        kv = self.kv_heads * self.head_dim
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * kv
        return self.layers * (attention + 3 * self.hidden * self.intermediate)

    @property
    def params(self) -> int:
        """All parameters (embeddings, output head, norms included)."""
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.linear_params + embeddings + (2 * self.layers + 1) * self.hidden

    def lora_params(self, rank: int) -> int:
        """Adapter parameters of rank ``rank`` on all seven projections."""
        kv = self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        pairs = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
        return self.layers * sum(rank * (a + b) for a, b in pairs)


def shape_of(config: Any) -> ModelShape:
    """The shape of a transformers config (Llama, Mistral, Qwen2 and alike)."""
    return ModelShape(
        layers=int(config.num_hidden_layers),
        hidden=int(config.hidden_size),
        intermediate=int(config.intermediate_size),
        heads=int(config.num_attention_heads),
        kv_heads=int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads),
        vocab=int(config.vocab_size),
        tied=bool(getattr(config, "tie_word_embeddings", False)),
    )


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a fit is expected to need at its peak, by part."""

    weights: int
    adapter: int
    """Adapter weights, gradients and AdamW's two moments (fp32)."""
    activations: int
    logits: int
    overhead: int
    batch_size: int
    seq_length: int
    checkpointing: bool
    quantize: str

    @property
    def total(self) -> int:
        return self.weights + self.adapter + self.activations + self.logits + self.overhead

    def describe(self) -> str:
        parts = ", ".join(
            f"{name} {value / GIB:.1f}"
            for name, value in (
                ("weights", self.weights),
                ("adapter+optimizer", self.adapter),
                ("activations", self.activations),
                ("logits", self.logits),
                ("overhead", self.overhead),
            )
        )
        recompute = "with" if self.checkpointing else "without"
        base = "4-bit" if self.quantize == "4bit" else "16/32-bit"
        return (
            f"~{self.total / GIB:.1f} GiB ({parts} GiB) for batch {self.batch_size} x "
            f"{self.seq_length} tokens, {base} base, {recompute} gradient checkpointing"
        )


def _bytes_per_value(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def estimate(
    shape: ModelShape,
    options: LlmFitOptions,
    precision: str,
    *,
    batch_size: int | None = None,
    checkpointing: bool | None = None,
    on_gpu: bool = True,
) -> MemoryEstimate:
    """The peak memory of a fit of ``shape`` with ``options`` in ``precision``."""
    batch = batch_size or max(options.batch_size, 1)
    recompute = bool(options.gradient_checkpointing) if checkpointing is None else checkpointing
    value = _bytes_per_value(precision)
    tokens = batch * options.seq_length
    if options.quantize == "4bit":
        # NF4 with double quantization: ~0.52 bytes a parameter for the projections;
        # embeddings, output head and norms stay in the compute precision.
        weights = int(shape.linear_params * 0.52) + (shape.params - shape.linear_params) * value
    else:
        weights = shape.params * value
    adapter = shape.lora_params(options.lora.rank) * 16
    # Kept for the backward pass per token and layer (Korthikanti et al. 2022, attention
    # scores left out as SDPA/flash attention never materialise them): inputs of the
    # norms, projections, SwiGLU and the attention output, ~ (10 h + 4 i) values.
    per_layer = (10 * shape.hidden + 4 * shape.intermediate) * value
    if recompute:
        # Only each layer's input is kept; one layer is recomputed at a time.
        activations = tokens * (shape.layers * shape.hidden * value + per_layer)
    else:
        activations = tokens * shape.layers * per_layer
    # Logits in the compute precision, upcast to fp32 for the loss, and their gradient.
    logits = tokens * shape.vocab * (value + 4 + 4)
    return MemoryEstimate(
        weights=weights,
        adapter=adapter,
        activations=activations,
        logits=logits,
        overhead=_OVERHEAD[on_gpu],
        batch_size=batch,
        seq_length=options.seq_length,
        checkpointing=recompute,
        quantize=options.quantize,
    )


def free_memory(device: str) -> tuple[int, str]:
    """(free bytes, what they are) on ``device``: the GPU's free memory, or the
    system's available RAM on the CPU."""
    if device.split(":")[0] == "cuda":
        import torch

        index = torch.device(device).index or 0
        free, _ = torch.cuda.mem_get_info(index)
        return int(free), f"free on {torch.cuda.get_device_name(index)}"
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "of RAM available"
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages), "of RAM available"


def needs_checkpointing(
    shape: ModelShape,
    options: LlmFitOptions,
    precision: str,
    free: int,
    batch_size: int,
    on_gpu: bool = True,
) -> bool:
    """Whether to recompute activations: asked for, or the fit would not fit without."""
    if options.gradient_checkpointing is not None:
        return options.gradient_checkpointing
    plain = estimate(
        shape, options, precision, batch_size=batch_size, checkpointing=False, on_gpu=on_gpu
    )
    return plain.total > free * _SHARE


def choose_batch_size(
    shape: ModelShape,
    options: LlmFitOptions,
    precision: str,
    free: int,
    largest: int = 64,
    on_gpu: bool = True,
) -> int:
    """The largest power of two up to ``largest`` whose estimate fits ``free`` (at least
    1), with gradient checkpointing as ``options`` ask (off when left to choose)."""
    checkpointing = bool(options.gradient_checkpointing)
    batch = 1
    while batch * 2 <= largest:
        need = estimate(
            shape,
            options,
            precision,
            batch_size=batch * 2,
            checkpointing=checkpointing,
            on_gpu=on_gpu,
        )
        if need.total > free * _SHARE:
            break
        batch *= 2
    return batch


def fits(need: MemoryEstimate, free: int) -> bool:
    """Whether ``need`` fits the share of ``free`` a fit may use."""
    return need.total <= free * _SHARE


@dataclass(frozen=True)
class MemoryPlan:
    """The estimate of the fit as it will run, and the memory there is for it."""

    estimate: MemoryEstimate
    free: int
    """Bytes free on the device (available RAM on the CPU)."""
    where: str
    """What ``free`` is: ``free on NVIDIA H200``, ``of RAM available``."""

    @property
    def fits(self) -> bool:
        return fits(self.estimate, self.free)

    def message(self) -> str:
        """``this needs ~11.0 GiB (...); you have 8.0 GiB free on ...``."""
        have = f"{self.free / GIB:.1f} GiB {self.where}"
        return f"this fit needs {self.estimate.describe()}; you have {have}"


def plan(shape: ModelShape, options: LlmFitOptions, precision: str, device: str) -> MemoryPlan:
    """The batch size (``0``: chosen from free memory) and gradient checkpointing
    (``None``: on when memory is short) the fit will use, with its estimate."""
    free, where = free_memory(device)
    on_gpu = device.split(":")[0] == "cuda"
    batch = options.batch_size
    if batch <= 0:
        batch = choose_batch_size(shape, options, precision, free, on_gpu=on_gpu)
        log.info("batch size %d chosen from %.1f GiB %s", batch, free / GIB, where)
    checkpointing = needs_checkpointing(shape, options, precision, free, batch, on_gpu)
    if checkpointing and options.gradient_checkpointing is None:
        log.warning("memory is short: gradient checkpointing is on (slower, less memory)")
    need = estimate(
        shape, options, precision, batch_size=batch, checkpointing=checkpointing, on_gpu=on_gpu
    )
    return MemoryPlan(need, free, where)
