"""``doctor``: what is installed, what works, and how to fix what does not."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from typing import Any

from ..errors import AssistantError
from .context import CliContext

__all__ = ["register"]

_MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def register(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="check Python, packages, models, audio and CUDA")
    doctor.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..doctor import run_checks

    config = ctx.config
    try:
        store = ctx.store
    except AssistantError:
        store = None
    checks = run_checks(config, store, ctx.config_path)
    width = max(len(c.area) for c in checks)
    # Nothing is cut: long lines wrap in a terminal and stay whole when piped.
    columns = shutil.get_terminal_size((0, 0)).columns if sys.stdout.isatty() else 0
    indent = " " * (4 + 2 + width + 2)
    for check in checks:
        print(_wrap(f"{_MARK[check.status]:>4}  {check.area:<{width}}  {check.detail}",
                    columns, indent))  # fmt: skip
        if check.fix:
            print(_wrap(f"{indent}fix: {check.fix}", columns, indent))
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    print(f"\n{failed} problem(s), {warned} warning(s)")
    return 1 if failed else 0


def _wrap(line: str, columns: int, indent: str) -> str:
    if columns < 40 or len(line) <= columns:
        return line
    return textwrap.fill(
        line, columns, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
