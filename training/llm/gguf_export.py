"""This project's GGUF writer: a merged Hugging Face model folder -> an F16 GGUF file.

Built on the ``gguf`` package (the file format), with our own mapping of the supported
architectures: Llama family (Llama, Mistral, SmolLM2) and Qwen2. What llama.cpp expects
differs from the Hugging Face layout in three places, handled here:

- tensor names (``model.layers.3.self_attn.q_proj.weight`` -> ``blk.3.attn_q.weight``);
- Llama's rotary embedding: Hugging Face rotates the two halves of each head
  (``rotate_half``), llama.cpp rotates adjacent pairs, so the rows of ``q_proj`` and
  ``k_proj`` are permuted per head (Qwen2 uses the half layout in llama.cpp too: no
  permutation);
- tied embeddings: no ``output.weight``; llama.cpp reuses ``token_embd.weight``.

The file is written beside its final name and renamed when complete, and everything is
checked before the first byte is written, so an unsupported model leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ExportError
from .gguf_vocab import Vocab

__all__ = ["ARCHITECTURES", "check_supported", "write_gguf"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Arch:
    gguf_name: str
    """``general.architecture`` in llama.cpp."""
    permute_qk: bool
    """Whether q/k rows go from the half-rotation layout to the pairwise one."""
    biases: bool
    """Whether q/k/v projections carry biases."""


ARCHITECTURES: dict[str, _Arch] = {
    "llama": _Arch("llama", permute_qk=True, biases=False),
    "mistral": _Arch("llama", permute_qk=True, biases=False),
    "qwen2": _Arch("qwen2", permute_qk=False, biases=True),
}
"""Hugging Face ``model_type`` -> how to write it."""

_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_SKIPPED = ("rotary_emb.inv_freq",)


def read_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a model folder."""
    path = Path(folder) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ExportError(f"{path} is not a JSON object")
    return data


def check_supported(config: dict[str, Any], where: str = "the model") -> _Arch:
    """The writer for ``config``'s architecture, or :class:`ExportError` naming the
    supported ones."""
    model_type = config.get("model_type")
    arch = ARCHITECTURES.get(str(model_type))
    if arch is None:
        raise ExportError(
            f"{where} is a {model_type!r} model; GGUF export supports "
            f"{', '.join(sorted(ARCHITECTURES))}",
            hint="fine-tune a Llama-family or Qwen2 base (e.g. the default SmolLM2), "
            "or use the ONNX export for this model",
        )
    _, kind, _ = _rope(config)
    if kind not in (None, "linear", "llama3"):
        raise ExportError(
            f"{where} uses rope scaling {kind!r}, which the GGUF export does not write",
            hint="supported: none, linear, llama3",
        )
    return arch


def _rope(config: dict[str, Any]) -> tuple[float, str | None, dict[str, Any]]:
    """(theta, scaling type, scaling parameters): transformers 5 keeps them in
    ``rope_parameters``, 4.x in ``rope_theta`` and ``rope_scaling``."""
    params = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    theta = float(config.get("rope_theta") or params.get("rope_theta") or 10000.0)
    kind = params.get("rope_type", params.get("type"))
    return theta, None if kind == "default" else kind, params


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    # (heads * head_dim, in) with each head as [first half | second half] of the rotary
    # pairs -> each head as interleaved pairs (x0, x_half, x1, x_half+1, ...).
    rows, cols = weights.shape
    head_dim = rows // heads
    return weights.reshape(heads, 2, head_dim // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def _tensors(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, float32 array) of every tensor in the folder's safetensors files."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise ExportError(f"{folder} holds no .safetensors weights")
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                yield name, handle.get_tensor(name).float().numpy()


def _gguf_name(hf_name: str, layers: int) -> str | None:
    if hf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[hf_name]
    if hf_name.endswith(_SKIPPED):
        return None
    parts = hf_name.split(".", 3)
    if len(parts) == 4 and parts[:2] == ["model", "layers"] and parts[2].isdigit():
        index = int(parts[2])
        suffix = _LAYER_TENSORS.get(parts[3])
        if suffix is not None and index < layers:
            return f"blk.{index}.{suffix}"
    raise ExportError(
        f"unexpected tensor {hf_name!r}: the model does not match its architecture's layout",
        hint="merge the adapter first (export does) and keep the standard layer names",
    )


def _llama3_rope_factors(config: dict[str, Any], head_dim: int) -> np.ndarray:
    # Llama 3.1's frequency-dependent rope scaling, as llama.cpp reads it (rope_freqs).
    base, _, scaling = _rope(config)
    factor = float(scaling.get("factor", 8.0))
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    freqs = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    out = []
    for freq in freqs:
        wavelength = 2 * math.pi / freq
        if wavelength < old_context / high:
            out.append(1.0)
        elif wavelength > old_context / low:
            out.append(factor)
        else:
            smooth = (old_context / wavelength - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


def write_gguf(folder: Path, out: Path, vocab: Vocab, name: str = "") -> Path:
    """Write the model in ``folder`` (config.json + safetensors) as an F16 GGUF ``out``.

    Norms and biases stay F32 (as llama.cpp's converter keeps them); every matrix is F16.

    Raises:
        ExportError: unsupported architecture or unexpected tensors; nothing is written.
    """
    import gguf

    folder, out = Path(folder), Path(out)
    config = read_config(folder)
    arch = check_supported(config, str(folder))
    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    vocab_size = int(config["vocab_size"])
    tied = bool(config.get("tie_word_embeddings", False))
    vocab = vocab.padded(vocab_size)

    # Map (and check) every tensor before writing anything.
    planned: list[tuple[str, str]] = []
    from safetensors import safe_open

    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for hf_name in handle.keys():  # noqa: SIM118
                gguf_name = _gguf_name(hf_name, layers)
                if gguf_name is not None and not (tied and gguf_name == "output.weight"):
                    planned.append((hf_name, gguf_name))
    names = {g for _, g in planned}
    needed = {"token_embd.weight", "output_norm.weight"} | (set() if tied else {"output.weight"})
    needed |= {f"blk.{i}.{s}" for i in range(layers) for s in _LAYER_TENSORS.values()
               if arch.biases or not s.endswith(".bias")}  # fmt: skip
    missing = sorted(needed - names)
    if missing:
        raise ExportError(
            f"{folder} lacks tensor(s) {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
            hint="the weights are incomplete or of another architecture",
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch.gguf_name)
    try:
        _write_metadata(writer, arch, config, vocab, name or folder.name, head_dim)
        if _rope(config)[1] == "llama3":
            writer.add_tensor("rope_freqs.weight", _llama3_rope_factors(config, head_dim))
        wanted = dict(planned)
        for hf_name, array in _tensors(folder):
            gguf_name = wanted.get(hf_name)
            if gguf_name is None:
                continue
            if arch.permute_qk and gguf_name.endswith("attn_q.weight"):
                array = _permute(array, heads)
            elif arch.permute_qk and gguf_name.endswith("attn_k.weight"):
                array = _permute(array, kv_heads)
            # Matrices in F16; 1-D tensors (norms, biases) in F32 as llama.cpp wants.
            data = array.astype(np.float16 if array.ndim == 2 else np.float32)
            writer.add_tensor(gguf_name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d tensors)", out, len(planned))
    return out


def _write_metadata(
    writer: Any, arch: _Arch, config: dict[str, Any], vocab: Vocab, name: str, head_dim: int
) -> None:
    import gguf

    heads = int(config["num_attention_heads"])
    writer.add_name(name)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    theta, kind, scaling = _rope(config)
    writer.add_rope_freq_base(theta)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != int(config["hidden_size"]) // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    if arch.gguf_name == "llama":
        writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    writer.add_tokenizer_model(vocab.model)
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    if vocab.scores:
        writer.add_token_scores(vocab.scores)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    for key, token_id in vocab.special.items():
        if 0 <= token_id < len(vocab.tokens):
            writer.add_uint32(f"tokenizer.ggml.{key}_token_id", token_id)
    if vocab.add_bos is not None:
        writer.add_add_bos_token(vocab.add_bos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
