"""A second chat-model engine: an ONNX decoder (exported by ``assistant train llm export
--onnx``) run by onnxruntime, with the ``tokenizers`` library and the model's Jinja chat
template. No torch, no transformers.

The folder holds ``model.onnx`` (inputs ``input_ids``, ``position_ids`` and the KV cache
``past_key_<i>`` / ``past_value_<i>``; outputs the last position's ``logits`` and the
grown cache ``present_*``), ``tokenizer.json`` and ``onnx_config.json``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError, ModelLoadError
from .base import GenerationOptions, Message

__all__ = ["OnnxChatModel"]

log = logging.getLogger(__name__)

_CONFIG = "onnx_config.json"


class OnnxChatModel:
    """A chat model on an exported ONNX decoder.

    Args:
        folder: the export folder (``model.onnx``, ``tokenizer.json``,
            ``onnx_config.json``), or its ``model.onnx``.
        context_size: context window in tokens (at most the model's).
        threads: onnxruntime intra-op threads, 0 = its default.
        seed: sampling seed used when a call gives none (-1 = random).
    """

    def __init__(
        self, folder: Path, *, context_size: int = 2048, threads: int = 0, seed: int = -1
    ) -> None:
        folder = Path(folder)
        if folder.suffix == ".onnx":
            folder = folder.parent
        for name in ("model.onnx", "tokenizer.json", _CONFIG):
            if not (folder / name).is_file():
                raise ModelLoadError(folder / name, "missing from the ONNX language model")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self._config: dict[str, Any] = json.loads((folder / _CONFIG).read_text("utf-8"))
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            self._session = ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except (OSError, ValueError, RuntimeError, Exception) as exc:
            raise ModelLoadError(folder, f"onnxruntime cannot load it: {exc}") from exc
        self.folder = folder
        self.context_size = min(context_size, int(self._config["context_length"]))
        self._seed = seed
        self._eos = {int(t) for t in self._config["eos_token_ids"] if t is not None}
        self._template = _compile_template(self._config.get("chat_template"))
        self._outputs = [o.name for o in self._session.get_outputs()]
        log.info("ONNX language model %s loaded", folder)

    @property
    def name(self) -> str:
        return self.folder.name

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text: the model's chat template applied."""
        dicts = [m.to_dict() for m in messages]
        if self._template is None:
            return (
                "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in dicts)
                + "<|im_start|>assistant\n"
            )
        return str(
            self._template.render(
                messages=dicts,
                add_generation_prompt=True,
                bos_token=self._config.get("bos_token", ""),
                eos_token=self._config.get("eos_token", ""),
            )
        )

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Exact prompt length: the chat template applied, then tokenized."""
        return len(self._encode(self.render_prompt(messages)))

    def _empty_cache(self) -> dict[str, np.ndarray]:
        shape = (1, int(self._config["kv_heads"]), 0, int(self._config["head_dim"]))
        return {
            f"past_{kind}_{i}": np.zeros(shape, np.float32)
            for i in range(int(self._config["layers"]))
            for kind in ("key", "value")
        }

    def _step(
        self, ids: list[int], start: int, cache: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits after ``ids`` (placed at positions ``start``...), and the grown cache."""
        feeds = {
            "input_ids": np.array([ids], dtype=np.int64),
            "position_ids": np.arange(start, start + len(ids), dtype=np.int64)[None],
            **cache,
        }
        out = self._session.run(self._outputs, feeds)
        grown = {
            name.replace("present_", "past_"): value
            for name, value in zip(self._outputs[1:], out[1:], strict=True)
        }
        return out[0][0], grown

    def generate_ids(
        self, prompt: list[int], options: GenerationOptions, cancel: threading.Event | None
    ) -> Iterator[int]:
        """Token ids of the reply, one at a time."""
        if len(prompt) + 1 > self.context_size:
            raise EngineError(
                f"the prompt ({len(prompt)} tokens) does not fit the context of "
                f"{self.context_size} tokens",
                hint="shorten it, or raise llm.context_size in the config",
            )
        seed = options.seed if options.seed is not None else self._seed
        rng = np.random.default_rng(None if seed is None or seed < 0 else seed)
        logits, cache = self._step(prompt, 0, self._empty_cache())
        position = len(prompt)
        limit = min(options.max_tokens, self.context_size - position)
        for _ in range(limit):
            if cancel is not None and cancel.is_set():
                return
            token = _pick(logits, options.temperature, options.top_p, rng)
            if token in self._eos:
                return
            yield token
            logits, cache = self._step([token], position, cache)
            position += 1

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text deltas of the reply; stops at the end-of-turn token, ``max_tokens``,
        a stop string, or once ``cancel`` is set."""
        options = options or GenerationOptions()
        prompt = self._encode(self.render_prompt(messages))
        generated: list[int] = []
        sent = ""
        for token in self.generate_ids(prompt, options, cancel):
            generated.append(token)
            text = self._tokenizer.decode(generated, skip_special_tokens=True)
            if text.endswith("\ufffd"):
                continue  # half of a multi-byte character: wait for the rest
            cut = _stop_at(text, options.stop)
            if cut is not None:
                if cut > len(sent):
                    yield text[len(sent) : cut]
                return
            if len(text) > len(sent):
                yield text[len(sent) :]
                sent = text

    def decode_speed(self, prompt: str, tokens: int) -> tuple[int, float]:
        """(tokens decoded, tokens/s) greedily on a plain prompt, the end-of-turn token
        ignored and the prompt's own pass excluded (a warm-up run goes first)."""
        ids = self._encode(prompt)
        for _ in self.generate_ids(ids, GenerationOptions(max_tokens=4, temperature=0.0), None):
            pass
        count, first, end = 0, 0.0, 0.0
        options = GenerationOptions(max_tokens=tokens, temperature=0.0)
        eos, self._eos = self._eos, set()
        try:
            for _ in self.generate_ids(ids, options, None):
                count += 1
                end = time.perf_counter()
                if count == 1:
                    first = end
        finally:
            self._eos = eos
        decoded = max(count - 1, 0)
        return decoded, decoded / (end - first) if decoded and end > first else 0.0


def _pick(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else nucleus sampling."""
    if temperature <= 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p) + 1)]
    kept = probs[keep] / probs[keep].sum()
    return int(rng.choice(keep, p=kept))


def _stop_at(text: str, stops: Sequence[str]) -> int | None:
    found = [text.find(s) for s in stops if s and s in text]
    return min(found) if found else None


def _compile_template(source: str | None) -> Any:
    if not source:
        return None
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise EngineError(f"the chat template refused the conversation: {message}")

    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)
