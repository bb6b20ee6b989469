"""``doctor``: what is installed, what works, and how to fix what does not."""

from __future__ import annotations

import argparse
import shutil
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
    columns = shutil.get_terminal_size((120, 20)).columns
    for check in checks:
        line = f"{_MARK[check.status]:>4}  {check.area:<{width}}  {check.detail}"
        print(line[: max(columns, 80)] if len(line) > columns else line)
        if check.fix:
            print(f"{'':>4}  {'':<{width}}  fix: {check.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    print(f"\n{failed} problem(s), {warned} warning(s)")
    return 1 if failed else 0
