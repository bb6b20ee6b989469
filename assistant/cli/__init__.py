"""The ``assistant`` command: one entry point, one module per group of subcommands.

Argument parsing stays here, at the edge: each command turns its arguments into config
objects and calls the library. Errors the user can act on (:class:`AssistantError`) are
printed as one line plus a hint, with exit code 1 (2 for usage errors); ``--debug``
shows the traceback too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import AssistantError
from . import bench, chat, doctor, gui, history, listen, models, serve, speech, train
from .context import CliContext

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = (gui, speech, listen, chat, history, models, doctor, bench, train, serve)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="An offline voice assistant: speech recognition, a local language "
        "model and a local voice, with nothing leaving the machine.",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config file to use instead of the default one"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation with no microphone, speakers or display: load every "
        "engine, answer a recorded question, open and close the window; exit 0 when it works",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def _setup_logging(debug: bool, verbose: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.debug, args.verbose)
    if args.self_test:
        args.func = _self_test
    elif args.command is None:
        if not gui.gui_available():
            parser.print_help()
            print(f"\nhint: {gui.INSTALL_HINT}")
            return 0
        args.func = gui.run_gui
    ctx = CliContext.from_args(args)
    try:
        return int(args.func(args, ctx) or 0)
    except AssistantError as exc:
        if args.debug:
            logging.getLogger(__name__).exception("command failed")
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        ctx.close()


def _self_test(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..selftest import run_self_test

    run_self_test(out=lambda line: print(line, flush=True))
    return 0
