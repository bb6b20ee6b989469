"""``gui``: the desktop app (PySide6, the ``gui`` extra)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from typing import Any

from ..errors import AssistantError
from .context import CliContext

__all__ = ["INSTALL_HINT", "gui_available", "register", "run_gui"]

INSTALL_HINT = "the desktop app needs the gui extra: pip install 'offline-voice-assistant[gui]'"


def register(sub: Any) -> None:
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
    """True when PySide6 and the ``gui`` package can be imported."""
    return importlib.util.find_spec("PySide6") is not None and (
        importlib.util.find_spec("gui") is not None
    )


def run_gui(args: argparse.Namespace, ctx: CliContext) -> int:
    if not gui_available():
        raise AssistantError("PySide6 is not installed", hint=INSTALL_HINT)
    # Qt is imported only here, never by the runtime (and mypy checks the runtime only).
    app = importlib.import_module("gui.app")
    services = app.Services(config_path=ctx.config_path)
    return int(app.run(services, bench_visible=getattr(args, "bench_visible", False)))
