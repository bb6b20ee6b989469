"""``bench``: how fast the engines run here, and what our wrappers add to the raw calls."""

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
    from ..bench import EnginesReport

__all__ = ["register"]

_LIMIT = 1.05
"""The most our wrapper may cost: 5% over the raw library call."""
_NOISY = 0.10
"""Rounds that vary more than this (10%) mark a figure as taken on a busy machine."""


def register(sub: Any) -> None:
    bench = sub.add_parser(
        "bench",
        help="measure the engines on this machine",
        description="Benchmarks. Each reports figures; none fails on slow results.",
    )
    group = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    bench.set_defaults(func=lambda _args, _ctx: bench.print_help() or 0)

    engines = group.add_parser(
        "engines",
        help="speech recognition, language model and voice: ours vs the raw library call",
        description="Measures each engine through the assistant's wrapper and through the "
        "library call it wraps, in the same run on the same input, and prints both with "
        "their ratio (above 1 means the wrapper is slower). Each side is warmed up once; "
        "the two then alternate for --repeats rounds and the medians are reported. "
        "The exit code is 0 whatever the figures, 1 if an engine cannot load.",
    )
    engines.add_argument(
        "--repeats", type=_positive, default=5, metavar="N", help="timed rounds (default 5)"
    )
    engines.add_argument(
        "--tokens",
        type=_positive,
        default=128,
        metavar="N",
        help="longest language-model reply in tokens (default 128)",
    )
    engines.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    add_model_options(engines, "asr", "llm", "voice")
    engines.set_defaults(func=_engines)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _engines(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench import BenchOptions, run_engines_bench

    config = apply_model_options(ctx.config, args)
    json_path = Path(args.json) if args.json else None
    options = BenchOptions(repeats=args.repeats, llm_tokens=max(2, args.tokens))
    report = run_engines_bench(
        config, ctx.store, options, progress=lambda line: print(line, file=sys.stderr)
    )
    print(format_report(report))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {json_path}", file=sys.stderr)
    return 0


def format_report(report: EnginesReport, limit: float = _LIMIT) -> str:
    """The figures as a table, with a verdict on the ratios."""
    m = report.machine
    lines = [
        f"machine: {m.cpu_count} CPUs ({m.cpu}), Python {m.python}, "
        f"{report.options.repeats} rounds, medians",
    ]
    for e in report.engines:
        same = (
            ""
            if e.same_output is None
            else (", same output" if e.same_output else ", OUTPUT DIFFERS from raw")
        )
        lines.append(f"{e.engine}: {e.model}, {e.workload}{same}")
    lines.append("")
    lines.append("ratio = ours / raw (for tokens/s raw / ours): above 1 means ours is slower")
    header = f"{'engine':<7} {'metric':<15} {'ours':>10} {'raw':>10} {'ratio':>7}"
    lines += [header, "-" * len(header)]
    noisy = False
    for e in report.engines:
        for metric in e.metrics:
            mark = " *" if metric.spread > _NOISY else ""
            noisy = noisy or bool(mark)
            lines.append(
                f"{e.engine:<7} {metric.name:<15} {_num(metric.ours):>10} "
                f"{_num(metric.raw):>10} {metric.ratio:>7.3f}{mark}"
            )
    if noisy:
        lines.append(
            f"* rounds varied by more than {_NOISY:.0%}: the machine was busy; rerun when "
            "it is idle, or with more --repeats"
        )
    worst = report.worst_ratio()
    verdict = "yes" if report.within(limit) else "no"
    lines.append(f"all ratios ≤ {limit:.2f}: {verdict} (worst {worst:.3f})")
    return "\n".join(lines)


def _num(value: float) -> str:
    return f"{value:.1f}" if value >= 100 else f"{value:.4f}" if value < 1 else f"{value:.3f}"
