"""``models``: list, verify, import, remove, pull and locate models in the store."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..store.catalog import KINDS
from .context import CliContext

if TYPE_CHECKING:
    from ..config import Config
    from ..store import InstalledModel

__all__ = ["register"]

_CONFIG_KEY = {"asr": "asr.model", "llm": "llm.model", "voice": "tts.voice", "vad": "vad.model"}


def register(sub: Any) -> None:
    """Add ``models`` and its subcommands to the top-level subparsers."""
    models = sub.add_parser("models", help="list, verify, import, pull and remove models")
    models.set_defaults(func=lambda args, ctx: _help(models))
    cmds = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND")

    p = cmds.add_parser("list", help="installed models (--all: also those you can pull)")
    p.add_argument("--all", action="store_true", help="also list catalog models not installed")
    p.add_argument("--kind", choices=KINDS, help="only models of this kind")
    p.set_defaults(func=lambda args, ctx: _list(ctx, show_all=args.all, kind=args.kind))

    p = cmds.add_parser("verify", help="check sizes and sha256 of installed models")
    p.add_argument("ids", nargs="*", metavar="ID", help="models to check (default: all)")
    p.set_defaults(func=lambda args, ctx: _verify(ctx, args.ids))

    p = cmds.add_parser("import", help="copy a model file or folder into the store")
    p.add_argument("path", type=Path, help=".gguf (llm), .onnx + .onnx.json (voice), "
                   "CTranslate2 whisper folder (asr) or .onnx (vad)")  # fmt: skip
    p.add_argument("--kind", required=True, choices=KINDS, help="what the model is")
    p.add_argument("--id", help="id to give it (default: from the file name)")
    p.add_argument("--name", help="human-readable name")
    p.add_argument("--licence", default="unknown", help="licence of the weights")
    p.set_defaults(func=_import)

    p = cmds.add_parser("remove", help="delete a pulled, imported or trained model")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=lambda args, ctx: _remove(ctx, args.id))

    p = cmds.add_parser("pull", help="download a catalog model (resumable, checksummed)")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=lambda args, ctx: _pull(ctx, args.id))

    p = cmds.add_parser("path", help="print a model's main file or folder (for scripts)")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=lambda args, ctx: _path(ctx, args.id))


def _path(ctx: CliContext, model_id: str) -> int:
    print(ctx.store.get(model_id).path)
    return 0


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _active(config: Config) -> dict[str, str]:
    return {
        "asr": config.asr.model,
        "llm": config.llm.model,
        "voice": config.tts.voice,
        "vad": config.vad.model,
    }


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _list(ctx: CliContext, *, show_all: bool, kind: str | None) -> int:
    from ..store import human_size

    store, active = ctx.store, _active(ctx.config)
    order = {k: i for i, k in enumerate(KINDS)}
    everything = store.installed()
    models = sorted(
        (m for m in everything if kind in (None, m.kind)),
        key=lambda m: (order[m.kind], m.id),
    )
    rows = [["", "ID", "KIND", "SIZE", "STATE", "SOURCE", "LICENCE"]]
    for model in models:
        mark = "*" if active.get(model.kind) == model.id else ""
        rows.append([mark, model.id, model.kind, human_size(model.size),
                     store.verified_state(model), model.source, model.licence])  # fmt: skip
    installed = {m.id for m in everything}
    if show_all:
        for entry in store.catalog:
            if entry.id in installed or kind not in (None, entry.kind):
                continue
            mark = "*" if active.get(entry.kind) == entry.id else ""
            state = "not installed" if entry.embedded else "available"
            rows.append([mark, entry.id, entry.kind, human_size(entry.size), state,
                         "pull" if not entry.embedded else "package", entry.licence])  # fmt: skip
    if len(rows) == 1:
        print("no models installed" + (f" of kind {kind}" if kind else ""))
    else:
        _table(rows)
    print(f"\nmarked * = active in the config; store: {store.root}")
    for k, model_id in active.items():
        if kind in (None, k) and model_id not in installed:
            key = _CONFIG_KEY[k]
            print(f"note: the active {k} model {model_id!r} ({key}) is not installed",
                  file=sys.stderr)  # fmt: skip
    if show_all and any(not e.embedded and e.id not in installed for e in store.catalog):
        print("`assistant models pull ID` downloads an available model")
    return 0


def _verify(ctx: CliContext, ids: list[str]) -> int:
    store = ctx.store
    targets = ids or [m.id for m in store.installed()]
    failed = 0
    for model_id in targets:
        try:
            result = store.verify(model_id)
        except AssistantError as exc:  # e.g. not installed: report it, check the others
            failed += 1
            print(f"{model_id}: FAILED\n  {exc}")
            continue
        if result.ok:
            print(f"{model_id}: ok")
            continue
        failed += 1
        print(f"{model_id}: FAILED")
        for problem in result.problems:
            print(f"  {problem}")
    if failed:
        print(f"\n{failed} of {len(targets)} model(s) failed verification; re-pull or "
              "re-import them (`assistant models remove ID` first)", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def _import(args: argparse.Namespace, ctx: CliContext) -> int:
    model = ctx.store.import_path(
        args.path, args.kind, id=args.id, name=args.name, licence=args.licence
    )
    _print_installed(model, "imported")
    return 0


def _print_installed(model: InstalledModel, verb: str) -> None:
    print(f"{verb} {model.id} ({model.kind}) -> {model.path}")
    if model.kind == "voice-base":
        print(f"to fine-tune a voice from it: assistant train voice fit DATA --base {model.id}")
    elif model.kind == "wake":
        print(f'to use it, set wake.words = ["{model.id}"] in the config, '
              f"or pass --wake {model.id}")  # fmt: skip
    else:
        print(f'to use it, set {_CONFIG_KEY[model.kind]} = "{model.id}" in the config')


def _remove(ctx: CliContext, model_id: str) -> int:
    ctx.store.remove(model_id)
    print(f"removed {model_id}")
    kind = next((k for k, v in _active(ctx.config).items() if v == model_id), None)
    if kind is not None:
        print(f"note: the config still uses it as {_CONFIG_KEY[kind]}; choose another "
              "model there", file=sys.stderr)  # fmt: skip
    return 0


def _progress_bar(label: str) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    """A progress callback drawing on stderr, and a function that closes the bar."""
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with faster-whisper; draw a plain bar without it
        return _plain_bar(label)
    bars: list[Any] = []  # made on the first report, so a pull refused up front draws nothing

    def update(done: int, total: int | None) -> None:
        if not bars:
            bars.append(tqdm(desc=label, total=total, initial=done, unit="B", unit_scale=True,
                             unit_divisor=1024, file=sys.stderr, dynamic_ncols=True))  # fmt: skip
            return
        bars[0].update(done - bars[0].n)

    def close() -> None:
        if bars:
            bars[0].close()

    return update, close


def _plain_bar(label: str) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    drawn: list[bool] = []

    def update(done: int, total: int | None) -> None:
        drawn.append(True)
        if total:
            filled = int(30 * done / total)
            text = f"{'#' * filled:<30} {100 * done / total:5.1f}%"
        else:
            text = f"{done / 1e6:.1f} MB"
        print(f"\r{label} [{text}]", end="", file=sys.stderr, flush=True)

    return update, lambda: print(file=sys.stderr) if drawn else None


def _pull(ctx: CliContext, model_id: str) -> int:
    from ..store import PullCancelled

    store = ctx.store
    entry = store.catalog.get(model_id)
    update, close = _progress_bar(model_id)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["model"] = store.pull(model_id, progress=update, cancel=cancel)
        except BaseException as exc:  # re-raised in the main thread below
            outcome["error"] = exc
        finally:
            finished.set()

    # The download runs in a thread so that Ctrl+C (delivered to the main thread) can
    # stop it cleanly between chunks, leaving the partial file for a resume. The main
    # thread waits on an Event, not Thread.join: a join interrupted by Ctrl+C can leave
    # the thread looking finished while it still runs.
    threading.Thread(target=work, name=f"pull-{model_id}", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        while not finished.wait(0.2):
            pass
    finally:
        close()
    error = outcome.get("error")
    if isinstance(error, PullCancelled):
        print(f"interrupted: {error.message}", file=sys.stderr)
        print(f"hint: {error.hint}", file=sys.stderr)
        return 130
    if error is not None:
        raise error
    _print_installed(outcome["model"], f"pulled {entry.name}:")
    return 0
