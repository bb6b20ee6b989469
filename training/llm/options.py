"""Options of the LLM training steps, as plain typed data (stored in the run's ``run.toml``).

The command line turns its arguments into these; nothing deeper sees argparse. The
defaults suit a few dozen examples on a CPU (SmolLM2-135M finishes in minutes) and scale
up on a GPU by raising ``epochs``, ``batch_size`` and ``seq_length``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common import from_record, options_record

__all__ = ["DataOptions", "LlmFitOptions", "LoraOptions", "RunConfig", "from_dict"]

from_dict = from_record
"""Kept for the callers of this module: the shared :func:`training.common.from_record`."""


@dataclass
class DataOptions:
    """How ``prepare`` reads and splits the data."""

    eval_fraction: float = 0.1
    """Share of the examples held out for evaluation (at least one is held out)."""
    max_length: int = 1024
    """Longest example in tokens (chat template applied); longer ones are errors."""
    system_prompt: str | None = None
    """System message put in front of examples that have none (``None``: leave as is)."""
    seed: int = 0
    """Seed of the train/eval shuffle."""


@dataclass
class LoraOptions:
    """The LoRA adapter."""

    rank: int = 16
    """Rank ``r`` of the update matrices."""
    alpha: int = 32
    """Scaling numerator: updates are scaled by ``alpha / rank``."""
    dropout: float = 0.05
    """Dropout on the adapter's input."""
    target_modules: list[str] = field(default_factory=list)
    """Linear layers to adapt; empty = the attention and MLP projections of the base's
    architecture."""


@dataclass
class LlmFitOptions:
    """How ``fit`` trains."""

    epochs: float = 3.0
    """Passes over the training data (``max_steps`` wins when set)."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = use ``epochs``)."""
    batch_size: int = 2
    """Sequences (packed blocks) per device per step; 0 = the largest power of two the
    memory estimate says fits the free memory (``--batch-size auto``)."""
    grad_accum: int = 1
    """Steps whose gradients are summed before an optimizer step."""
    learning_rate: float = 1e-3
    """Peak learning rate (LoRA tolerates far more than full fine-tuning)."""
    warmup_ratio: float = 0.05
    """Share of the steps spent warming the learning rate up."""
    seq_length: int = 256
    """Length of a packed block in tokens (the longest example when not packing)."""
    packing: bool = True
    """Pack several examples into each block (no padding, attention kept per example)."""
    gradient_checkpointing: bool | None = None
    """Recompute activations in the backward pass: less memory, ~30% slower. ``None``:
    on only when the memory estimate says the fit would not fit without."""
    device: str = "auto"
    """``auto`` (the GPU when torch sees one), ``cpu`` or ``cuda``."""
    quantize: str = "none"
    """``none``, or ``4bit``: QLoRA, the base in bitsandbytes NF4 with LoRA on top."""
    attention: str = "auto"
    """transformers' attention implementation: ``auto`` (``sdpa``), ``sdpa``, ``eager``,
    ``flash_attention_2`` (needs flash-attn) or ``flex_attention``. Packed documents
    never attend to each other with any of them (their positions restart)."""
    liger: bool = False
    """Liger's fused Triton kernels (RMSNorm, SwiGLU, RoPE, chunked cross-entropy that
    never materialises the logits); needs a GPU and the ``liger-kernel`` package."""
    fused_optimizer: bool = True
    """Fused AdamW on a GPU (one kernel for all parameters); ignored on the CPU."""
    compile: bool = False
    """``torch.compile`` the model (slow first steps; pays on long GPU fits)."""
    precision: str = "auto"
    """``auto`` (bf16 on a GPU that has it, else fp16 on GPU, fp32 on CPU), ``fp32``,
    ``fp16`` or ``bf16``."""
    save_steps: int = 20
    """Write a checkpoint every this many steps (and at the end)."""
    keep_checkpoints: int = 2
    """Newest complete checkpoints kept."""
    logging_steps: int = 1
    """Log the loss every this many steps."""
    seed: int = 42
    """Seed of initialisation and data order."""
    lora: LoraOptions = field(default_factory=LoraOptions)
    """The adapter."""


@dataclass
class RunConfig:
    """What a run folder was prepared with: the base model and the options."""

    base: str
    """The base model as resolved: a Hugging Face folder or a .gguf file (absolute)."""
    base_label: str
    """The base as the user named it (a store id, a path)."""
    data: DataOptions = field(default_factory=DataOptions)
    """Data preparation options."""
    fit: LlmFitOptions = field(default_factory=LlmFitOptions)
    """Training options (``fit`` may override them)."""
    data_sha256: str = ""
    """Checksum of the data file the run was prepared from."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for TOML (``None`` values left out)."""
        return options_record(self)
