"""``docs``: the index of the user's own documents (add, list, remove, reindex, search)."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from .context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``docs`` and its subcommands to the top-level subparsers."""
    docs = sub.add_parser(
        "docs",
        help="index folders of your documents and search them",
        description="Folders you add are indexed into knowledge.sqlite3 in the data directory "
        "(text, Markdown, HTML, PDF, DOCX, ODT); questions about them are answered from it "
        "with the file named as the source.",
    )
    docs.set_defaults(func=lambda args, ctx: _help(docs))
    cmds = docs.add_subparsers(dest="docs_command", metavar="SUBCOMMAND")

    p = cmds.add_parser("add", help="add a folder and index it")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.set_defaults(func=_add)

    p = cmds.add_parser("list", help="indexed folders, their file counts and errors")
    p.add_argument("--files", action="store_true", help="list every file, not only errors")
    p.set_defaults(func=_list)

    p = cmds.add_parser("remove", help="forget a folder and its passages")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.set_defaults(func=_remove)

    p = cmds.add_parser(
        "reindex",
        help="bring the index up to date with the folders (new, edited, moved, deleted files)",
        description="Only changed files are read; passages whose text is unchanged keep "
        "their vectors. A run that was stopped carries on where it stopped.",
    )
    p.add_argument("folder", type=Path, nargs="?", metavar="FOLDER", help="only this folder")
    p.add_argument("--force", action="store_true", help="re-read every file")
    p.set_defaults(func=_reindex)

    p = cmds.add_parser("search", help="the passages that best match a query")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=5, metavar="N", help="show N passages")
    p.add_argument("--mode", choices=("hybrid", "vector", "keyword"), default="hybrid",
                   help="by meaning and words (default), meaning only, or words only")  # fmt: skip
    p.set_defaults(func=_search)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _open(ctx: CliContext) -> Any:
    from ..knowledge import open_knowledge

    return open_knowledge(ctx.store)


def _progress_printer() -> Any:
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(progress: Any) -> None:
        now = time.monotonic()
        done = progress.path is None
        if not done and now - last[0] < (0.2 if tty else 5.0):
            return
        last[0] = now
        name = progress.path.name if progress.path is not None else "done"
        line = (
            f"indexing {progress.done}/{progress.total} files, {progress.passages} passages: {name}"
        )
        if tty:
            print(f"\r{line[:100]:<100}", end="" if not done else "\n", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    return show


def _sync(kb: Any, folder: Path | None, force: bool = False) -> int:
    report = kb.sync(folder, progress=_progress_printer(), force=force)
    rate = report.embedded / report.seconds if report.seconds > 0 else 0.0
    print(
        f"{report.added} new, {report.updated} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged, {report.failed} not readable; "
        f"{report.passages} passages written ({report.embedded} embedded, {rate:.0f}/s) "
        f"in {report.seconds:.1f} s"
    )
    failed = kb.files(folder, errors_only=True)
    for status in failed[:20]:
        print(f"  not indexed: {status.path}: {status.error}")
    if len(failed) > 20:
        print(f"  … and {len(failed) - 20} more (`assistant docs list` shows all)")
    return 0


def _add(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(ctx) as kb:
        kb.add_folder(args.folder)
        return _sync(kb, args.folder)


def _remove(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(ctx) as kb:
        count = kb.remove_folder(args.folder)
    print(f"removed {args.folder} ({count} files) from the index")
    return 0


def _reindex(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(ctx) as kb:
        return _sync(kb, args.folder, force=args.force)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(ctx) as kb:
        folders = kb.folders()
        if not folders:
            print("no folders indexed yet (add one with `assistant docs add FOLDER`)")
            return 0
        for folder in folders:
            print(f"{folder.path}: {folder.files} files, {folder.passages} passages, "
                  f"{folder.errors} not readable; indexed {_when(folder.synced_at)}")  # fmt: skip
            if folder.error:
                print(f"  error: {folder.error}")
            for status in kb.files(folder.path, errors_only=not args.files):
                shown = status.error or f"{status.passages} passages"
                print(f"  {status.path.relative_to(folder.path)}: {shown}")
    return 0


def _search(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(ctx) as kb:
        found = kb.search(args.query, limit=args.limit, mode=args.mode)
    if not found:
        print("nothing found")
        return 0
    for number, passage in enumerate(found, start=1):
        where = passage.path.name + (f" — {passage.heading}" if passage.heading else "")
        scores = f"score {passage.score:.3f}, similarity {passage.similarity:.2f}"
        print(f"{number}. {where}  ({scores})")
        print(f"   {passage.path}")
        print(textwrap.indent(textwrap.shorten(passage.text, 300), "   "))
    return 0
