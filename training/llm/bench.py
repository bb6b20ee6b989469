"""``assistant train llm bench``: training throughput of our packed fit against a naive
padded baseline, and decode speed of the exported GGUFs (and the ONNX backend when an
ONNX export is at hand), all in the same run on the same model and data.

Training: the same LoRA model, optimizer and examples go through one epoch in each layout,
packed (our fit) and one example per row padded to the block length (the naive way),
their steps interleaved so machine load hits both alike; the figure is real
(non-padding) tokens per second, so the ratio is how much faster our layout learns the
same data. A warm-up step on each side is not timed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .data import Example
from .options import FitOptions

__all__ = ["BenchReport", "DecodeFigure", "TrainFigure", "decode_speed", "run_bench"]

log = logging.getLogger(__name__)

_PROMPT = "Write a long story about a lighthouse keeper and the sea, with many details."


@dataclass
class TrainFigure:
    """One training layout's throughput."""

    layout: str
    """``packed`` or ``padded``."""
    rows: int
    """Rows (blocks or padded examples) in the epoch."""
    row_length: int
    """Tokens per row."""
    real_tokens: int
    """Non-padding tokens in the epoch (the same for both layouts)."""
    seconds: float
    """Wall time of the epoch (warm-up step excluded)."""
    tokens_per_second: float
    """``real_tokens / seconds``."""


@dataclass
class DecodeFigure:
    """Decode speed of one exported model."""

    backend: str
    """``llama.cpp`` or ``onnxruntime``."""
    model: str
    """``Q4_K_M``, ``Q8_0``, ``F16``, ``ONNX int8`` ..."""
    tokens: int
    """Tokens generated after the first."""
    tokens_per_second: float
    """Decode speed (first token, i.e. the prompt, excluded)."""


@dataclass
class BenchReport:
    """Everything the bench measured."""

    base: str
    device: str
    examples: int
    train: list[TrainFigure] = field(default_factory=list)
    packing_speedup: float = 0.0
    """Packed tokens/s over padded tokens/s (goal: at least 1.5)."""
    decode: list[DecodeFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interleaved_epochs(
    model: Any, layouts: dict[str, list[dict[str, list[int]]]], batch_size: int, lr: float
) -> dict[str, float]:
    """Seconds of one optimizer pass over each layout's rows.

    The layouts' steps are interleaved in proportion (a padded epoch of 24 steps and a
    packed one of 12 alternate two to one), and each step is timed alone, so a busy
    machine slows both sides alike. One untimed warm-up step per layout goes first.
    """
    import torch

    from .fit import collate

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    batches = {
        name: [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
        for name, rows in layouts.items()
    }

    def step(batch: list[dict[str, list[int]]]) -> float:
        start = time.perf_counter()
        loss = model(**collate(batch)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    for name in batches:
        step(batches[name][0])
    schedule = sorted(
        ((index + 0.5) / len(parts), name, index)
        for name, parts in batches.items()
        for index in range(len(parts))
    )
    seconds = dict.fromkeys(batches, 0.0)
    for _, name, index in schedule:
        seconds[name] += step(batches[name][index])
    return seconds


def train_throughput(
    base: Path, examples: list[Example], options: FitOptions, say: Any = None
) -> tuple[TrainFigure, TrainFigure]:
    """(packed, padded) throughput of one epoch each, same model and data."""
    import torch

    from .base import load_base, load_tokenizer, offline
    from .fit import lora_model, tokenize_all
    from .tokens import pack, pad_each

    offline()
    torch.manual_seed(options.seed)
    tokenizer = load_tokenizer(base)
    items = tokenize_all(tokenizer, examples)
    length = options.seq_length
    real = sum(min(len(t.input_ids), length) for t in items)
    pad = int(tokenizer.pad_token_id)
    layouts = {
        "packed": pack(items, length, pad, seed=options.seed),
        "padded": pad_each(items, length, pad),
    }
    model = load_base(base)
    model.config.use_cache = False
    model = lora_model(model, options)
    model.train()
    if say is not None:
        say(
            "training one epoch of each layout, interleaved: "
            + ", ".join(
                f"{name} {len(rows)} rows of {length} tokens" for name, rows in layouts.items()
            )
        )
    seconds = _interleaved_epochs(model, layouts, options.batch_size, options.learning_rate)
    figures = [
        TrainFigure(name, len(rows), length, real, seconds[name], real / seconds[name])
        for name, rows in layouts.items()
    ]
    return figures[0], figures[1]


def _threads() -> int:
    # The same thread count for both engines (llama.cpp's default is half the cores,
    # onnxruntime's all of them).
    return os.cpu_count() or 1


def decode_speed(gguf: Path, label: str, tokens: int = 96) -> DecodeFigure:
    """llama.cpp decode tokens/s on ``gguf`` (greedy, the prompt's time excluded)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=512, n_threads=_threads(), verbose=False)
    # The end-of-sequence token is banned so every run decodes ``tokens`` tokens.
    no_eos = {int(llm.token_eos()): -1e9}
    try:
        llm.create_completion(_PROMPT, max_tokens=4, temperature=0)  # warm-up
        count, first = 0, 0.0
        for chunk in llm.create_completion(
            _PROMPT, max_tokens=tokens, temperature=0, stream=True, logit_bias=no_eos
        ):
            if chunk["choices"][0]["finish_reason"] is not None:  # type: ignore[index]
                break
            count += 1
            if count == 1:
                first = time.perf_counter()
        end = time.perf_counter()
    finally:
        llm.close()
    decoded = max(count - 1, 0)
    return DecodeFigure("llama.cpp", label, decoded, decoded / (end - first) if decoded else 0.0)


def export_base(base: Path, folder: Path, quants: list[str]) -> dict[str, Path]:
    """The base model through our exporter (F16 GGUF, then quantized), for decode figures
    when no fine-tuned run is given."""
    from .base import load_base, load_tokenizer
    from .export import gguf_from_folder
    from .quantize import quantize

    hf = folder / "hf"
    load_base(base).save_pretrained(str(hf))
    load_tokenizer(base).save_pretrained(str(hf))
    f16 = gguf_from_folder(hf, folder / "base.f16.gguf", base=base)
    out = {"F16": f16}
    for kind in quants:
        out[kind] = quantize(f16, folder / f"base.{kind.lower()}.gguf", kind)
    return out


def run_bench(
    base: Path,
    base_label: str,
    examples: list[Example],
    options: FitOptions,
    run_dir: Path | None = None,
    decode_tokens: int = 96,
    say: Any = None,
) -> BenchReport:
    """Measure training throughput (packed vs padded) and decode speed of the exports."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = BenchReport(base=base_label, device=device, examples=len(examples))
    packed, padded = train_throughput(base, examples, options, say)
    report.train = [packed, padded]
    report.packing_speedup = packed.tokens_per_second / padded.tokens_per_second
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
        files: dict[str, Path] = {}
        if run_dir is not None:
            for path in sorted((Path(run_dir) / "export").glob("*.gguf")):
                kind = path.name.split(".")[-2].upper()
                files[kind] = path
        if not {"Q4_K_M", "Q8_0"} <= set(files):
            report.notes.append("decode figures are of the base model run through our exporter")
            files = export_base(base, Path(tmp), ["Q8_0", "Q4_K_M"])
        if say is not None:
            say("decoding with the exports")
        for kind in ("Q4_K_M", "Q8_0", "F16"):
            if kind in files:
                report.decode.append(decode_speed(files[kind], kind, decode_tokens))
        onnx = _onnx_figure(run_dir, decode_tokens)
        if onnx is not None:
            report.decode.append(onnx)
        else:
            report.notes.append(
                "no ONNX export in the run (assistant train llm export --onnx): ONNX not measured"
            )
    return report


def _onnx_figure(run_dir: Path | None, tokens: int) -> DecodeFigure | None:
    if run_dir is None:
        return None
    folder = Path(run_dir) / "export" / "onnx"
    if not (folder / "model.onnx").is_file():
        return None
    from assistant.llm.onnx import OnnxChatModel

    count, speed = OnnxChatModel(folder, threads=_threads()).decode_speed(_PROMPT, tokens)
    config = json.loads((folder / "onnx_config.json").read_text("utf-8"))
    return DecodeFigure("onnxruntime", f"ONNX {config.get('quantized', '')}", count, speed)


def format_report(report: BenchReport) -> str:
    """The figures as a plain-text table."""
    lines = [
        f"LLM training bench: base {report.base}, {report.examples} examples, on {report.device}",
        "",
        "training (one epoch each, steps interleaved, same LoRA model and data)",
        f"  {'layout':<8} {'rows':>5} {'row len':>8} {'real tokens':>12} {'seconds':>8} "
        f"{'tokens/s':>9}",
    ]
    for t in report.train:
        lines.append(
            f"  {t.layout:<8} {t.rows:>5} {t.row_length:>8} {t.real_tokens:>12} "
            f"{t.seconds:>8.1f} {t.tokens_per_second:>9.1f}"
        )
    verdict = "meets" if report.packing_speedup >= 1.5 else "misses"
    lines += [
        f"  packing speed-up: {report.packing_speedup:.2f}x ({verdict} the 1.5x goal)",
        "",
        "decode (greedy, prompt excluded)",
    ]
    for d in report.decode:
        lines.append(f"  {d.backend:<12} {d.model:<10} {d.tokens_per_second:>8.1f} tokens/s")
    lines.append(f"  (each engine on {_threads()} threads)")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
