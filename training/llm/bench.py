"""``assistant train llm bench``: training throughput of the plain Hugging Face Trainer,
our padded and packed layouts and each speed option (rows of :mod:`.throughput`), and
decode speed of the exported GGUFs (and the ONNX backend when an ONNX export is at hand),
all in the same run on the same model and data, on the requested device.

The training figure is real (non-padding) tokens per second, so the ratios say how much
faster a layout or option learns the same data; on a GPU each row also has its
model-FLOPs utilisation and peak memory.
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

from ..common import choose_precision, resolve_device
from .data import Example
from .options import LlmFitOptions
from .throughput import TrainFigure, default_variants, measure, peak_flops

__all__ = [
    "BenchReport",
    "DecodeFigure",
    "TrainFigure",
    "decode_speed",
    "format_report",
    "run_bench",
    "train_throughput",
]

log = logging.getLogger(__name__)

_PROMPT = "Write a long story about a lighthouse keeper and the sea, with many details."


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
    precision: str = "fp32"
    train: list[TrainFigure] = field(default_factory=list)
    packing_speedup: float = 0.0
    """Packed tokens/s over padded tokens/s (goal: at least 1.5)."""
    plain_speedup: float = 0.0
    """Packed tokens/s over the plain Trainer's (0 when either was not measured)."""
    decode: list[DecodeFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figure(self, variant: str) -> TrainFigure | None:
        return next((t for t in self.train if t.variant == variant), None)


def train_throughput(
    base: Path,
    examples: list[Example],
    options: LlmFitOptions,
    variants: list[str],
    *,
    device: str = "auto",
    steps: int = 0,
    peak_tflops: float | None = None,
    say: Any = None,
) -> tuple[list[TrainFigure], list[str]]:
    """One row per variant on ``device`` (figures, and notes on rows that could not
    run here)."""
    import torch

    from .base import load_tokenizer, model_config, offline
    from .errors import TrainError
    from .fit import tokenize_all
    from .memory import shape_of
    from .tokens import REAL, pack, pad_each

    offline()
    device = resolve_device(device)
    precision = choose_precision(options.precision, device)
    torch.manual_seed(options.seed)
    tokenizer = load_tokenizer(base)
    items = tokenize_all(tokenizer, examples)
    length = options.seq_length
    pad = int(tokenizer.pad_token_id)
    rows = {
        "packed": pack(items, length, pad, seed=options.seed),
        "padded": pad_each(items, length, pad),
        "plain": [
            {
                "input_ids": t.input_ids[:length],
                "labels": t.labels[:length],
                REAL: min(len(t.input_ids), length),
            }
            for t in items
        ],
    }
    shape = shape_of(model_config(base))
    peak = peak_flops(device, peak_tflops)
    figures, notes = [], []
    for variant in variants:
        if say is not None:
            say(f"training: {variant} on {device}")
        try:
            figure = measure(variant, base, rows, options, device, precision, shape,
                             steps=steps, peak=peak, pad_id=pad)  # fmt: skip
        except TrainError as exc:
            notes.append(f"{variant}: not measured ({exc.message})")
            continue
        except (RuntimeError, ImportError, ValueError) as exc:
            # One row failing (out of memory, a kernel missing on this GPU) must not cost
            # the figures of the others: it is reported, with the traceback in the log.
            log.exception("bench row %s failed", variant)
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            notes.append(f"{variant}: failed ({type(exc).__name__}: {first})")
            continue
        figures.append(figure)
    if peak is None:
        notes.append("MFU not computed: no GPU of known peak FLOP/s (--peak-tflops sets it)")
    return figures, notes


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
    options: LlmFitOptions,
    run_dir: Path | None = None,
    decode_tokens: int = 96,
    say: Any = None,
    *,
    variants: list[str] | None = None,
    steps: int = 0,
    peak_tflops: float | None = None,
    decode: bool = True,
) -> BenchReport:
    """Measure training throughput (one row per variant) and decode speed of the
    exports, on ``options.device``."""
    device = resolve_device(options.device)
    precision = choose_precision(options.precision, device)
    report = BenchReport(
        base=base_label, device=device, examples=len(examples), precision=precision
    )
    figures, notes = train_throughput(
        base, examples, options, variants or default_variants(device),
        device=device, steps=steps, peak_tflops=peak_tflops, say=say,
    )  # fmt: skip
    report.train = figures
    report.notes += notes
    packed, padded, plain = (report.figure(v) for v in ("packed", "padded", "plain"))
    if packed and padded and padded.tokens_per_second:
        report.packing_speedup = packed.tokens_per_second / padded.tokens_per_second
    if packed and plain and plain.tokens_per_second:
        report.plain_speedup = packed.tokens_per_second / plain.tokens_per_second
    if decode:
        _decode_figures(report, base, run_dir, decode_tokens, say)
    return report


def _decode_figures(
    report: BenchReport, base: Path, run_dir: Path | None, decode_tokens: int, say: Any
) -> None:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        report.notes.append("llama-cpp-python is not installed: decode not measured")
        return
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


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_report(report: BenchReport) -> str:
    """The figures as a plain-text table."""
    lines = [
        f"LLM training bench: base {report.base}, {report.examples} examples, on "
        f"{report.device} ({report.precision})",
        "",
        "training (same LoRA model and data; warm-up step not timed)",
        f"  {'row':<11} {'batch':>5} {'rows':>5} {'row len':>7} {'real tokens':>11} "
        f"{'seconds':>8} {'tokens/s':>9} {'vs packed':>9} {'MFU':>6} {'peak GiB':>8}",
    ]
    packed = report.figure("packed")
    for t in report.train:
        ratio = None
        if packed and packed.tokens_per_second:
            ratio = t.tokens_per_second / packed.tokens_per_second
        mfu = None if t.mfu is None else 100 * t.mfu
        lines.append(
            f"  {t.variant:<11} {t.batch_size:>5} {t.rows:>5} {t.row_length:>7} "
            f"{t.real_tokens:>11} {t.seconds:>8.1f} {t.tokens_per_second:>9.1f} "
            f"{_cell(ratio, '.2f') + 'x':>9} {_cell(mfu, '.1f') + '%':>6} "
            f"{_cell(t.peak_memory_gib, '.2f'):>8}"
        )
    if report.packing_speedup:
        verdict = "meets" if report.packing_speedup >= 1.5 else "misses"
        lines.append(f"  packed / padded: {report.packing_speedup:.2f}x ({verdict} the 1.5x goal)")
    if report.plain_speedup:
        lines.append(f"  packed / plain HF Trainer: {report.plain_speedup:.2f}x")
    if report.decode:
        lines += ["", "decode (greedy, prompt excluded)"]
        for d in report.decode:
            lines.append(f"  {d.backend:<12} {d.model:<10} {d.tokens_per_second:>8.1f} tokens/s")
        lines.append(f"  (each engine on {_threads()} threads)")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
