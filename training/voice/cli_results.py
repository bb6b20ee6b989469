"""``assistant train voice eval``, ``export`` and ``bench``: the steps that read a run's
results, and the run record's readers they share with ``run``.

Imports nothing heavy at module level, like ``cli``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["bench", "checkpoint_of", "evaluate_run", "export", "heldout_sentences", "print_eval"]


def checkpoint_of(path: Path) -> Path:
    from ..common import TrainError
    from .fit import latest_voice_checkpoint

    if path.is_file():
        return path
    found = latest_voice_checkpoint(path)
    if found is None:
        raise TrainError(
            f"{path} is neither a checkpoint nor a run folder with checkpoints",
            hint="pass the --output folder of `assistant train voice fit`, or a .pt file",
        )
    return found


def heldout_sentences(run: Path, count: int) -> list[str]:
    from .phonemes import prompt_list

    record = run / "run.json"
    sentences: list[str] = []
    if record.is_file():
        sentences = [h["text"] for h in json.loads(record.read_text("utf-8")).get("heldout", [])]
    # Too few held-out recordings: fill up with prompts the voice was not trained on.
    sentences += prompt_list()[-count:]
    return sentences[:count]


def _heldout_wavs(run: Path, count: int) -> list[Path] | None:
    """The speaker's own held-out recordings of a run (None when it held none out)."""
    record = run / "run.json"
    if not record.is_file():
        return None
    held = json.loads(record.read_text("utf-8")).get("heldout", [])
    wavs = [Path(h["wav"]) for h in held[:count] if Path(h["wav"]).is_file()]
    return wavs or None


def _run_base(run: Path) -> Path | None:
    """The Piper voice a run was fine-tuned from, when it was one."""
    record = run / "run.json"
    if not record.is_file():
        return None
    base = json.loads(record.read_text("utf-8")).get("options", {}).get("base")
    if base and str(base).endswith(".onnx") and Path(base).is_file():
        return Path(base)
    return None


def evaluate_run(args: argparse.Namespace, ctx: Any) -> int:
    from assistant.engines import load_transcriber

    from .evaluate import evaluate

    paths = [Path(r) for r in args.runs]
    checkpoints = [checkpoint_of(p) for p in paths]
    run = paths[0] if paths[0].is_dir() else checkpoints[0].parent.parent
    output = Path(args.output) if args.output else run / "eval"
    report = evaluate(
        checkpoints,
        heldout_sentences(run, args.sentences),
        load_transcriber(ctx.config, ctx.store),
        output,
        onnx=Path(args.onnx) if args.onnx else None,
        references=None if args.no_similarity else _heldout_wavs(run, args.sentences),
        base=None if args.no_base else _run_base(run),
    )
    print_eval(report, output, args.json)
    return 0


def print_eval(report: Any, output: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for s in report.scores:
        sim = f"  similarity {s.similarity:.3f}" if s.similarity is not None else ""
        print(f"{s.name:<20} step {s.step:>7}  WER {s.wer:.2f}{sim}  RTF {s.real_time_factor:.3f}")
    print(f"report: {output / 'eval.json'}, plot: {output / 'eval.png'}")


def export(args: argparse.Namespace, ctx: Any) -> int:
    from .export import export_voice

    source = Path(args.run)
    checkpoint = checkpoint_of(source)
    run = source if source.is_dir() else checkpoint.parent.parent
    result = export_voice(
        checkpoint,
        Path(args.output) if args.output else run / "voice",
        args.name,
        register=not args.no_register,
        store=ctx.store,
    )
    print(f"voice {result.onnx} (+ {result.config.name})")
    if result.model_id:
        print(f"registered as {result.model_id!r}: assistant say --voice {result.model_id} ...")
    return 0


def _base_bench(args: argparse.Namespace, ctx: Any) -> dict[str, Any]:
    import tempfile

    from assistant.engines import load_transcriber

    from .bench_base import BaseBenchOptions, run_base_bench
    from .checkpoints import resolve_base

    base = resolve_base(args.base, ctx.store)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="voice-base-bench-"))
    data = Path(args.finetune) if args.finetune else None
    if args.asterisk:
        from .asterisk import asterisk_dataset

        data = asterisk_dataset(work / "asterisk", args.asterisk)
    device = args.device if args.device != "auto" else "cpu"
    return run_base_bench(
        BaseBenchOptions(
            base=base,
            parity=not args.no_parity,
            data=data,
            run_dir=work / "run",
            budget_s=args.budget_min * 60,
            checkpoint_every=args.checkpoint_every,
            bring_up_steps=args.bring_up,
            batch_size=args.batch_size,
            device=device,
            threads=args.threads,
        ),
        load_transcriber(ctx.config, ctx.store),
    )


def bench(args: argparse.Namespace, ctx: Any) -> int:
    from .bench import BenchOptions, run_bench

    if args.base:
        figures = _base_bench(args, ctx)
        if args.report:
            from assistant.fsutil import atomic_write_text

            atomic_write_text(Path(args.report), json.dumps(figures, indent=2))
        print(json.dumps(figures, indent=2))
        return 0
    report = run_bench(
        BenchOptions(
            steps=args.steps, preset=args.preset, utterances=args.utterances, device=args.device
        ),
        ctx.config,
        ctx.store,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:<28} {value}")
    return 0
