"""``history``: list, show, export, start and delete remembered conversations."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..memory import ConversationStore
from .context import CliContext

__all__ = ["register"]

# Metrics (seconds) in pipeline order; others follow alphabetically.
_METRIC_ORDER = (
    "vad",
    "asr",
    "transcript",
    "first_token",
    "first_sentence",
    "first_audio",
    "reply",
    "end",
)


def register(sub: Any) -> None:
    """Add ``history`` and its subcommands to the top-level subparsers."""
    history = sub.add_parser(
        "history",
        help="list, show, export and delete remembered conversations",
        description="Conversations are remembered in history.sqlite3 in the data directory; "
        "`assistant chat` and the live assistant continue the latest one.",
    )
    history.set_defaults(func=lambda args, ctx: _help(history))
    cmds = history.add_subparsers(dest="history_command", metavar="SUBCOMMAND")

    p = cmds.add_parser("list", help="conversations, most recent first")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N")
    p.set_defaults(func=lambda args, ctx: _list(args.limit))

    p = cmds.add_parser("show", help="the turns of one conversation, with times and latencies")
    p.add_argument("id", type=int, metavar="ID")
    p.set_defaults(func=lambda args, ctx: _show(args.id))

    p = cmds.add_parser(
        "export",
        help="write conversations as chat-training JSONL",
        description='One conversation per line: {"messages": [{"role": ..., "content": ...}]}, '
        "the input format of LLM fine-tuning.",
    )
    p.add_argument("--jsonl", required=True, type=Path, metavar="FILE", help="file to write")
    p.add_argument(
        "--id", type=int, action="append", dest="ids", metavar="ID",
        help="a conversation to export (repeatable; default: all)",
    )  # fmt: skip
    p.add_argument(
        "--system", metavar="TEXT", help="start each conversation with this system prompt"
    )
    p.set_defaults(func=_export)

    p = cmds.add_parser("new", help="start a new conversation for chat and the live assistant")
    p.add_argument("--title", help="a title for it")
    p.set_defaults(func=lambda args, ctx: _new(args.title))

    p = cmds.add_parser("delete", help="delete a conversation and its turns")
    p.add_argument("id", type=int, metavar="ID")
    p.set_defaults(func=lambda args, ctx: _delete(args.id))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _list(limit: int) -> int:
    with ConversationStore() as store:
        conversations = store.conversations(limit)
        latest = store.latest_conversation()
    if not conversations:
        print("no conversations yet (start one with `assistant chat`)")
        return 0
    width = max(len(str(c.id)) for c in conversations) + 1
    print(f"{'ID':>{width}}  {'WHEN':16}  {'TURNS':>5}  TITLE")
    for c in conversations:
        mark = "*" if c.id == latest else " "
        print(f"{c.id:>{width - 1}}{mark}  {_when(c.updated_at):16}  {c.turn_count:>5}  {c.title}")
    print("(* the latest: `assistant chat` continues it)")
    return 0


def _show(conversation_id: int) -> int:
    with ConversationStore() as store:
        summary = store.conversation(conversation_id)
        turns = store.turns(conversation_id)
    print(f"conversation {conversation_id}: {summary.title or '(empty)'}")
    print(f"started {_when(summary.started_at)}, {summary.turn_count} turn(s)")
    for turn in turns:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(turn.started_at))
        print(f"\n[{stamp}]")
        print(f"you: {turn.user_text}")
        reply = turn.assistant_text or "(nothing spoken)"
        print(f"assistant: {reply}" + (" [interrupted]" if turn.interrupted else ""))
        keys = [k for k in _METRIC_ORDER if k in turn.metrics]
        keys += sorted(set(turn.metrics) - set(keys))
        shown = [f"{key.replace('_', ' ')} {turn.metrics[key]:.2f} s" for key in keys]
        if shown:
            print("latency: " + ", ".join(shown))
    return 0


def _export(args: argparse.Namespace, ctx: CliContext) -> int:
    with ConversationStore() as store:
        written = store.export_jsonl(args.jsonl, args.ids, system_prompt=args.system)
    print(f"wrote {written} conversation(s) to {args.jsonl}")
    return 0


def _new(title: str | None) -> int:
    with ConversationStore() as store:
        conversation_id = store.new_conversation(title)
    print(f"started conversation {conversation_id}; `assistant chat` will continue it")
    return 0


def _delete(conversation_id: int) -> int:
    with ConversationStore() as store:
        store.delete_conversation(conversation_id)
    print(f"deleted conversation {conversation_id}")
    return 0
