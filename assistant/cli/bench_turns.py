"""``bench turns``: cut-ins and end-of-turn waits of each end-of-turn rule, on audio."""

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
    from ..bench.turns import TurnsReport

__all__ = ["format_turns", "register"]


def register(group: Any, *, positive: Any) -> None:
    """Add ``turns`` to the bench subparsers."""
    turns = group.add_parser(
        "turns",
        help="end of turn on speech with pauses: cut-ins and waits of each rule",
        description="Speaks 52 sentences, each by the configured voice and an espeak-ng "
        'voice, with a 300-700 ms pause in the middle ("I\'d like to ... book a table"), '
        "in real time into the live capture stage (VAD, partial and speculative "
        "transcripts on the configured recogniser), and replays on what the stage saw "
        "the end-of-turn model in each mode (eager, balanced, patient), the punctuation "
        "rule it replaced and the silence rule. Reports for each the cut-ins (the turn "
        "ended in a pause inside the sentence) and the wait after the last word (p50, "
        "p90); as run, and with the transcript ready at once. Goal: cut-ins ≤ 2 % in "
        "the configured mode. About 10 minutes. The exit code is 0 whatever the figures.",
    )
    turns.add_argument("--limit", type=positive, metavar="N",
                       help="only the first N sentences (2N utterances; quick runs)")  # fmt: skip
    turns.add_argument("--held-out", action="store_true",
                       help="52 other sentences, written after the turn model and its waits "
                       "were chosen on the usual ones (a check on speech nothing was tuned "
                       "on)")  # fmt: skip
    turns.add_argument("--replay", metavar="REPORT",
                       help="judge the configured turn model and modes on the pauses of an "
                       "earlier run's --json report instead of speaking again")  # fmt: skip
    turns.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(turns, "asr", "voice")
    turns.set_defaults(func=_turns)


def _turns(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench.turns import replay_turns_bench, run_turns_bench

    config = apply_model_options(ctx.config, args)
    if args.replay:
        report = replay_turns_bench(config, ctx.store, Path(args.replay))
    else:
        report = run_turns_bench(config, ctx.store, limit=args.limit, held_out=args.held_out,
                                 progress=lambda line: print(line, file=sys.stderr))  # fmt: skip
    print(format_turns(report))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {args.json}", file=sys.stderr)
    return 0


def format_turns(report: TurnsReport) -> str:
    """The figures of each rule as a table, with the verdict on the goal."""
    from ..bench.turns import CUT_IN_GOAL

    data = report.to_dict()
    lines = [
        f"{data['utterances']} utterances, {data['inner_pauses']} inner pauses "
        f"(models: {', '.join(f'{k} {v}' for k, v in report.models.items())})",
        f"{'rule':<13} {'cut-ins':>9} {'rate':>7} {'wait p50':>9} {'wait p90':>9}"
        f"   {'instant: cut-ins':>16} {'wait p50':>9}",
    ]
    for name in report.rules:
        run, instant = report.figures(name), report.figures(name, instant=True)
        label = f"{name} *" if name == report.mode else name
        lines.append(
            f"{label:<13} {run['cut_ins']:>9} {100 * run['cut_in_rate']:>6.1f}% "
            f"{run['wait_p50_s']:>8.3f}s {run['wait_p90_s']:>8.3f}s"
            f"   {instant['cut_ins']:>16} {instant['wait_p50_s']:>8.3f}s"
        )
    ready = data["transcript_ready_p50_s"]
    lines.append(
        "* the configured turn.mode. wait = the pause after the last word until the turn "
        f"ends (silence rule: {report.silence_wait:.2f} s); speculative transcript ready "
        f"{'-' if ready is None else f'{ready:.3f} s'} into a pause (p50); capture lag "
        f"up to {data['capture_lag_max_s']:.3f} s"
    )
    verdict = "yes" if report.goal_met() else "no"
    lines.append(f"cut-ins ≤ {100 * CUT_IN_GOAL:.0f} % ({report.mode}, as run and instant): "
                 f"{verdict}")  # fmt: skip
    return "\n".join(lines)
