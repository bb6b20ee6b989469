"""ONNX export of a merged model, for the runtime's onnxruntime backend.

optimum's ONNX exporter lives in ``optimum-onnx`` now; its newest release (0.1.0) needs
``transformers<4.58`` and ``optimum~=2.1``, and this project runs transformers 5 with
optimum 2.3, so it cannot be used. The export is therefore our own: the decoder written
out in plain tensor operations (the Llama / Qwen2 forward pass with an explicit KV cache
as inputs and outputs), traced by ``torch.onnx.export``, checked against transformers,
then quantized to int8 by onnxruntime's dynamic quantization.

Graph inputs: ``input_ids`` (1, T) int64, ``position_ids`` (1, T) int64 and for each
layer ``past_key_<i>`` / ``past_value_<i>`` (1, kv_heads, P, head_dim) float32.
Outputs: ``logits`` (1, vocab) of the last position, and ``present_key_<i>`` /
``present_value_<i>`` (1, kv_heads, P + T, head_dim).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_write_text, replace_dir

from .errors import ExportError
from .gguf_export import _rope, check_supported, read_config

__all__ = ["CONFIG_NAME", "export_onnx"]

log = logging.getLogger(__name__)

CONFIG_NAME = "onnx_config.json"


def _decoder(config: dict[str, Any], weights: dict[str, Any]) -> Any:
    """A torch module computing the model's forward pass with an explicit KV cache."""
    import torch
    from torch import nn

    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("rms_norm_eps", 1e-6))
    theta = _rope(config)[0]
    tied = bool(config.get("tie_word_embeddings", False))

    # Rotary inverse frequencies, (head_dim / 2,): a constant of the graph.
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.ParameterDict(
                {
                    k.replace(".", "__"): nn.Parameter(v, requires_grad=False)
                    for k, v in weights.items()
                }
            )

        def p(self, name: str) -> Any:
            return self.w[name.replace(".", "__")]

        def norm(self, x: Any, name: str) -> Any:
            variance = x.pow(2).mean(-1, keepdim=True)
            return x * torch.rsqrt(variance + eps) * self.p(name)

        def linear(self, x: Any, name: str) -> Any:
            out = x @ self.p(f"{name}.weight").t()
            bias = f"{name}.bias".replace(".", "__")
            return out + self.w[bias] if bias in self.w else out

        def forward(self, input_ids: Any, position_ids: Any, *past: Any) -> Any:
            x = nn.functional.embedding(input_ids, self.p("model.embed_tokens.weight"))
            # Rotary tables: (1, 1, T, head_dim), halves layout as transformers uses.
            freqs = position_ids.to(torch.float32)[:, :, None] * inv_freq[None, None, :]
            emb = torch.cat([freqs, freqs], dim=-1)[:, None]
            cos, sin = emb.cos(), emb.sin()
            steps = input_ids.shape[1]
            presents = []
            for i in range(layers):
                pre = f"model.layers.{i}"
                h = self.norm(x, f"{pre}.input_layernorm.weight")
                # (1, T, heads*hd) -> (1, heads, T, hd)
                q = self.linear(h, f"{pre}.self_attn.q_proj").view(1, steps, heads, head_dim)
                k = self.linear(h, f"{pre}.self_attn.k_proj").view(1, steps, kv_heads, head_dim)
                v = self.linear(h, f"{pre}.self_attn.v_proj").view(1, steps, kv_heads, head_dim)
                q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
                q = q * cos + _rotate_half(q) * sin
                k = k * cos + _rotate_half(k) * sin
                k = torch.cat([past[2 * i], k], dim=2)  # (1, kv_heads, P+T, hd)
                v = torch.cat([past[2 * i + 1], v], dim=2)
                presents += [k, v]
                group = heads // kv_heads
                k_all = k.repeat_interleave(group, dim=1)  # (1, heads, P+T, hd)
                v_all = v.repeat_interleave(group, dim=1)
                scores = (q @ k_all.transpose(2, 3)) / math.sqrt(head_dim)  # (1, heads, T, P+T)
                total = k_all.shape[2]
                keys = torch.arange(total, device=x.device)
                queries = torch.arange(steps, device=x.device) + (total - steps)
                blocked = keys[None, :] > queries[:, None]  # (T, P+T): no looking ahead
                scores = scores.masked_fill(blocked, torch.finfo(torch.float32).min)
                attn = torch.softmax(scores, dim=-1) @ v_all  # (1, heads, T, hd)
                attn = attn.transpose(1, 2).reshape(1, steps, heads * head_dim)
                x = x + self.linear(attn, f"{pre}.self_attn.o_proj")
                h = self.norm(x, f"{pre}.post_attention_layernorm.weight")
                gate = nn.functional.silu(self.linear(h, f"{pre}.mlp.gate_proj"))
                up = self.linear(h, f"{pre}.mlp.up_proj")
                x = x + self.linear(gate * up, f"{pre}.mlp.down_proj")
            x = self.norm(x[:, -1], "model.norm.weight")  # (1, hidden), last position only
            head = "model.embed_tokens.weight" if tied else "lm_head.weight"
            return (x @ self.p(head).t(), *presents)

    return Decoder().eval(), (layers, kv_heads, head_dim)


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def export_onnx(merged: Path, target: Path, *, quantize: bool = True) -> Path:
    """Export the Hugging Face model in ``merged`` to ``target/`` (``model.onnx`` int8,
    ``tokenizer.json``, ``onnx_config.json``); the folder is replaced atomically."""
    import torch
    from safetensors.torch import load_file

    config = read_config(merged)
    check_supported(config, str(merged))
    if _rope(config)[1] is not None:
        raise ExportError(
            f"{merged} uses rope scaling; the ONNX export supports plain rotary embeddings",
            hint="use the GGUF export for this model",
        )
    if not (merged / "tokenizer.json").is_file():
        raise ExportError(f"{merged} has no tokenizer.json")
    weights: dict[str, Any] = {}
    for file in sorted(merged.glob("*.safetensors")):
        weights.update({k: v.float() for k, v in load_file(str(file)).items()})
    model, (layers, kv_heads, head_dim) = _decoder(config, weights)
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ids = torch.tensor([[1, 2, 3]], dtype=torch.int64)
        past = [torch.zeros(1, kv_heads, 2, head_dim) for _ in range(2 * layers)]
        names_past = [f"past_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]
        names_present = [f"present_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]
        axes: dict[str, dict[int, str]] = {"input_ids": {1: "steps"}, "position_ids": {1: "steps"}}
        axes.update({n: {2: "past"} for n in names_past})
        axes.update({n: {2: "total"} for n in names_present})
        fp32 = tmp / "model.fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model,
                (ids, torch.tensor([[2, 3, 4]]), *past),
                str(fp32),
                input_names=["input_ids", "position_ids", *names_past],
                output_names=["logits", *names_present],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        _check_against_transformers(merged, model, fp32, layers, kv_heads, head_dim)
        main = tmp / "model.onnx"
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(main), weight_type=QuantType.QInt8)
            fp32.unlink()
        else:
            fp32.rename(main)
        shutil.copy2(merged / "tokenizer.json", tmp / "tokenizer.json")
        tokenizer_config = json.loads((merged / "tokenizer_config.json").read_text("utf-8"))
        template = tokenizer_config.get("chat_template")
        jinja = merged / "chat_template.jinja"
        if template is None and jinja.is_file():
            template = jinja.read_text(encoding="utf-8")
        eos = config.get("eos_token_id")
        atomic_write_text(
            tmp / CONFIG_NAME,
            json.dumps(
                {
                    "layers": layers,
                    "kv_heads": kv_heads,
                    "head_dim": head_dim,
                    "context_length": int(config.get("max_position_embeddings", 2048)),
                    "eos_token_ids": eos if isinstance(eos, list) else [eos],
                    "bos_token": _token_text(tokenizer_config.get("bos_token")),
                    "eos_token": _token_text(tokenizer_config.get("eos_token")),
                    "chat_template": template,
                    "quantized": "int8" if quantize else "fp32",
                },
                indent=2,
            ),
        )
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target / "model.onnx"


def _token_text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _check_against_transformers(
    merged: Path, model: Any, onnx_path: Path, layers: int, kv_heads: int, head_dim: int
) -> None:
    """The traced graph must give transformers' logits (a wrong graph fails the export)."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(str(merged), local_files_only=True).eval()
    ids = torch.arange(10, 30, dtype=torch.int64)[None]
    with torch.no_grad():
        expected = reference(input_ids=ids).logits[0, -1].numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds: dict[str, Any] = {
        "input_ids": ids.numpy(),
        "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None],
    }
    for i in range(layers):
        for kind in ("key", "value"):
            feeds[f"past_{kind}_{i}"] = np.zeros((1, kv_heads, 0, head_dim), np.float32)
    got = session.run(["logits"], feeds)[0][0]
    if not np.allclose(got, expected, atol=1e-2, rtol=1e-3):
        raise ExportError(
            f"the ONNX graph of {merged} does not reproduce transformers' logits "
            f"(largest difference {np.abs(got - expected).max():.4f})"
        )
