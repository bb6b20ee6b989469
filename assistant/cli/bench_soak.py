"""``bench soak``: many turns through the live pipeline; memory, threads, descriptors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fsutil import atomic_write_text
from .common import add_model_options, apply_model_options
from .context import CliContext

if TYPE_CHECKING:
    from ..bench.soak import SoakReport

__all__ = ["format_soak", "register"]


def register(group: Any, *, positive: Any, non_negative: Any, questions: Path) -> None:
    """Add ``soak`` to the bench subparsers."""
    soak = group.add_parser(
        "soak",
        help="many turns through the live pipeline: memory, threads and descriptors",
        description="Speaks --turns turns into the live pipeline (a simulated speaker that "
        "plays as fast as it can), every --barge-in-every-th one cut by a typed message "
        "while its reply is written, and samples resident memory, threads and open file "
        "descriptors. After a warm-up (the first tenth) memory should grow at most 5 % "
        "and threads and descriptors not at all; each turn's events must be complete "
        "and in order. Scripted engines by default (the pipeline alone, a thousand turns "
        "in about a minute); --real uses the configured models and the questions of "
        "--questions. The exit code is 0 whatever the figures.",
    )
    soak.add_argument("--turns", type=positive, default=1000, metavar="N",
                      help="turns to speak (default 1000)")  # fmt: skip
    soak.add_argument("--barge-in-every", type=non_negative, default=10, metavar="N",
                      help="cut every N-th turn (default 10; 0 for never)")  # fmt: skip
    soak.add_argument("--real", action="store_true",
                      help="the configured models instead of the scripted engines")  # fmt: skip
    soak.add_argument("--max-tokens", type=positive, metavar="N",
                      help="--real: longest reply in tokens (default: llm.max_tokens)")  # fmt: skip
    soak.add_argument("--questions", metavar="DIR", default=str(questions),
                      help="--real: folder of q*.wav questions")  # fmt: skip
    soak.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(soak, "asr", "llm", "voice")
    soak.set_defaults(func=_soak)


def _soak(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench.soak import SoakOptions, run_soak

    config = apply_model_options(ctx.config, args)
    options = SoakOptions(turns=args.turns, barge_in_every=args.barge_in_every,
                          turn_timeout=120.0 if args.real else 10.0)  # fmt: skip
    engines = questions = None
    if args.real:
        from ..bench import find_questions
        from ..engines import Engines

        questions, _ = find_questions(Path(args.questions))
        if args.max_tokens:
            config.llm.max_tokens = args.max_tokens
        config.llm.temperature = 0.0
        engines = Engines.load(config, ctx.store)
    report = run_soak(config, options, engines=engines, questions=questions,
                      progress=lambda line: print(line, file=sys.stderr))  # fmt: skip
    print(format_soak(report))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {args.json}", file=sys.stderr)
    return 0


def format_soak(report: SoakReport) -> str:
    """The soak's figures as a table, with a verdict on each goal."""
    from ..bench.soak import GROWTH_GOAL

    def mb(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    warm = report.samples[report.warm_sample]
    end = report.samples[-1]
    growth = report.growth
    grew = "-" if growth is None else f"{growth:+.1%} ({'yes' if growth <= GROWTH_GOAL else 'no'})"
    lines = [
        f"engines: {report.engines}; {report.turns_completed}/{report.turns_asked} turns "
        f"completed ({report.barge_ins} cut by a barge-in) in {report.seconds:.1f} s",
        "",
        f"{'':<22} {'start':>9} {'warm':>9} {'end':>9}",
        f"{'resident (MiB)':<22} {mb(report.rss_start_mb):>9} {mb(report.rss_warm_mb):>9} "
        f"{mb(report.rss_end_mb):>9}",
        f"{'threads':<22} {report.samples[0].threads:>9} {warm.threads:>9} {end.threads:>9}",
        f"{'file descriptors':<22} {report.samples[0].fds!s:>9} {warm.fds!s:>9} "
        f"{end.fds!s:>9}",
        "",
        f"memory growth after warm-up ≤ {GROWTH_GOAL:.0%}: {grew}",
        f"threads flat: {'yes' if report.thread_growth <= 0 else 'no'} "
        f"({report.thread_growth:+d}); descriptors flat: "
        f"{'yes' if (report.fd_growth or 0) <= 0 else 'no'} ({report.fd_growth})",
        f"every turn's events complete and in order: {'yes' if not report.problems else 'no'}",
    ]
    lines += [f"  {problem}" for problem in report.problems]
    return "\n".join(lines)
