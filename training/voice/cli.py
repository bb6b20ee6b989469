"""``assistant train voice``: steps prepare, fit, eval, export and run.

Imports nothing heavy at module level: torch and friends load inside the commands.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(targets: Any) -> None:
    """Add ``voice`` and its steps to ``assistant train``'s subparsers."""
    p = targets.add_parser("voice", help="(not built yet)")
    p.set_defaults(func=lambda args, ctx: p.print_help() or 0)
