"""``assistant train voice``: steps prepare, fit, eval, export and run (plus prompts and
bench).

Imports nothing heavy at module level: torch and friends load inside the commands.
Argument parsing stops here; the steps get option dataclasses.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_results import bench, evaluate_run, export, heldout_sentences, print_eval

__all__ = ["register"]


log = logging.getLogger(__name__)


def register(targets: Any) -> None:
    """Add ``voice`` and its steps to ``assistant train``'s subparsers."""
    voice = targets.add_parser(
        "voice",
        help="train a voice from your recordings (Coqui VITS -> ONNX)",
        description="Recordings -> checked dataset (prepare) -> VITS training (fit) -> "
        "intelligibility by ASR (eval) -> ONNX voice in the model store (export); `run` "
        "does all of them.",
    )
    voice.set_defaults(func=lambda args, ctx: voice.print_help() or 0)
    steps = voice.add_subparsers(dest="voice_step", metavar="STEP")

    p = steps.add_parser("prepare", help="recordings -> checked LJSpeech dataset + report")
    p.add_argument("input", metavar="RECORDINGS", help="folder of WAV/FLAC/OGG/MP3 files")
    p.add_argument("--output", "-o", required=True, metavar="DATA_DIR", help="dataset folder")
    _prepare_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_prepare)

    f = steps.add_parser("fit", help="train (or resume) a VITS voice on a prepared dataset")
    f.add_argument("data", metavar="DATA_DIR", help="a dataset made by prepare")
    f.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="RUN_DIR",
        help="run folder; an existing run there is resumed",
    )
    _fit_options(f)
    f.set_defaults(func=_fit)

    e = steps.add_parser("eval", help="ASR word error rate on held-out sentences")
    e.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_OR_CHECKPOINT",
        help="run folders (their latest checkpoint) or checkpoint files to compare",
    )
    e.add_argument("--onnx", metavar="FILE", help="also score this exported voice")
    e.add_argument(
        "--sentences",
        type=int,
        default=8,
        metavar="N",
        help="held-out sentences to use (default 8)",
    )
    e.add_argument(
        "--no-similarity",
        action="store_true",
        help="skip speaker similarity to the held-out recordings (resemblyzer's GE2E)",
    )
    e.add_argument(
        "--no-base", action="store_true", help="do not score the base voice a run started from"
    )
    e.add_argument("--output", "-o", metavar="DIR", help="report folder (default RUN/eval)")
    e.add_argument("--json", action="store_true", help="print the scores as JSON")
    e.set_defaults(func=evaluate_run)

    x = steps.add_parser("export", help="checkpoint -> ONNX voice, registered in the store")
    x.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="run folder or checkpoint file")
    x.add_argument("--name", required=True, help="voice id (used with --voice and in the config)")
    x.add_argument("--output", "-o", metavar="DIR", help="where to write it (default RUN/voice)")
    x.add_argument("--no-register", action="store_true", help="do not add it to the model store")
    x.set_defaults(func=export)

    r = steps.add_parser("run", help="prepare, fit, eval and export in one go")
    r.add_argument("input", metavar="RECORDINGS", help="folder of recordings with transcripts")
    r.add_argument("--name", required=True, help="voice id of the result")
    r.add_argument("--output", "-o", required=True, metavar="RUN_DIR", help="run folder")
    _prepare_options(r)
    _fit_options(r)
    r.add_argument(
        "--eval-sentences",
        type=int,
        default=4,
        metavar="N",
        help="held-out sentences to score (0 skips eval)",
    )
    r.set_defaults(func=_run)

    c = steps.add_parser(
        "check", help="is there enough recorded speech for a preset? (exit 1 says how much more)"
    )
    c.add_argument("recordings", type=Path, help="folder of recordings")
    c.add_argument("--preset", default="standard", choices=("tiny", "standard"))
    c.add_argument("--fine-tune", action="store_true", help="the run starts from a base voice")
    c.set_defaults(func=_check)

    pr = steps.add_parser("prompts", help="print the prompt list to record, with its coverage")
    pr.add_argument("--language", default="en-us", help="espeak-ng voice (default en-us)")
    pr.set_defaults(func=_prompts)

    b = steps.add_parser("bench", help="training steps/s and ONNX vs PyTorch real-time factor")
    b.add_argument("--steps", type=int, default=6, help="training steps to time (default 6)")
    b.add_argument("--preset", default="tiny", choices=("tiny", "standard"))
    b.add_argument("--utterances", type=int, default=12, help="generated clips (default 12)")
    b.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    b.add_argument("--json", action="store_true", help="print the figures as JSON")
    b.add_argument(
        "--base",
        metavar="VOICE",
        help="instead: the figures of fine-tuning from this Piper voice (id or .onnx): "
        "step-0 parity, and with --finetune/--asterisk a fine-tune scored per checkpoint",
    )
    b.add_argument("--no-parity", action="store_true", help="skip the step-0 parity check")
    b.add_argument("--finetune", metavar="DATA_DIR", help="prepared dataset to fine-tune on")
    b.add_argument(
        "--asterisk",
        type=int,
        metavar="N",
        help="fine-tune on N of Debian's Asterisk prompts (fetched with apt-get download)",
    )
    b.add_argument("--work", metavar="DIR", help="folder for the data and the run (kept)")
    b.add_argument(
        "--budget-min", type=float, default=10.0, help="fine-tune training minutes (default 10)"
    )
    b.add_argument(
        "--checkpoint-every", type=int, default=50, help="steps between scored checkpoints"
    )
    b.add_argument(
        "--bring-up", type=int, help="steps with the base frozen (default: the recipe's)"
    )
    b.add_argument("--batch-size", type=int, default=4, help="utterances per step (default 4)")
    _threads_option(b)
    b.add_argument("--report", metavar="FILE", help="also write the figures to this JSON file")
    b.set_defaults(func=bench)


def _prepare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", default="en-us", help="espeak-ng voice (default en-us)")
    p.add_argument("--sample-rate", type=int, default=22050, help="training rate (Hz)")
    p.add_argument(
        "--no-asr-check",
        action="store_true",
        help="keep transcripts without checking them against ASR",
    )
    p.add_argument(
        "--max-wer",
        type=float,
        default=0.5,
        help="reject a transcript whose WER against ASR is above this",
    )


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for training (default: one per core; on a machine busy with other "
        "work use fewer, e.g. 1: waiting threads slow every step many times over)",
    )


def _fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="standard", choices=("tiny", "standard"))
    p.add_argument("--steps", type=int, help="train until this step (default: the preset's)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints")
    p.add_argument(
        "--base",
        metavar="VOICE_OR_CHECKPOINT",
        help="fine-tune from this voice or checkpoint: the id of an installed Piper voice "
        "(e.g. piper-en_US-joe-medium), a Piper .onnx file, a checkpoint file (a run's .pt, "
        "a Coqui VITS .pth) or the id of a voice-base model (assistant models pull ID). "
        "From a Piper voice the model takes the voice's own sizes and phonemes; --preset "
        "is then ignored",
    )
    p.add_argument(
        "--speaker",
        metavar="NAME_OR_ID",
        help="speaker of a multi-speaker base voice to start from",
    )
    p.add_argument(
        "--recipe",
        default="auto",
        choices=("auto", "cpu", "gpu"),
        help="schedule of a fine-tune from a voice: cpu (an evening: batch 4, 2000 steps, "
        "recordings up to 8 s, text encoder kept), gpu (batch 16, 20000 steps, all parts); "
        "auto picks by device",
    )
    p.add_argument("--batch-size", type=int, help="utterances per step")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="data loader processes (a GPU may want 2-4; default 0: in the training process)",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _threads_option(p)
    p.add_argument("--mixed-precision", default="auto", choices=("auto", "no", "fp16", "bf16"))
    p.add_argument(
        "--yes",
        action="store_true",
        help="train even when it would take over an hour here (else asked in a terminal, "
        "refused when not)",
    )
    p.add_argument(
        "--allow-little-data",
        action="store_true",
        help="train even with less speech than the preset needs (a try-out of the steps: "
        "the voice will be poor)",
    )


def _prepare_from(args: argparse.Namespace, input_dir: Path, output_dir: Path) -> Any:
    from .prepare import PrepareOptions

    return PrepareOptions(
        input_dir=input_dir,
        output_dir=output_dir,
        sample_rate=args.sample_rate,
        language=args.language,
        asr_check=not args.no_asr_check,
        max_wer=args.max_wer,
    )


def _fit_from(args: argparse.Namespace, data: Path, output: Path, ctx: Any) -> Any:
    from .checkpoints import resolve_base
    from .fit import VoiceFitOptions

    return VoiceFitOptions(
        data_dir=data,
        output_dir=output,
        preset=args.preset,
        steps=args.steps,
        checkpoint_every=args.checkpoint_every,
        base=resolve_base(args.base, ctx.store) if args.base else None,
        speaker=args.speaker,
        recipe=args.recipe,
        workers=args.workers,
        device=args.device,
        mixed_precision=args.mixed_precision,
        batch_size=args.batch_size,
        threads=args.threads,
    )


def _engines(ctx: Any) -> tuple[Any, Any]:
    from assistant.engines import load_transcriber, load_vad

    return load_vad(ctx.config, ctx.store), load_transcriber(ctx.config, ctx.store)


def _do_prepare(options: Any, ctx: Any) -> Any:
    from .prepare import prepare

    vad, transcriber = _engines(ctx)

    def progress(done: int, total: int, name: str) -> None:
        print(f"\rprepare {done + 1}/{total} {name[-40:]:<40}", end="", file=sys.stderr, flush=True)

    report = prepare(options, vad, transcriber, on_file=progress)
    print(file=sys.stderr)
    return report


def _prepare(args: argparse.Namespace, ctx: Any) -> int:
    report = _do_prepare(_prepare_from(args, Path(args.input), Path(args.output)), ctx)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.to_text(), end="")
    return 0


def _progress_bar() -> Any:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def on_step(report: Any) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(
                total=report.total, initial=report.step - 1, unit="step", dynamic_ncols=True
            )
        b = bar["bar"]
        b.set_postfix(
            mel=f"{report.losses.get('mel', 0):.1f}",
            gen=f"{report.losses.get('gen', 0):.2f}",
            disc=f"{report.losses.get('disc', 0):.2f}",
            refresh=False,
        )
        b.update(1)

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    return on_step, close


def _do_fit(options: Any, yes: bool = False, little_data: bool = False) -> Any:
    from .fit import fit
    from .guard import TimeGuard, check_enough_data, training_lock

    if little_data:
        log.warning("--allow-little-data: not checking how much speech %s holds", options.data_dir)
    else:
        check_enough_data(options.data_dir, options.preset, fine_tune=options.base is not None)
    on_step, close = _progress_bar()
    guard = TimeGuard(None if not yes and not sys.stdin.isatty() else _ask(yes, close), on_step)
    try:
        with training_lock(Path(options.output_dir)):
            result = fit(options, on_step=guard)
    finally:
        close()
    print(
        f"step {result.step} (from {result.resumed_from}), {result.steps_per_second:.3f} "
        f"steps/s; checkpoint {result.checkpoint}; loss curve {result.run_dir / 'loss.png'}"
    )
    return result


def _ask(yes: bool, close_bar: Callable[[], None]) -> Callable[[float], bool]:
    """The question asked when a run would take hours (``--yes`` answers it)."""
    from .guard import format_duration

    def confirm(estimate_s: float) -> bool:
        if yes:
            return True
        close_bar()
        answer = input(
            f"This training would take about {format_duration(estimate_s)} on this machine. "
            "Go on? [y/N] "
        )
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _fit(args: argparse.Namespace, ctx: Any) -> int:
    fit_options = _fit_from(args, Path(args.data), Path(args.output), ctx)
    _do_fit(fit_options, args.yes, args.allow_little_data)
    return 0


def _run(args: argparse.Namespace, ctx: Any) -> int:
    from assistant.engines import load_transcriber

    from .evaluate import evaluate
    from .export import export_voice

    run = Path(args.output)
    data = run / "dataset"
    fit_options = _fit_from(args, data, run, ctx)  # a bad --base fails before any work
    from .guard import check_enough_data

    # Too few recordings fail before the slow prepare step (and again after it, on what
    # prepare kept).
    if not args.allow_little_data:
        check_enough_data(Path(args.input), args.preset, fine_tune=fit_options.base is not None)
    report = _do_prepare(_prepare_from(args, Path(args.input), data), ctx)
    print(report.to_text(), end="")
    result = _do_fit(fit_options, args.yes, args.allow_little_data)
    exported = export_voice(
        result.checkpoint, run / "voice", args.name, register=True, store=ctx.store
    )
    if args.eval_sentences > 0:
        scores = evaluate(
            [result.checkpoint],
            heldout_sentences(run, args.eval_sentences),
            load_transcriber(ctx.config, ctx.store),
            run / "eval",
            onnx=exported.onnx,
        )
        print_eval(scores, run / "eval", False)
    print(f'voice {args.name!r} is ready: assistant say --voice {args.name} "Hello."')
    return 0


def _check(args: argparse.Namespace, ctx: Any) -> int:
    from .guard import check_enough_data

    minutes = check_enough_data(
        args.recordings, args.preset, fine_tune=args.fine_tune, subject="Your recordings hold"
    )
    print(f"enough speech for the {args.preset} preset: {minutes:.1f} minutes")
    return 0


def _prompts(args: argparse.Namespace, ctx: Any) -> int:
    from .phonemes import coverage, prompt_list

    prompts = prompt_list(args.language)
    for i, line in enumerate(prompts, 1):
        print(f"{i:3d}  {line}")
    cov = coverage(prompts, args.language)
    print(
        f"# {len(prompts)} prompts cover {len(cov.covered)}/{len(cov.inventory)} phonemes",
        file=sys.stderr,
    )
    return 0
