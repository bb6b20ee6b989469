"""The desktop app's commands, plugged into the ``assistant`` command line through entry
points (pyproject.toml): ``assistant gui``, the app that runs when no command is given,
and ``assistant bench gui``. Nothing here imports Qt until a command runs, so
``assistant --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

from assistant.cli.bench import QUESTIONS, non_negative, opt, positive
from assistant.cli.common import add_model_options, apply_model_options
from assistant.cli.context import CliContext
from assistant.errors import AssistantError
from assistant.fsutil import atomic_write_text

__all__ = ["APP", "INSTALL_HINT", "format_gui", "gui_available", "register", "register_bench",
           "run_gui"]  # fmt: skip

INSTALL_HINT = "the desktop app needs the gui extra: pip install 'offline-voice-assistant[gui]'"


def register(sub: Any) -> None:
    """Add ``gui`` to the top-level subparsers (entry point ``assistant.commands``)."""
    gui = sub.add_parser(
        "gui",
        help="the desktop app (the default when no command is given)",
        description="Opens the desktop app: talk with push-to-talk or hands-free, type, "
        "see each turn's latency, manage models and settings.",
    )
    # For `assistant bench gui`: print when the window is first visible, then exit.
    gui.add_argument("--bench-visible", action="store_true", help=argparse.SUPPRESS)
    gui.set_defaults(func=run_gui)


def gui_available() -> bool:
    """True when PySide6 can be imported."""
    return importlib.util.find_spec("PySide6") is not None


def run_gui(args: argparse.Namespace, ctx: CliContext) -> int:
    if not gui_available():
        raise AssistantError("PySide6 is not installed", hint=INSTALL_HINT)
    from . import app  # Qt: imported only here

    services = app.Services(config_path=ctx.config_path)
    if getattr(args, "bench_visible", False):
        started = time.perf_counter()
        from .bench_visible import report_when_visible

        report_when_visible(started)
    return int(app.run(services))


class _DesktopApp:
    """The desktop app as the ``assistant.app`` entry point: what ``assistant`` runs with no
    command."""

    install_hint = INSTALL_HINT

    def available(self) -> bool:
        return gui_available()

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        return run_gui(args, ctx)


APP = _DesktopApp()


def register_bench(group: Any) -> None:
    """Add ``bench gui`` (entry point ``assistant.bench``)."""
    gui = group.add_parser(
        "gui",
        help="the desktop app: time to a visible window, GUI-thread stalls during a turn",
        description="Starts `assistant gui` --launches times in fresh processes and reports "
        "the time from starting the process to the window's first expose event; then "
        "opens the app in this process on the real pipeline (the questions spoken into a "
        "scripted microphone with push-to-talk, a simulated speaker, a throwaway history) "
        "and watches the GUI thread with a heartbeat timer: the longest stall is the "
        "longest gap between beats minus the interval. Goals: window ≤ 1.5 s, stall "
        "≤ 50 ms. Without a display Qt's offscreen platform is used. The exit code is 0 "
        "whatever the figures.",
    )
    gui.add_argument(
        "--launches", type=non_negative, default=3, metavar="N",
        help="launches timed (default 3; 0 for none)",
    )  # fmt: skip
    gui.add_argument(
        "--turns", type=non_negative, default=3, metavar="N",
        help="spoken turns watched (default 3; 0 for none)",
    )  # fmt: skip
    gui.add_argument(
        "--heartbeat-ms", type=positive, default=5, metavar="MS",
        help="heartbeat interval (default 5)",
    )  # fmt: skip
    gui.add_argument(
        "--max-tokens", type=positive, metavar="N",
        help="longest reply in tokens (default: the config's llm.max_tokens)",
    )  # fmt: skip
    gui.add_argument(
        "--questions", metavar="DIR", default=str(QUESTIONS),
        help="folder of q*.wav questions (default: tests/bench_questions of the source tree)",
    )  # fmt: skip
    gui.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    add_model_options(gui, "asr", "llm", "voice")
    gui.set_defaults(func=_bench)


def _bench(args: argparse.Namespace, ctx: CliContext) -> int:
    if not gui_available():
        raise AssistantError("PySide6 is not installed", hint=INSTALL_HINT)
    from . import bench  # Qt: imported only when the bench runs

    config = apply_model_options(ctx.config, args)
    json_path = Path(args.json) if args.json else None
    questions: list[Path] = []
    if args.turns:
        from assistant.bench import find_questions

        questions, _ = find_questions(Path(args.questions))
    options = bench.GuiBenchOptions(
        launches=args.launches,
        turns=args.turns,
        heartbeat_ms=args.heartbeat_ms,
        max_tokens=args.max_tokens,
    )
    report = bench.run_gui_bench(
        config,
        ctx.config_path,
        questions,
        options,
        progress=lambda line: print(line, file=sys.stderr),
    )
    print(format_gui(report.to_dict()))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"figures written to {json_path}", file=sys.stderr)
    return 0


def format_gui(figures: dict[str, Any]) -> str:
    """``bench gui``'s figures (its JSON form) as a table, with a verdict on each goal."""
    launch, stall = figures["launch"], figures["stall"]
    machine = figures.get("machine") or {}
    lines = [
        f"machine: {machine.get('cpu_count', '?')} CPUs ({machine.get('cpu', '?')}), "
        f"Python {machine.get('python', '?')}",
        "window visible = process start -> the main window's first expose event "
        "(interpreter start and imports included)",
        f"stall = longest gap between {stall['heartbeat_ms']} ms GUI-thread heartbeats "
        "minus the interval, from pressing talk to the end of the turn",
        "",
    ]
    header = f"{'':<28} {'value':>9} {'goal':>9} {'met':>5}"
    lines += [header, "-" * len(header)]
    for i, run in enumerate(launch["runs"]):
        lines.append(
            f"{f'launch {i + 1} (s)':<28} {run['from_spawn_s']:>9.3f} "
            f"{'':>9} {'':>5}   ({run['from_run_s']:.3f} s from gui.app.run())"
        )
    for error in launch["errors"]:
        lines.append(f"  {error}")
    lines.append(_goal_line("window visible, worst (s)", launch, 1.0, 3))
    for turn in stall["turns"]:
        answered = "" if turn["answered"] else "  (no reply in time)"
        lines.append(
            f"{'stall ' + turn['question'] + ' (ms)':<28} {1000 * turn['longest_stall_s']:>9.0f}"
            f"{answered}"
        )
    lines.append(_goal_line("GUI stall, worst (ms)", stall, 1000.0, 0))
    return "\n".join(lines)


def _goal_line(name: str, part: dict[str, Any], scale: float, digits: int) -> str:
    met = {True: "yes", False: "no", None: "-"}[part["goal_met"]]
    goal = f"{part['goal_s'] * scale:.{digits}f}"
    return f"{name:<28} {opt(part['worst_s'], scale, digits):>9} {goal:>9} {met:>5}"
