"""``bench``: how fast the engines run here, what our wrappers add to the raw calls, and
the live pipeline's voice-to-voice latency beside a sequential one."""

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
    from ..bench import EnginesReport, LatencyReport

__all__ = ["QUESTIONS", "non_negative", "opt", "positive", "register"]

_LIMIT = 1.05
"""The most our wrapper may cost: 5% over the raw library call."""
_NOISY = 0.10
"""Rounds that vary more than this (10%) mark a figure as taken on a busy machine."""
_LAG_NOTE = 0.05
"""Capture lag (seconds) above which the latency table warns that it skews the figures."""
QUESTIONS = Path(__file__).resolve().parents[2] / "tests" / "bench_questions"
"""The fixed question set, in a source checkout."""


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
        "--repeats", type=positive, default=5, metavar="N", help="timed rounds (default 5)"
    )
    engines.add_argument(
        "--tokens",
        type=positive,
        default=128,
        metavar="N",
        help="longest language-model reply in tokens (default 128)",
    )
    engines.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    add_model_options(engines, "asr", "llm", "voice")
    engines.set_defaults(func=_engines)

    latency = group.add_parser(
        "latency",
        help="voice-to-voice latency of the live pipeline vs a sequential one, and barge-in",
        description="Speaks a fixed set of questions in real time into the live streaming "
        "pipeline and into a naive sequential one (transcribe all, generate all, "
        "synthesize all; same models, temperature 0, same max tokens), and reports p50 "
        "and p90 of voice-to-voice latency (end of the user's speech to the first reply "
        "sample at the output, end-of-turn silence wait included on both sides) with their "
        "ratio; then barge-in stop times (the user's speech onset to silent output) and "
        "peak memory. Goals: ratio ≤ 0.4 at p50 and p90; at the speed of conversation, "
        "p50 ≤ 0.65 s and ≤ 0.3 of the baseline's; barge-in p90 ≤ 100 ms. The exit code is 0 "
        "whatever the figures.",
    )
    latency.add_argument(
        "--questions",
        metavar="DIR",
        default=str(QUESTIONS),
        help="folder of q*.wav questions and stop.wav (default: tests/bench_questions "
        "of the source tree)",
    )
    latency.add_argument(
        "--repeats",
        type=positive,
        default=2,
        metavar="N",
        help="rounds over the questions (default 2)",
    )
    latency.add_argument(
        "--max-tokens",
        type=positive,
        metavar="N",
        help="longest reply in tokens (default: the config's llm.max_tokens)",
    )
    latency.add_argument(
        "--barge-ins",
        type=non_negative,
        default=5,
        metavar="N",
        help="turns in which the user talks over the reply (default 5; 0 for none)",
    )
    latency.add_argument(
        "--documents",
        metavar="DIR",
        help="also run the live pipeline answering from an index of this folder, for the "
        "latency retrieval adds (e.g. assistant/bench/data/latency_notes)",
    )
    latency.add_argument(
        "--output-device",
        metavar="SINK",
        help="play the barge-in replies on this PulseAudio sink and record its monitor, so "
        "that silence at the output includes the device's buffers (e.g. spk from "
        "scripts/virtual-audio.sh; default: a simulated player)",
    )
    latency.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(latency, "asr", "llm", "voice")
    latency.set_defaults(func=_latency)

    from . import bench_commands

    bench_commands.register(group, positive=positive)

    from . import bench_soak

    bench_soak.register(group, positive=positive, non_negative=non_negative, questions=QUESTIONS)

    from . import bench_turns

    bench_turns.register(group, positive=positive)

    from ..plugins import registrars

    for _name, register_bench in registrars("assistant.bench"):
        register_bench(group)
    _register_serve(group)

    docs = group.add_parser(
        "docs",
        help="the document index: retrieval recall/MRR, indexing speed, query latency, size",
        description="Indexes the pages of Debian's python3-doc that the bench's hand-written "
        "questions are about (--whole-corpus: every page), reports recall@5 and MRR for "
        "vector, keyword and hybrid search, passages indexed per second, hybrid query "
        "latency p50/p99 on the real index and grown with synthetic passages to 10,000 "
        "and 100,000, and the database size per 1,000 passages; then speaks --spoken of the "
        "questions with the configured voice into the live pipeline without and with the "
        "index and reports what answering from it adds to the voice-to-voice latency (p50: "
        "the search, the longer prompt). Goals: hybrid recall@5 ≥ 0.9, p50 ≤ 50 ms at "
        "100,000. The exit code is 0 whatever the figures.",
    )
    docs.add_argument("--whole-corpus", action="store_true", help="index every page (slow)")
    docs.add_argument(
        "--scales", default="10000,100000", metavar="N,N", help="index sizes to time queries at"
    )
    docs.add_argument("--queries", type=positive, default=100, metavar="N", help="timed queries")
    docs.add_argument("--db", metavar="PATH", help="keep the real index here (reruns are quick)")
    docs.add_argument(
        "--questions",
        metavar="JSON",
        help="another question set (default: the bench's own, and its held-out set)",
    )
    docs.add_argument(
        "--spoken",
        type=non_negative,
        default=4,
        metavar="N",
        help="questions spoken into the live pipeline without and with the index "
        "(default 4; 0 for none)",
    )
    docs.add_argument(
        "--max-tokens",
        type=positive,
        metavar="N",
        help="the spoken questions' longest reply in tokens (default: the config's "
        "llm.max_tokens)",
    )
    docs.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(docs, "asr", "llm", "voice")
    docs.set_defaults(func=_docs)


def _docs(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench.docs import DocsBenchOptions, format_docs_report, run_docs_bench
    from ..knowledge import default_embedder

    options = DocsBenchOptions(
        whole_corpus=args.whole_corpus,
        scales=tuple(int(s) for s in args.scales.split(",") if s.strip()),
        queries=args.queries,
        db=Path(args.db) if args.db else None,
        spoken=args.spoken,
        max_tokens=args.max_tokens,
    )
    if args.questions:
        options.questions = Path(args.questions)
        options.heldout = None  # held out from the bench's own set, not from this one
        options.prose = None
    report = run_docs_bench(
        default_embedder(ctx.store),
        options,
        out=lambda line: print(line, file=sys.stderr),
        config=apply_model_options(ctx.config, args),
        store=ctx.store,
    )
    print(format_docs_report(report))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {args.json}", file=sys.stderr)
    return 0


def _register_serve(group: Any) -> None:
    serve = group.add_parser(
        "serve",
        help="the HTTP server under load, its overhead over in-process calls, bad input",
        description="Runs `assistant serve` on this process's engines and measures: "
        "streaming chat and transcription clients at once for a fixed time (requests "
        "completed, p50/p99 time to first token and to complete, errors by kind, RSS "
        "after a warm-up and at the end: goal growth <= 5 %); transcription and first "
        "token through the API vs in-process (goal <= 1.1x); and a list of bad requests "
        "tried during the load, each with the 4xx it got. The exit code is 0 whatever "
        "the figures.",
    )
    serve.add_argument(
        "--duration", type=positive, default=60, metavar="S", help="seconds of load (default 60)"
    )
    serve.add_argument(
        "--warmup",
        type=non_negative,
        default=10,
        metavar="S",
        help="seconds of load before the first RSS reading (default 10)",
    )
    serve.add_argument("--chat-clients", type=positive, default=32, metavar="N")
    serve.add_argument("--asr-clients", type=positive, default=8, metavar="N")
    serve.add_argument(
        "--tokens",
        type=positive,
        default=16,
        metavar="N",
        help="reply length of each chat request (default 16)",
    )
    serve.add_argument(
        "--repeats",
        type=positive,
        default=5,
        metavar="N",
        help="rounds of the overhead comparison (default 5)",
    )
    serve.add_argument("--json", metavar="PATH", help="also write the figures to this file")
    add_model_options(serve, "asr", "llm", "voice")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench.serve_load import ServeBenchOptions, format_serve, run_serve_bench

    config = apply_model_options(ctx.config, args)
    options = ServeBenchOptions(
        duration_s=args.duration,
        chat_clients=args.chat_clients,
        asr_clients=args.asr_clients,
        max_tokens=args.tokens,
        warmup_s=args.warmup,
        repeats=args.repeats,
    )
    report = run_serve_bench(
        config, ctx.store, options, progress=lambda line: print(line, file=sys.stderr)
    )
    print(format_serve(report))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {args.json}", file=sys.stderr)
    return 0


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
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


def _latency(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench import LatencyOptions, run_latency_bench

    config = apply_model_options(ctx.config, args)
    json_path = Path(args.json) if args.json else None
    options = LatencyOptions(
        repeats=args.repeats,
        max_tokens=args.max_tokens,
        barge_ins=args.barge_ins,
        documents=Path(args.documents) if args.documents else None,
        output_device=args.output_device,
    )
    report = run_latency_bench(
        config,
        ctx.store,
        Path(args.questions),
        options,
        progress=lambda line: print(line, file=sys.stderr),
    )
    print(format_latency(report))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {json_path}", file=sys.stderr)
    return 0


def format_latency(report: LatencyReport) -> str:
    """The latency figures as a table, with a verdict on each goal."""
    from ..bench.report import (
        BARGE_IN_GOAL_S,
        CONVERSATION_P50_GOAL_S,
        CONVERSATION_RATIO_GOAL,
        RATIO_GOAL,
    )

    m = report.machine
    models = report.models
    per_side = len(report.questions) * report.options.repeats
    lines = [
        f"machine: {m.cpu_count} CPUs ({m.cpu}), Python {m.python}",
        f"models: asr {models['asr']}, llm {models['llm']}, voice {models['voice']}, "
        f"turn {models.get('turn', '-')}; "
        f"up to {report.max_tokens} tokens, temperature 0",
        f"{len(report.questions)} questions x {report.options.repeats} round(s) per pipeline",
        "voice-to-voice = end of the user's speech -> first reply sample at the output; "
        f"the baseline waits the endpointer's {report.min_silence_ms} ms of silence "
        "(vad.min_silence_ms); streaming waits the same, less when the end-of-turn "
        "model finds its speculative transcript finished, more when it is clearly "
        "unfinished (turn.mode)",
        "",
    ]
    header = f"{'':<22} {'p50':>9} {'p90':>9} {'count':>7}"
    lines += [header, "-" * len(header)]
    sides = ("streaming", "documents", "baseline") if report.options.documents else None
    for pipeline in sides or ("streaming", "baseline"):
        answered = len(report.latencies(pipeline))
        lines.append(
            f"{pipeline + ' (s)':<22} {opt(report.latency(pipeline, 50)):>9} "
            f"{opt(report.latency(pipeline, 90)):>9} {f'{answered}/{per_side}':>7}"
        )
    lines.append(
        f"{'  end-of-turn wait (s)':<22} {opt(report.end_of_turn(50)):>9} "
        f"{opt(report.end_of_turn(90)):>9}"
    )
    lag = max((t.capture_lag for t in report.turns), default=0.0)
    if lag > _LAG_NOTE:
        lines.append(
            f"  note: the live capture fell up to {1000 * lag:.0f} ms behind the microphone; "
            "streaming figures may be that much too small (a busy machine?)"
        )
    lines.append(
        f"{'ratio stream/base':<22} {opt(report.ratio(50)):>9} {opt(report.ratio(90)):>9}"
    )
    if report.options.documents is not None:
        lines.append(
            f"{'documents added (ms)':<22} {opt(report.retrieval_added(50), 1000, 0):>9} "
            f"{opt(report.retrieval_added(90), 1000, 0):>9}"
        )
        lines.append(
            f"{'  the search itself':<22} {opt(report.retrieval_seconds(50), 1000, 0):>9} "
            f"{opt(report.retrieval_seconds(90), 1000, 0):>9}"
        )
    stops = len(report.barge_in_stops)
    p50, p90 = report.barge_in(50), report.barge_in(90)
    lines.append(
        f"{'barge-in stop (ms)':<22} {opt(p50, 1000, 0):>9} {opt(p90, 1000, 0):>9} "
        f"{f'{stops}/{report.barge_ins_tried}':>7}"
    )
    stops = len(report.barge_in_at_output)
    p50, p90 = report.barge_in(50, at_output=True), report.barge_in(90, at_output=True)
    lines.append(
        f"{'  seen at the output':<22} {opt(p50, 1000, 0):>9} {opt(p90, 1000, 0):>9} "
        f"{f'{stops}/{report.barge_ins_tried}':>7}"
    )
    mem = report.memory
    lines.append("")
    lines.append(
        f"memory: peak {mem.peak_mb:.0f} MB (resident {opt(mem.rss_start_mb, 1, 0)} MB "
        f"before loading, {opt(mem.rss_loaded_mb, 1, 0)} MB loaded, "
        f"{opt(mem.rss_end_mb, 1, 0)} MB at the end)"
    )
    verdict = "yes" if report.ratio_goal_met else "no"
    lines.append(f"ratio ≤ {RATIO_GOAL:.2f} at p50 and p90: {verdict}")
    verdict = "yes" if report.conversation_goal_met else "no"
    lines.append(
        f"speed of conversation, p50 ≤ {CONVERSATION_P50_GOAL_S:.2f} s and ratio p50 ≤ "
        f"{CONVERSATION_RATIO_GOAL:.2f}: {verdict}"
    )
    if report.barge_ins_tried:
        verdict = "yes" if report.barge_in_goal_met() else "no"
        at_output = "yes" if report.barge_in_goal_met(at_output=True) else "no"
        lines.append(
            f"barge-in p90 ≤ {1000 * BARGE_IN_GOAL_S:.0f} ms: {verdict} (from the VAD's "
            f"speech onset); seen at the output, from the first loud sample: {at_output}"
        )
    return "\n".join(lines)


def opt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"
