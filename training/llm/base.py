"""The base model: which one (a store id, a Hugging Face folder, a GGUF file), and loading
it with transformers, offline."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TrainError

if TYPE_CHECKING:
    from assistant.store import ModelStore

__all__ = [
    "DEFAULT_BASE",
    "load_base",
    "load_tokenizer",
    "model_config",
    "model_type",
    "offline",
    "resolve_base",
]

log = logging.getLogger(__name__)

DEFAULT_BASE = "smollm2-135m-instruct"
"""The embedded default language model (a GGUF that transformers dequantizes)."""


def offline() -> None:
    """Forbid every hub access of transformers / huggingface_hub in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve_base(spec: str | None, store: ModelStore) -> Path:
    """The base model's path: a folder with ``config.json``, or a ``.gguf`` file.

    ``spec`` is a path, or an id of the model store (the embedded default, a pulled or
    trained model). A catalog id that is not installed fails with the command that
    pulls it: training never downloads on its own.
    """
    spec = spec or DEFAULT_BASE
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainError(
                f"{path} is not a Hugging Face model folder (no config.json)",
                hint="give a folder saved with save_pretrained, a .gguf file, or a model id",
            )
        return path.absolute()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise TrainError(
                f"{path} is neither a .gguf file nor a model folder",
                hint="give a folder saved with save_pretrained, a .gguf file, or a model id",
            )
        return path.absolute()
    if os.sep in spec or spec.endswith(".gguf"):
        raise TrainError(f"no such base model: {path}")
    return store.resolve("llm", spec).path


def _from_pretrained(cls: Any, base: Path, **kwargs: Any) -> Any:
    offline()
    if base.is_file():
        kwargs["gguf_file"] = base.name
        base = base.parent
    try:
        return cls.from_pretrained(str(base), local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise TrainError(
            f"transformers cannot load the base model {base}: {exc}",
            hint="the base must be a Llama-family or Qwen2 model (folder or GGUF)",
        ) from exc


def load_tokenizer(base: Path) -> Any:
    """The base's tokenizer, with a padding token (the end-of-sequence one if it has
    none)."""
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, Path(base))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(base: Path, dtype: Any = None, **extra: Any) -> Any:
    """The base model as a transformers causal LM (a GGUF is dequantized); ``extra``
    goes to ``from_pretrained`` (``attn_implementation``, ``quantization_config``...)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = _from_pretrained(
        AutoModelForCausalLM, Path(base), dtype=dtype or torch.float32, **extra
    )
    if Path(base).is_file():
        # A GGUF is dequantized into ordinary float tensors while loading; only the
        # bookkeeping still calls it quantized, which would stop the Trainer and put a
        # quantization_config into the merged model's config.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        for module in model.modules():
            if getattr(getattr(module, "config", None), "_is_quantized", False):
                module.config._is_quantized = False
    log.info("loaded base %s (%s)", base, model.config.model_type)
    return model


def model_config(base: Path) -> Any:
    """The base's transformers config, without loading weights."""
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, Path(base))


def model_type(base: Path) -> str:
    """The base's architecture (``llama``, ``qwen2``, ...) without loading weights."""
    return str(model_config(base).model_type)
