"""Sentence embeddings: all-MiniLM-L6-v2 run with numpy, no torch.

The model is a 6-layer BERT encoder (hidden size 384). Its weights (safetensors) and
tokenizer (``tokenizer.json``) come from the embedded default's package, as a
``model.zip`` or an unpacked folder. Tokenising uses the ``tokenizers`` library that the
runtime already has (faster-whisper needs it), so the token ids are exactly those of
the reference; the encoder is a few matrix products per layer in float32, then mean
pooling over the real tokens and L2 normalisation, as sentence-transformers does.

``tests/test_knowledge_embedder.py`` checks it against transformers/torch (the train
extra) on a fixed sentence set: cosine >= 0.999.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import struct
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["DIMENSIONS", "Embedder", "MiniLMEmbedder", "load_embedder"]

log = logging.getLogger(__name__)

DIMENSIONS = 384
"""The length of an all-MiniLM-L6-v2 vector."""

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


class Embedder:
    """Turns texts into unit-length vectors (cosine similarity = dot product)."""

    model_id: str = ""
    dimensions: int = DIMENSIONS

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``len(texts) x dimensions`` float32 array, each row of length 1."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Config:
    layers: int
    heads: int
    hidden: int
    eps: float
    max_tokens: int


def _read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (8-byte header length, JSON header, raw data)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] in ("I64", "I32"):
            continue  # position_ids: a buffer, not a weight
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelError(f"embedding model tensor {name} has unsupported type {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize,
                              offset=base + start)  # fmt: skip
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)
    return tensors


class _Files:
    """The model's files from a folder or from the package's ``model.zip``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
        elif path.is_dir() and (path / "model.zip").is_file():
            self._zip = zipfile.ZipFile(path / "model.zip")

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self.path / name).read_bytes()
        except (KeyError, OSError) as exc:
            raise ModelError(
                f"the embedding model {self.path} lacks {name}",
                hint="reinstall it (`assistant models list` shows where it comes from)",
            ) from exc

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # The exact (erf) GELU that BERT uses, not the tanh approximation.
    return np.float32(0.5) * x * (np.float32(1.0) + _erf(x * np.float32(1.0 / math.sqrt(2.0))))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf with a relative error below 1.2e-7 (the Chebyshev fit of erfc in Numerical
    Recipes), vectorised: float32-exact for what the encoder needs."""
    z = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.5) * z)
    poly = np.float32(0.17087277)
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
              0.09678418, 0.37409196, 1.00002368, -1.26551223):  # fmt: skip
        poly = poly * t + np.float32(c)
    erfc = t * np.exp(-z * z + poly)
    return np.where(x >= 0, np.float32(1.0) - erfc, erfc - np.float32(1.0)).astype(np.float32)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (or another BERT sentence encoder of the same layout).

    Args:
        path: the package's ``model.zip``, or a folder with ``model.safetensors``,
            ``config.json`` and ``tokenizer.json``.
        model_id: the catalog id, recorded with the vectors.
        batch_size: texts per forward pass.
        threads: BLAS threads while embedding. One by default: the encoder's products
            are small, and OpenBLAS's threads spin while they wait, so on a machine busy
            with the other engines (or other programs) two threads made a question's
            embedding 25-60 times slower than one (2.4 s against 40 ms, measured on the
            shared 2-core development machine; `assistant bench docs`).
    """

    def __init__(
        self,
        path: Path,
        model_id: str = "all-minilm-l6-v2",
        batch_size: int = 32,
        threads: int = 1,
    ):
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        self.model_id = model_id
        self.batch_size = batch_size
        self.threads = threads
        self._blas = ThreadpoolController()
        self._lock = threading.Lock()
        files = _Files(Path(path))
        try:
            config = json.loads(files.read("config.json"))
            max_tokens = 256
            with contextlib.suppress(ModelError):
                st_config = json.loads(files.read("sentence_bert_config.json"))
                max_tokens = int(st_config["max_seq_length"])
            self._config = _Config(
                layers=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                hidden=int(config["hidden_size"]),
                eps=float(config.get("layer_norm_eps", 1e-12)),
                max_tokens=min(max_tokens, int(config.get("max_position_embeddings", 512))),
            )
            self.dimensions = self._config.hidden
            self._tokenizer = Tokenizer.from_str(files.read("tokenizer.json").decode("utf-8"))
            weights = _read_safetensors(files.read("model.safetensors"))
        except (ValueError, KeyError) as exc:
            raise ModelError(
                f"the embedding model {path} is not a BERT sentence encoder: {exc}"
            ) from exc
        finally:
            files.close()
        self._tokenizer.enable_truncation(max_length=self._config.max_tokens)
        self._tokenizer.no_padding()
        self._w = self._prepare(weights)

    def _prepare(self, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def get(name: str) -> np.ndarray:
            try:
                return weights[prefix + name]
            except KeyError as exc:
                raise ModelError(f"the embedding model lacks the tensor {prefix + name}") from exc

        w = {
            "word": get("embeddings.word_embeddings.weight"),
            "pos": get("embeddings.position_embeddings.weight"),
            "type": get("embeddings.token_type_embeddings.weight"),
            "emb_ln_w": get("embeddings.LayerNorm.weight"),
            "emb_ln_b": get("embeddings.LayerNorm.bias"),
        }
        for i in range(self._config.layers):
            p = f"encoder.layer.{i}."
            # Q, K and V in one matrix: one product instead of three.
            w[f"{i}.qkv_w"] = np.ascontiguousarray(np.concatenate(
                [get(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]
            ).T)  # fmt: skip
            w[f"{i}.qkv_b"] = np.concatenate(
                [get(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]
            )
            w[f"{i}.out_w"] = np.ascontiguousarray(get(p + "attention.output.dense.weight").T)
            w[f"{i}.out_b"] = get(p + "attention.output.dense.bias")
            w[f"{i}.ln1_w"] = get(p + "attention.output.LayerNorm.weight")
            w[f"{i}.ln1_b"] = get(p + "attention.output.LayerNorm.bias")
            w[f"{i}.up_w"] = np.ascontiguousarray(get(p + "intermediate.dense.weight").T)
            w[f"{i}.up_b"] = get(p + "intermediate.dense.bias")
            w[f"{i}.down_w"] = np.ascontiguousarray(get(p + "output.dense.weight").T)
            w[f"{i}.down_b"] = get(p + "output.dense.bias")
            w[f"{i}.ln2_w"] = get(p + "output.LayerNorm.weight")
            w[f"{i}.ln2_b"] = get(p + "output.LayerNorm.bias")
        return w

    def token_count(self, text: str) -> int:
        """Tokens the model sees for ``text`` (after truncation), [CLS] and [SEP] included."""
        return len(self._tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with self._lock, self._blas.limit(limits=self.threads, user_api="blas"):
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                out[chunk] = self._forward([encodings[i].ids for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        cfg, w = self._config, self._w
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = w["word"][ids] + w["pos"][:length][None, :, :] + w["type"][0][None, None, :]
        x = _layer_norm(x, w["emb_ln_w"], w["emb_ln_b"], cfg.eps)
        heads, dim = cfg.heads, cfg.hidden // cfg.heads
        scale = np.float32(1.0 / math.sqrt(dim))
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        x = x.reshape(n * length, cfg.hidden)  # 2-D: one BLAS product per weight
        for i in range(cfg.layers):
            qkv = x @ w[f"{i}.qkv_w"] + w[f"{i}.qkv_b"]
            # (3, n, heads, length, dim), contiguous: batched products stay in BLAS.
            qkv = np.ascontiguousarray(
                qkv.reshape(n, length, 3, heads, dim).transpose(2, 0, 3, 1, 4)
            )
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q * scale) @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, cfg.hidden)
            attn = context @ w[f"{i}.out_w"] + w[f"{i}.out_b"]
            x = _layer_norm(x + attn, w[f"{i}.ln1_w"], w[f"{i}.ln1_b"], cfg.eps)
            hidden = _gelu(x @ w[f"{i}.up_w"] + w[f"{i}.up_b"])
            x = _layer_norm(x + hidden @ w[f"{i}.down_w"] + w[f"{i}.down_b"],
                            w[f"{i}.ln2_w"], w[f"{i}.ln2_b"], cfg.eps)  # fmt: skip
        x = x.reshape(n, length, cfg.hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


_CACHE: dict[tuple[str, str], MiniLMEmbedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(path: Path, model_id: str) -> MiniLMEmbedder:
    """The embedder for the model at ``path``, loaded once per process."""
    key = (str(path), model_id)
    with _CACHE_LOCK:
        if key not in _CACHE:
            log.info("loading embedding model %s from %s", model_id, path)
            _CACHE[key] = MiniLMEmbedder(path, model_id)
        return _CACHE[key]
