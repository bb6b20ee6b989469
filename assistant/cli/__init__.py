"""The ``assistant`` command: one entry point, one module per group of subcommands.

Argument parsing stays here, at the edge: each command turns its arguments into config
objects and calls the library. Errors the user can act on (:class:`AssistantError`) are
printed as one line plus a hint, with exit code 1 (2 for usage errors); ``--debug``
shows the traceback too.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from .. import plugins
from ..errors import AssistantError
from . import bench, chat, docs, doctor, history, listen, models, serve, speech, wake
from .context import CliContext

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = (speech, listen, chat, history, docs, models, doctor, bench, serve, wake)

# Commands that packages above the runtime plug in (assistant.plugins); where one is not
# installed, its name still answers, with how to get it.
_PLUGGED = {
    "gui": ("the desktop app (needs the gui extra)",
            "the desktop app needs the gui extra: pip install 'offline-voice-assistant[gui]'"),
    "train": ("fine-tune the language model or train a voice (needs the train extra)",
              "install the assistant from source with the train extra: pip install -e '.[train]'"),
}  # fmt: skip


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
    for _name, register in plugins.registrars("assistant.commands"):
        register(sub)
    for name, (summary, hint) in _PLUGGED.items():
        if name not in sub.choices:
            missing = sub.add_parser(name, help=summary)
            missing.set_defaults(func=_not_installed(name, hint))
    return parser


def _not_installed(name: str, hint: str) -> Callable[[argparse.Namespace, CliContext], int]:
    def run(args: argparse.Namespace, ctx: CliContext) -> int:
        raise AssistantError(f"`assistant {name}` is not part of this installation", hint=hint)

    return run


def _stacks_on_request() -> None:
    """``kill -USR1 PID`` prints every thread's stack on stderr: what a stuck assistant
    waits for, for a bug report (POSIX only; the process goes on)."""
    if not hasattr(signal, "SIGUSR1") or sys.__stderr__ is None:
        return
    # No real stderr (an embedding host): nothing to print to.
    with contextlib.suppress(OSError, ValueError, RuntimeError, io.UnsupportedOperation):
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)


def _setup_logging(debug: bool, verbose: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.debug, args.verbose)
    _stacks_on_request()
    if args.self_test:
        args.func = _self_test
    elif args.command is None:
        app = plugins.app()
        if app is None or not app.available():
            parser.print_help()
            print(f"\nhint: {app.install_hint if app is not None else _PLUGGED['gui'][1]}")
            return 0
        args.func = app.run
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
