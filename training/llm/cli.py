"""``assistant train llm``: steps prepare, fit, eval, export and run.

Imports nothing heavy at module level: torch and friends load inside the commands. The
arguments become option objects here; nothing deeper sees argparse.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .speed import ATTENTIONS

if TYPE_CHECKING:
    from assistant.cli.context import CliContext

    from .options import LlmFitOptions

__all__ = ["register"]

_DESCRIPTION = (
    "Fine-tune the language model on your own conversations, offline: prepare (validate "
    "and split the data), fit (LoRA), eval (perplexity and BLEU against the base), export "
    "(merge, GGUF, quantize, register in the model store), or run (all of them). The base "
    "defaults to the embedded SmolLM2; the defaults suit a few dozen examples on a CPU."
)


def register(targets: Any) -> None:
    """Add ``llm`` and its steps to ``assistant train``'s subparsers."""
    llm = targets.add_parser(
        "llm", help="fine-tune the language model (LoRA -> GGUF)", description=_DESCRIPTION
    )
    llm.set_defaults(func=lambda args, ctx: llm.print_help() or 0)
    steps = llm.add_subparsers(dest="llm_step", metavar="STEP")

    p = steps.add_parser(
        "prepare",
        help="validate and split the data into a run folder",
        description='Reads chat JSONL ({"messages": [{"role": ..., "content": ...}]} per '
        "line, e.g. from `assistant history export --jsonl`) or plain text (.txt, paragraphs), "
        "checks every line, and writes the train/eval split into RUN_DIR.",
    )
    p.add_argument("data", type=Path, metavar="DATA", help="chat JSONL or plain .txt file")
    p.add_argument("--output", "-o", type=Path, required=True, metavar="RUN_DIR")
    _add_data_options(p)
    _add_fit_options(p)
    p.set_defaults(func=_prepare)

    p = steps.add_parser(
        "fit",
        help="LoRA fine-tuning (resumes after an interruption)",
        description="Fine-tunes the run's base with LoRA. A killed fit continues from its "
        "newest complete checkpoint when run again. Works under `torchrun "
        "--nproc_per_node=N` and `accelerate launch` unchanged.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints, start over")
    p.add_argument(
        "--dry-run", action="store_true",
        help="print the memory estimate against the free memory and exit (loads no weights)",
    )  # fmt: skip
    _add_fit_options(p)
    p.set_defaults(func=_fit)

    p = steps.add_parser("eval", help="perplexity and BLEU, base beside fine-tuned")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument(
        "--max-generate", type=int, default=24, metavar="N",
        help="held-out conversations to generate replies for, for BLEU (default 24)",
    )  # fmt: skip
    p.add_argument("--device", default="auto", metavar="DEVICE",
                   help="auto (the GPU when there is one), cpu or cuda")  # fmt: skip
    p.set_defaults(func=_eval)

    p = steps.add_parser(
        "export",
        help="merge, write GGUF, quantize and register the model",
        description="Merges the adapter into the base, writes an F16 GGUF with the "
        "project's converter, quantizes it with llama.cpp, and (with --name) registers the "
        "first quantization in the model store: then `assistant chat --llm NAME` uses it.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    _add_export_options(p, name_required=False)
    p.set_defaults(func=_export)

    p = steps.add_parser(
        "run",
        help="prepare, fit, eval and export in one go",
        description="All steps: DATA -> RUN_DIR -> the model NAME in the store.",
    )
    p.add_argument("data", type=Path, metavar="DATA", help="chat JSONL or plain .txt file")
    p.add_argument("--output", "-o", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--skip-eval", action="store_true", help="do not evaluate")
    _add_data_options(p)
    _add_fit_options(p)
    _add_export_options(p, name_required=True)
    p.set_defaults(func=_run)

    p = steps.add_parser(
        "bench",
        help="training tokens/s per layout and speed option, and decode tokens/s",
        description="Trains the same LoRA model on the same data once per row: the plain "
        "Hugging Face Trainer with per-batch padding (baseline), our loop padded to the "
        "block length, packed (as fit does), and packed with each speed option (fused "
        "AdamW, flash/flex attention, Liger kernels, torch.compile, batch size from free "
        "memory, 4-bit QLoRA, all together). Reports real tokens per second, the ratios, "
        "MFU and peak memory on a GPU; then decode tokens/s of the Q4_K_M and Q8_0 GGUF "
        "exports (of --run, else of the base through our exporter) and of the ONNX export "
        "when the run has one. Same run, same machine.",
    )
    p.add_argument("data", type=Path, nargs="?", metavar="DATA",
                   help="chat JSONL (default: 48 generated conversations)")  # fmt: skip
    p.add_argument("--base", metavar="MODEL", help="base model (default: the embedded SmolLM2)")
    p.add_argument("--run", type=Path, metavar="RUN_DIR", help="an exported run to decode with")
    p.add_argument("--seq-length", type=int, default=256, metavar="TOKENS")
    p.add_argument("--batch-size", type=int, default=2, metavar="N")
    p.add_argument("--decode-tokens", type=int, default=96, metavar="N")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument(
        "--rows", metavar="LIST",
        help="comma-separated rows: plain, padded, packed, fused, flash, flex, liger, "
        "compile, auto-batch, 4bit, all (default: the layouts on the CPU; on a GPU every "
        "option whose package is installed)",
    )  # fmt: skip
    p.add_argument(
        "--steps", type=int, default=0, metavar="N",
        help="timed steps per row (default: one pass over the data)",
    )  # fmt: skip
    p.add_argument(
        "--peak-tflops", type=float, metavar="TF",
        help="the GPU's peak dense bf16 TFLOP/s for MFU (known GPUs: automatic)",
    )  # fmt: skip
    p.add_argument("--lora-rank", type=int, default=16, metavar="R")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction,
                   help="recompute activations (default: on when memory is short)")  # fmt: skip
    p.add_argument("--no-decode", action="store_true", help="training figures only")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    p.set_defaults(func=_bench)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base", metavar="MODEL",
        help="base model: a store id (default: the embedded smollm2-135m-instruct), a "
        "Hugging Face model folder, or a .gguf file",
    )  # fmt: skip
    p.add_argument("--eval-fraction", type=float, default=0.1, metavar="F",
                   help="share held out for evaluation (default 0.1)")  # fmt: skip
    p.add_argument("--max-length", type=int, default=1024, metavar="TOKENS",
                   help="longest example allowed (default 1024)")  # fmt: skip
    system = p.add_mutually_exclusive_group()
    system.add_argument(
        "--system", metavar="TEXT",
        help="system prompt put before examples without one (default: the assistant's "
        "configured llm.system_prompt, so the model learns in the setting it runs in)",
    )  # fmt: skip
    system.add_argument("--no-system", action="store_true", help="add no system prompt")
    p.add_argument("--data-seed", type=int, default=0, metavar="N", help="split seed")


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fit options (default: as prepared)")
    g.add_argument("--epochs", type=float, metavar="N")
    g.add_argument("--max-steps", type=int, metavar="N")
    g.add_argument(
        "--batch-size", type=_batch_size, metavar="N",
        help="blocks per device per step, or auto (the most free memory holds)",
    )  # fmt: skip
    g.add_argument("--grad-accum", type=int, metavar="N")
    g.add_argument("--learning-rate", "--lr", type=float, metavar="LR")
    g.add_argument("--seq-length", type=int, metavar="TOKENS", help="packed block length")
    g.add_argument("--no-packing", action="store_true", help="one example per row, padded")
    g.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction,
                   help="recompute activations (default: on when memory is short)")  # fmt: skip
    g.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"))
    g.add_argument("--device", help="auto (the GPU when there is one), cpu or cuda")
    g.add_argument(
        "--quantize", choices=("none", "4bit"),
        help="4bit: QLoRA, the base in bitsandbytes NF4 (big bases on small GPUs)",
    )  # fmt: skip
    g.add_argument("--attention", choices=ATTENTIONS, help="attention implementation")
    g.add_argument("--liger", action=argparse.BooleanOptionalAction,
                   help="Liger's fused GPU kernels (needs liger-kernel)")  # fmt: skip
    g.add_argument("--fused-optimizer", action=argparse.BooleanOptionalAction,
                   help="fused AdamW on a GPU (default on)")  # fmt: skip
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile")
    g.add_argument("--save-steps", type=int, metavar="N", help="checkpoint interval")
    g.add_argument("--seed", type=int, metavar="N")
    g.add_argument("--lora-rank", type=int, metavar="R")
    g.add_argument("--lora-alpha", type=int, metavar="A")
    g.add_argument("--lora-dropout", type=float, metavar="P")
    g.add_argument("--lora-targets", metavar="NAMES", help="comma-separated module names")


def _add_export_options(p: argparse.ArgumentParser, name_required: bool) -> None:
    p.add_argument(
        "--name", required=name_required, metavar="NAME",
        help="model id to register in the store (chat with it: assistant chat --llm NAME)",
    )  # fmt: skip
    p.add_argument(
        "--quant", action="append", metavar="TYPE",
        help="quantization(s), the first is registered: Q8_0 (default), Q4_K_M, Q5_K_M, "
        "Q6_K, Q4_0, F16; repeatable",
    )  # fmt: skip
    p.add_argument("--replace", action="store_true", help="replace a trained model of that name")
    p.add_argument(
        "--onnx", action="store_true",
        help="also export an int8 ONNX model (RUN_DIR/export/onnx) for the onnxruntime backend",
    )  # fmt: skip


def _batch_size(text: str) -> int:
    if text == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a batch size: {text!r} (a number or auto)") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the batch size must be at least 1 (or auto)")
    return value


def _quiet() -> None:
    """Hide library deprecation chatter that says nothing to a user of these commands."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Could not find a config file")


def _fit_options(args: argparse.Namespace, options: LlmFitOptions) -> LlmFitOptions:
    """``options`` with the command line's fit overrides applied."""
    simple = {
        "epochs": "epochs",
        "max_steps": "max_steps",
        "batch_size": "batch_size",
        "grad_accum": "grad_accum",
        "learning_rate": "learning_rate",
        "seq_length": "seq_length",
        "precision": "precision",
        "save_steps": "save_steps",
        "seed": "seed",
        "device": "device",
        "quantize": "quantize",
        "attention": "attention",
        "liger": "liger",
        "fused_optimizer": "fused_optimizer",
        "compile": "compile",
        "gradient_checkpointing": "gradient_checkpointing",
    }
    for arg, attr in simple.items():
        value = getattr(args, arg, None)
        if value is not None:
            setattr(options, attr, value)
    if getattr(args, "no_packing", False):
        options.packing = False
    for arg, attr in (("lora_rank", "rank"), ("lora_alpha", "alpha"), ("lora_dropout", "dropout")):
        value = getattr(args, arg, None)
        if value is not None:
            setattr(options.lora, attr, value)
    if getattr(args, "lora_targets", None):
        options.lora.target_modules = [t.strip() for t in args.lora_targets.split(",") if t]
    return options


def _prepare(args: argparse.Namespace, ctx: CliContext) -> int:
    _quiet()
    from .base import resolve_base
    from .options import DataOptions, LlmFitOptions
    from .run import prepare

    system = None if args.no_system else (args.system or ctx.config.llm.system_prompt)
    options = DataOptions(
        eval_fraction=args.eval_fraction,
        max_length=args.max_length,
        system_prompt=system,
        seed=args.data_seed,
    )
    base = resolve_base(args.base, ctx.store)
    result = prepare(
        args.data,
        args.output,
        base,
        args.base or str(base),
        options,
        _fit_options(args, LlmFitOptions()),
    )
    print(
        f"prepared {args.output}: {result.train} training and {result.eval} held-out "
        f"example(s), {result.tokens} tokens, longest {result.longest}"
    )
    return 0


def _fit(args: argparse.Namespace, ctx: CliContext) -> int:
    _quiet()
    from .data import read_split
    from .fit import fit, is_main_process, memory_plan
    from .run import read_run, write_run

    run = read_run(args.run_dir)
    run.fit = _fit_options(args, run.fit)
    if is_main_process() and not getattr(args, "dry_run", False):
        write_run(args.run_dir, run)
    if getattr(args, "dry_run", False):
        memory, device, precision = memory_plan(Path(run.base), run.fit)
        verdict = "fits" if memory.fits else "does NOT fit"
        print(f"{verdict} on {device} ({precision}): {memory.message()}")
        return 0 if memory.fits else 1
    train = read_split(Path(args.run_dir) / "data", "train.jsonl")
    result = fit(args.run_dir, Path(run.base), train, run.fit, resume=not args.restart)
    if is_main_process():
        resumed = f", resumed from {result.resumed_from}" if result.resumed_from else ""
        print(
            f"fit done: {result.steps} steps{resumed}, final loss {result.final_loss:.3f}, "
            f"{result.tokens_per_second:.0f} tokens/s on {result.device}; adapter in "
            f"{args.run_dir}/adapter, "
            f"loss curve {args.run_dir}/loss.png"
        )
    return 0


def _eval(args: argparse.Namespace, ctx: CliContext) -> int:
    _quiet()
    from .data import read_split
    from .evaluate import evaluate, write_report
    from .run import read_run

    run = read_run(args.run_dir)
    held = read_split(Path(args.run_dir) / "data", "eval.jsonl")
    report = evaluate(
        Path(run.base),
        Path(args.run_dir) / "adapter",
        held,
        max_generate=args.max_generate,
        # `run` shares fit's --device, whose default is None (as prepared).
        device=getattr(args, "device", None) or "auto",
    )
    write_report(report, Path(args.run_dir) / "eval", title=str(args.run_dir))
    b, t = report.base, report.tuned
    print(f"perplexity: base {b.perplexity:.2f} -> fine-tuned {t.perplexity:.2f}")
    if t.bleu is not None and b.bleu is not None:
        print(f"BLEU:       base {b.bleu:.1f} -> fine-tuned {t.bleu:.1f}")
    print(f"report: {args.run_dir}/eval/report.md")
    return 0


def _export(args: argparse.Namespace, ctx: CliContext) -> int:
    _quiet()
    from .export import export
    from .run import read_run

    run = read_run(args.run_dir)
    result = export(
        args.run_dir,
        Path(run.base),
        args.quant or ["Q8_0"],
        name=args.name,
        store=ctx.store if args.name else None,
        replace=args.replace,
        licence=_base_licence(ctx, run.base_label),
        onnx=args.onnx,
    )
    print(f"F16 GGUF: {result.f16}")
    for kind, path in result.quantized.items():
        print(f"{kind}: {path}")
    if result.onnx:
        print(f"ONNX int8: {result.onnx}")
    for model_id in (result.registered, result.registered_onnx):
        if model_id:
            print(f"registered as {model_id!r}: assistant chat --llm {model_id}")
    return 0


def _bench(args: argparse.Namespace, ctx: CliContext) -> int:
    _quiet()
    import json
    import sys

    from assistant.fsutil import atomic_write_text

    from .base import resolve_base
    from .bench import format_report, run_bench
    from .data import read_examples
    from .options import LlmFitOptions
    from .sample import sample_examples

    base = resolve_base(args.base, ctx.store)
    system = ctx.config.llm.system_prompt
    examples = read_examples(args.data, system) if args.data else sample_examples(system=system)
    options = LlmFitOptions(
        seq_length=args.seq_length,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    options.lora.rank = args.lora_rank
    options.lora.alpha = 2 * args.lora_rank
    rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else None
    report = run_bench(
        base,
        args.base or "smollm2-135m-instruct",
        examples,
        options,
        args.run,
        args.decode_tokens,
        say=lambda line: print(line, file=sys.stderr, flush=True),
        variants=rows,
        steps=args.steps,
        peak_tflops=args.peak_tflops,
        decode=not args.no_decode,
    )
    print(format_report(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=2) + "\n")
    return 0


def _base_licence(ctx: CliContext, label: str) -> str:
    entry = ctx.store.catalog.find(label)
    return entry.licence if entry is not None else "unknown (same as the base model)"


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from .base import resolve_base
    from .export import check_export
    from .fit import is_main_process

    # Fail on a bad name, quantization or architecture before hours of training.
    base = resolve_base(args.base, ctx.store)
    check_export(base, args.quant or ["Q8_0"], args.name, ctx.store, args.replace, args.onnx)
    _prepare(args, ctx)
    args.run_dir, args.restart = args.output, False
    _fit(args, ctx)
    if not is_main_process():
        return 0
    if not args.skip_eval:
        args.max_generate = 24
        _eval(args, ctx)
    _export(args, ctx)
    return 0
