"""``assistant bench wake``: plugged into the runtime's ``bench`` command through the
``assistant.bench`` entry point (the runtime never imports training, and this bench
trains a custom word and speaks its test takes with training's code)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from assistant.cli.bench import positive
from assistant.cli.context import CliContext
from assistant.errors import AssistantError
from assistant.fsutil import atomic_write_text

__all__ = ["register_bench"]


def register_bench(group: Any) -> None:
    wake = group.add_parser(
        "wake",
        help="wake words: false rejects, false accepts per hour, CPU asleep, training time",
        description="False rejects on held-out takes (voices training never saw, noise at "
        "10 dB SNR) for each pretrained word and for a custom word trained in the bench; "
        "false accepts per hour on at least an hour of real speech (the Asterisk prompts "
        "in four languages, fetched once with apt-get download; or --speech DIR) and "
        "noise; the process's CPU while asleep; detection delay after the word's end; the "
        "custom word's training time. Goals: false rejects ≤ 5%%, false accepts ≤ 0.5/h, "
        "CPU ≤ 5%% of one core, training ≤ 10 min. The exit code is 0 whatever the figures.",
    )
    wake.add_argument("--takes", type=positive, default=40, metavar="N",
                      help="held-out takes per word (default 40)")  # fmt: skip
    wake.add_argument("--hours", type=float, default=1.0,
                      help="hours of speech + noise for false accepts (default 1)")  # fmt: skip
    wake.add_argument("--speech", metavar="DIR", help="speech without wake words instead "
                      "of the Asterisk prompts")  # fmt: skip
    wake.add_argument("--cpu-seconds", type=float, default=60.0,
                      help="length of the CPU measurement (default 60)")  # fmt: skip
    wake.add_argument("--custom", default="hey computer", metavar="PHRASE",
                      help='custom phrase trained in the bench ("" for none)')  # fmt: skip
    wake.add_argument("--preset", choices=("standard", "tiny"), default="standard",
                      help="custom training preset (default standard)")  # fmt: skip
    wake.add_argument("--keep", metavar="DIR", help="copy the custom word's model there")
    wake.add_argument("--words", help="pretrained words, comma-separated (default all four)")
    wake.add_argument("--sensitivity", action="append", default=[], metavar="WORD=S",
                      help="a pretrained word's sensitivity, 0..1 (default 0.5; "
                      "repeatable)")  # fmt: skip
    wake.add_argument("--json", metavar="PATH", default="wake-bench.json",
                      help="JSON report (default wake-bench.json)")  # fmt: skip
    wake.set_defaults(func=_wake)


def _wake(args: argparse.Namespace, ctx: CliContext) -> int:
    from .bench import WakeBenchOptions, run_wake_bench

    opts = WakeBenchOptions(
        takes=args.takes,
        hours=args.hours,
        speech=Path(args.speech) if args.speech else None,
        cpu_seconds=args.cpu_seconds,
        custom_phrase=args.custom or None,
        custom_preset=args.preset,
        keep=Path(args.keep) if args.keep else None,
    )
    for item in args.sensitivity:
        word, _, value = item.partition("=")
        try:
            level = float(value)
        except ValueError:
            level = -1.0
        if not word or not 0.0 <= level <= 1.0:
            raise AssistantError(f"--sensitivity {item!r}: expected WORD=S with S in 0..1",
                                 hint="e.g. --sensitivity hey_jarvis=0.7")  # fmt: skip
        opts.sensitivity[word.strip()] = level
    if args.words:
        opts.words = [w.strip() for w in args.words.split(",") if w.strip()]
    report = run_wake_bench(opts, ctx.store, out=lambda line: print(line, flush=True))
    fa = report["false_accepts"]
    print(f"\nfalse accepts on {fa['hours']:.2f} h ({fa['speech_minutes']:.0f} min speech, "
          f"{fa['noise_minutes']:.0f} min noise):")  # fmt: skip
    print(f"{'word':<22}{'FR all':>8}{'FR Piper':>10}{'FR espeak':>11}{'FA/hour':>9}"
          f"{'end->listening p90':>20}")  # fmt: skip
    for word, fr in report["words"].items():
        delay = fr["listening_p90_ms"]
        cells = [fr["false_reject_rate"], fr["false_reject_rate_piper"],
                 fr["false_reject_rate_espeak"]]  # fmt: skip
        text = "".join(f"{'-' if v is None else f'{v:.1%}':>{w}}"
                       for v, w in zip(cells, (8, 10, 11), strict=True))  # fmt: skip
        print(f"{word:<22}{text}{fa['per_hour'].get(word, 0):>9.2f}"
              f"{'' if delay is None else f'{delay:>17.0f} ms'}")  # fmt: skip
    print(f"CPU asleep: {report['cpu_percent_pretrained']:.1f}% of one core "
          f"({opts.words[0]})", end="")  # fmt: skip
    if "cpu_percent_custom" in report:
        print(f", {report['cpu_percent_custom']:.1f}% (custom word)", end="")
    print()
    if "custom_training" in report:
        t = report["custom_training"]
        print(f"custom training ({t['preset']}): {t['seconds'] / 60:.1f} min, threshold "
              f"{t['threshold']:.2f}, {t['frames']} frame(s) in a row")  # fmt: skip
    atomic_write_text(Path(args.json), json.dumps(report, indent=2))
    print(f"report: {args.json}")
    return 0
