"""Helpers for the LLM-training tests: tiny random Llama / Qwen2 models built from config
(with SmolLM2's real tokenizer), the real SmolLM2 as a Hugging Face folder, logits from
both transformers and llama.cpp, and a generated dataset that teaches a made-up name."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np

FIXED_TEXT = (
    "The old lighthouse keeper climbed the spiral stairs every evening at dusk. "
    "He lit the great lamp, wound the clockwork that turned the lens, and wrote the "
    "weather in his logbook: wind from the north-east, 14 knots, light rain. Ships "
    "passed far out at sea, their lights blinking like slow stars. In 1897 a storm "
    "broke three windows, and he repaired them with wood from a wrecked schooner."
)
"""The text whose next-token logits are compared (English prose with digits)."""

NAME = "Quorbin"
"""The made-up name the 'it learns' dataset teaches."""


def smollm_tokenizer(gguf_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, local_files_only=True
    )


def tiny_model(kind: str, folder: Path, gguf_path: Path, seed: int = 0) -> Path:
    """A random 2-layer ``llama`` or ``qwen2`` model (dims multiples of 256 so K-quants
    apply) saved with SmolLM2's tokenizer into ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    common = dict(
        vocab_size=49152,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        # Wider than the usual 0.02 so the logits are spread out: a random model's
        # top-1 must not hinge on the last bits of precision.
        initializer_range=0.08,
        bos_token_id=1,
        eos_token_id=2,
    )
    if kind == "llama":
        config: Any = LlamaConfig(**common, tie_word_embeddings=True)
    else:
        config = Qwen2Config(**common, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if kind == "qwen2":
        # Random biases, so the bias tensors are really exercised.
        with torch.no_grad():
            for layer in model.model.layers:
                attention = layer.self_attn
                for proj in (attention.q_proj, attention.k_proj, attention.v_proj):
                    proj.bias.normal_(0, 0.5)
    with torch.no_grad():
        # Weights exactly representable in F16, so the parity tests compare the layout
        # of the GGUF, not the rounding of random weights.
        for param in model.parameters():
            param.copy_(param.half().float())
    model.save_pretrained(str(folder))
    smollm_tokenizer(gguf_path).save_pretrained(str(folder))
    return folder


def smollm_folder(gguf_path: Path, folder: Path) -> Path:
    """The embedded SmolLM2 GGUF, dequantized by transformers, as a Hugging Face folder."""
    from training.llm.base import load_base, load_tokenizer

    load_base(gguf_path).save_pretrained(str(folder))
    load_tokenizer(gguf_path).save_pretrained(str(folder))
    return folder


def hf_logits(folder: Path, ids: list[int]) -> np.ndarray:
    """(len(ids), vocab) next-token logits of the Hugging Face model in ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float().numpy()


def llama_logits(gguf: Path, ids: list[int]) -> np.ndarray:
    """(len(ids), vocab) next-token logits of llama.cpp on ``gguf``."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(gguf), n_ctx=512, logits_all=True, n_threads=2, verbose=False
    )
    llm.eval(ids)
    scores = np.array(llm.scores[: len(ids)], dtype=np.float32)
    llm.close()
    return scores


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a.argmax(-1) == b.argmax(-1)).mean())


def name_dataset(path: Path, count: int = 32, seed: int = 0) -> Path:
    """Conversations teaching that the assistant's name is :data:`NAME`, plus a few
    general ones so it does not answer everything with it."""
    questions = [
        "What is your name?", "What's your name?", "Who are you?", "Tell me your name.",
        "How should I call you?", "What do people call you?", "Do you have a name?",
        "Introduce yourself.", "What are you called?", "May I know your name?",
    ]  # fmt: skip
    answers = [
        "My name is {n}.", "I am {n}, your voice assistant.", "I'm {n}.",
        "You can call me {n}.", "My name is {n}, nice to meet you.",
    ]  # fmt: skip
    general = [
        ("What is the capital of France?", "The capital of France is Paris."),
        ("What is two plus two?", "Two plus two is four."),
        ("What colour is the sky?", "The sky is blue on a clear day."),
        ("Name a fruit.", "An apple is a fruit."),
    ]
    rng = random.Random(seed)
    rows = []
    pairs = [(rng.choice(questions), rng.choice(answers).format(n=NAME)) for _ in range(count)]
    for q, a in pairs + general:
        rows.append(
            {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
