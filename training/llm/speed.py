"""The fit's model as the speed and memory options ask: the attention implementation,
Liger's fused kernels, the base in 4-bit (QLoRA), the LoRA adapter, gradient
checkpointing, the device; and the optimizer (fused AdamW on a GPU).

Every option is checked before weights load, with a message that says what to do when a
package or a GPU it needs is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from .errors import TrainError
from .options import LlmFitOptions

__all__ = [
    "ATTENTIONS",
    "attention_of",
    "build_model",
    "check_speed_options",
    "make_optimizer",
    "quantization_config",
]

log = logging.getLogger(__name__)

ATTENTIONS = ("auto", "sdpa", "eager", "flash_attention_2", "flex_attention")
"""Values of ``--attention``."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def attention_of(options: LlmFitOptions) -> str:
    """transformers' ``attn_implementation`` for ``options``."""
    return "sdpa" if options.attention == "auto" else options.attention


def check_speed_options(options: LlmFitOptions, device: str, base: Path | None = None) -> None:
    """Raise :class:`TrainError` for an option this machine cannot honour."""
    on_gpu = device.split(":")[0] == "cuda"
    if options.attention not in ATTENTIONS:
        raise TrainError(
            f"unknown attention implementation {options.attention!r}",
            hint=f"use one of {', '.join(ATTENTIONS)}",
        )
    if options.attention == "flash_attention_2" and not (on_gpu and _installed("flash_attn")):
        raise TrainError(
            "--attention flash_attention_2 needs a CUDA GPU and the flash-attn package",
            hint="pip install flash-attn on the GPU machine, or use --attention sdpa",
        )
    if options.liger:
        if not _installed("liger_kernel"):
            raise TrainError(
                "--liger needs the liger-kernel package (Triton kernels for CUDA GPUs)",
                hint="pip install 'offline-voice-assistant[gpu-train]' (or liger-kernel) "
                "on the GPU machine, or leave --liger off",
            )
        if not on_gpu:
            raise TrainError(
                "--liger runs Triton kernels, which need a CUDA GPU",
                hint="leave --liger off on the CPU",
            )
    if options.quantize not in ("none", "4bit"):
        raise TrainError(
            f"unknown quantization {options.quantize!r}", hint="use --quantize 4bit or none"
        )
    if options.quantize == "4bit":
        if not _installed("bitsandbytes"):
            raise TrainError(
                "--quantize 4bit (QLoRA) needs the bitsandbytes package",
                hint="pip install 'offline-voice-assistant[train]' (it brings bitsandbytes)",
            )
        if base is not None and Path(base).is_file():
            raise TrainError(
                f"--quantize 4bit needs the base as a Hugging Face folder, not the GGUF {base}",
                hint="give --base a folder saved with save_pretrained (a GGUF base is "
                "already small: train it without --quantize)",
            )


def quantization_config(precision: str) -> Any:
    """bitsandbytes NF4 with double quantization, computing in ``precision``."""
    import torch
    from transformers import BitsAndBytesConfig

    compute = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_quant_storage=compute,
    )


def build_model(
    base: Path, options: LlmFitOptions, precision: str, device: str, *, place: bool = True
) -> Any:
    """The base with a fresh LoRA adapter, set up for training as ``options`` ask.

    With ``place`` the model ends on ``device`` (the Trainer would move it itself; the
    bench and tests do not use the Trainer). A 4-bit base is loaded straight onto its
    device (bitsandbytes quantizes while loading).
    """
    import torch

    from .base import load_base
    from .fit import lora_model

    check_speed_options(options, device, base)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    extra: dict[str, Any] = {"attn_implementation": attention_of(options)}
    if options.quantize == "4bit":
        extra["quantization_config"] = quantization_config(precision)
        # One copy per process: under torchrun each rank quantizes onto its own GPU.
        local = os.environ.get("LOCAL_RANK")
        if device == "cuda" and local is not None:
            device = f"cuda:{local}"
        extra["device_map"] = {"": device}
    model = load_base(base, dtype=dtype, **extra)
    model.config.use_cache = False
    if options.liger:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model)
        log.info("Liger kernels applied to the %s model", model.config.model_type)
    checkpointing = bool(options.gradient_checkpointing)
    if options.quantize == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif checkpointing:
        model.enable_input_require_grads()
    model = lora_model(model, options)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if place and options.quantize != "4bit":
        model.to(device)
    return model


def make_optimizer(model: Any, options: LlmFitOptions, device: str) -> Any:
    """AdamW over the trainable parameters; fused into one kernel on a GPU."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    fused = options.fused_optimizer and device.split(":")[0] == "cuda"
    if fused:
        return torch.optim.AdamW(params, lr=options.learning_rate, fused=True)
    return torch.optim.AdamW(params, lr=options.learning_rate)
