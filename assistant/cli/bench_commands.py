"""``bench commands``: intent accuracy of the local commands, questions left to the model,
matching time, and (--live) their voice-to-voice latency beside model turns."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AssistantError
from ..fsutil import atomic_write_text
from .bench import opt
from .common import add_model_options, apply_model_options
from .context import CliContext

__all__ = ["register"]


def register(group: Any, *, positive: Any) -> None:
    """Add ``commands`` to the bench subparsers."""
    commands = group.add_parser(
        "commands",
        help="local commands: intent accuracy, questions left to the model, matching time",
        description="Runs the fixed command set (timers, reminders, time, sums, units, "
        "notes, the assistant's controls, the desktop; with paraphrases) through the "
        "command router and checks each reaches the right intent with the right slots, "
        "and that ordinary questions are left to the language model. Goals: accuracy "
        "≥ 95 %, questions passed ≥ 98 %, matching < 10 ms. --spoken also speaks each "
        "command with the configured voice (plain, faster, with noise) or an espeak-ng voice "
        "(American, female, British) and transcribes "
        "it with the configured whisper first. Nothing is launched or stored for real. "
        "The exit code is 0 whatever the figures.",
    )
    commands.add_argument("--spoken", action="store_true", help="also through voice and whisper")
    commands.add_argument(
        "--limit", type=positive, metavar="N", help="only the first N commands (quick runs)"
    )
    commands.add_argument(
        "--live",
        type=positive,
        metavar="N",
        help="also N spoken commands and N questions for the language model through the "
        "live pipeline (simulated microphone and speaker): voice-to-voice p50/p90 of each "
        "and their ratio (goal ≤ 0.5; N ≥ 20 for the figure)",
    )
    commands.add_argument(
        "--beam-size", type=positive, metavar="N", help="whisper's beam width for this run"
    )
    commands.add_argument(
        "--hotwords", default="", metavar="TEXT", help="words whisper is told to favour (a trial)"
    )
    commands.add_argument(
        "--listen-once",
        action="store_true",
        help="no second listening to near-commands (as before it existed: to compare)",
    )
    commands.add_argument(
        "--fit",
        action="store_true",
        help="a trial: keep a second listening that does not sound like the first when the "
        "audio fits it nearly as well (whisper's log-likelihood of each on the clip)",
    )
    commands.add_argument(
        "--rehear-model",
        metavar="DIR",
        help="a trial (with --spoken): the second listening by the faster-whisper model "
        "(CTranslate2) in this folder",
    )
    commands.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(commands, "asr", "voice")
    commands.set_defaults(func=_commands)


def _commands(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..bench.commands import run_commands_bench
    from ..bench.report import percentile

    config = apply_model_options(ctx.config, args)
    if args.rehear_model and not Path(args.rehear_model).is_dir():
        raise AssistantError(
            f"--rehear-model {args.rehear_model}: no such folder",
            hint="give the folder of a faster-whisper model (model.bin, config.json)",
        )
    if args.beam_size:
        config.asr.beam_size = args.beam_size
    report = run_commands_bench(
        spoken=args.spoken,
        config=config,
        store=ctx.store,
        limit=args.limit,
        hotwords=args.hotwords,
        listen_once=args.listen_once,
        fit=args.fit,
        rehear_model=Path(args.rehear_model) if args.rehear_model else None,
        progress=lambda line: print(line, file=sys.stderr),
    )
    times = report.match_ms
    lines = [
        f"commands: {report.commands_right}/{report.commands} right "
        f"({report.accuracy():.1%}; goal ≥ 95 %)",
        f"questions left to the model: {report.questions_passed}/{report.questions} "
        f"({report.pass_rate():.1%}; goal ≥ 98 %)",
        f"held-out commands (never tuned on): {report.held_out_right}/{report.held_out} right",
    ]
    if times:
        lines.append(
            f"matching: p50 {percentile(times, 50):.2f} ms, p90 {percentile(times, 90):.2f} ms, "
            f"max {max(times):.2f} ms (goal < 10 ms)"
        )
    spoken = report.spoken_accuracy()
    if spoken is not None:
        lines.append(f"spoken commands (voice -> whisper -> router): {report.spoken_right}/"
                     f"{report.spoken} right ({spoken:.1%}; goal ≥ 95 %)")  # fmt: skip
        by_voice = ", ".join(
            f"{v} {report.spoken_variants_right.get(v, 0)}/{n}"
            for v, n in report.spoken_variants.items()
        )
        lines.append(f"  by voice: {by_voice}")
        lines.append(f"  held-out commands spoken: {report.spoken_held_out_right}/"
                     f"{report.spoken_held_out} right")  # fmt: skip
        lines.append(f"spoken questions left to the model: {report.spoken_questions_passed}/"
                     f"{report.spoken_questions} (goal ≥ 98 %)")  # fmt: skip
        asr = ", ".join(
            f"{kind} {percentile(ms, 50):.0f} ms" for kind, ms in report.asr_ms.items() if ms
        )
        lines.append(f"  whisper per clip, p50 (beam {config.asr.beam_size}): {asr}")
        again = report.second_listenings
        lines.append(
            f"  listened to twice (near-commands): {again.get('commands', 0)} commands, "
            f"{again.get('questions', 0)} questions"
            + (" (off: --listen-once)" if args.listen_once else "")
            + (" (kept when the audio fits it: --fit)" if args.fit else "")
            + (f" (by {args.rehear_model})" if args.rehear_model else "")
        )
    for miss in report.misses + report.spoken_misses:
        lines.append(f"  miss: {miss}")
    figures = report.to_dict()
    if args.live:
        from ..bench.commands_live import GOAL_RATIO, run_live_commands

        live = run_live_commands(
            config, ctx.store, args.live, lambda line: print(line, file=sys.stderr)
        )
        f = live.figures()
        lines.append(
            f"live pipeline, voice to voice ({len(live.command_s)} commands, {live.handled} "
            f"answered by a command; {len(live.question_s)} model turns):"
        )
        for p in (50, 90):
            lines.append(
                f"  p{p}: commands {opt(f[f'command_p{p}_s'])} s, model "
                f"{opt(f[f'llm_p{p}_s'])} s, ratio {opt(f[f'ratio_p{p}'], digits=2)}"
            )
        lines.append("  where the time goes, p50 s from the end of speech (transcript, turn taken "
                     "as ended, answer or first token, first sentence, first sound):")  # fmt: skip
        for kind, name in (("command", "commands"), ("llm", "model")):
            steps = ("transcript", "end_of_turn", "first_token", "first_sentence")
            parts = ", ".join(f"{opt(live.step_p50(kind, step))}" for step in steps)
            lines.append(f"    {name}: {parts}, {opt(live.value_p50(kind))}")
        handled = opt(live.handle_ms_p50(), digits=1)
        lines.append(f"    commands' matching and handler: {handled} ms")
        verdict = "yes" if live.goal_met() else "no"
        lines.append(f"  commands ≤ {GOAL_RATIO} × model turns (p50 and p90): {verdict}")
        figures["live"] = live.to_dict()
    print("\n".join(lines))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}", file=sys.stderr)
    return 0
