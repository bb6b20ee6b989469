"""``chat``: a text conversation with the language model, optionally spoken aloud."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from ..llm import Message
from .common import (
    add_model_options,
    apply_model_options,
    open_history,
    open_player,
    pick_conversation,
)
from .context import CliContext

__all__ = ["register"]

_HELP = "commands: /new starts a new conversation, /quit leaves (or Ctrl+D)"


def register(sub: Any) -> None:
    chat = sub.add_parser(
        "chat",
        help="a text conversation in the terminal",
        description="Type a message, get a streamed reply. When stdin is not a terminal, "
        "each line is one message and each reply is printed on its own line(s), so it can "
        "be scripted: echo 'Hello' | assistant chat",
    )
    chat.add_argument("--speak", action="store_true", help="also speak the replies aloud")
    chat.add_argument("--system", metavar="TEXT", help="system prompt for this conversation")
    chat.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    chat.add_argument("--seed", type=int, help="sampling seed, for repeatable replies")
    chat.add_argument(
        "--new",
        action="store_true",
        help="start a new conversation instead of continuing the latest",
    )
    add_model_options(chat, "llm", "voice")
    chat.set_defaults(func=_chat)


def _chat(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..engines import load_chat_model, load_voice
    from ..knowledge import context_message, open_if_indexed, retrieve, source_line
    from ..turn import TurnTimings, generation_options, speak_reply

    config = apply_model_options(ctx.config, args)
    if args.system is not None:
        config.llm.system_prompt = args.system
    if args.temperature is not None:
        config.llm.temperature = args.temperature
    if args.seed is not None:
        config.llm.seed = args.seed
    interactive = sys.stdin.isatty()
    model = load_chat_model(config, ctx.store)
    voice = player = None
    if args.speak:
        voice = load_voice(config, ctx.store)
        player = open_player(voice.sample_rate, config.audio.output_device, required=False)
    options = generation_options(config)
    knowledge = open_if_indexed(ctx.store)  # None unless `assistant docs add` was used
    store = open_history()
    conversation, history = pick_conversation(store, config, new=args.new)
    if interactive:
        print(f"Chatting with {config.llm.model}. {_HELP}")
        if history:
            print(f"(continuing conversation {conversation}; /new starts a new one)")
    try:
        while True:
            line = _read_message(interactive)
            if line is None or line == "/quit":
                break
            if not line:
                continue
            if line == "/new":
                if history:  # an empty conversation is already a new one
                    conversation = store.new_conversation()
                history.clear()
                print("(new conversation)")
                continue
            found = retrieve(knowledge, line).passages if knowledge is not None else ()
            messages = [
                Message("system", config.llm.system_prompt),
                *history,
                *([context_message(found)] if found else []),
                Message("user", line),
            ]
            if interactive:
                print("assistant> ", end="", flush=True)
            started_at, timings = time.time(), TurnTimings()
            reply = speak_reply(
                model,
                voice if player is not None else None,
                messages,
                options,
                timings,
                on_chunk=(lambda chunk: player.play(chunk.audio)) if player else None,
                on_text=lambda delta: print(delta, end="", flush=True),
            )
            print(flush=True)
            text = reply.text
            if found:  # the reply ends by naming its source
                print(source_line(found), flush=True)
                text = f"{text} {source_line(found)}"
            if player is not None:
                player.wait()
            history += [Message("user", line), Message("assistant", text)]
            store.add_turn(
                conversation,
                line,
                text,
                metrics=dataclasses.asdict(timings),
                started_at=started_at,
            )
    except KeyboardInterrupt:
        print()
    finally:
        store.close()
        if knowledge is not None:
            knowledge.close()
        if player is not None:
            player.close()
    return 0


def _read_message(interactive: bool) -> str | None:
    try:
        line = input("you> ") if interactive else sys.stdin.readline()
    except EOFError:
        return None
    if not interactive and line == "":
        return None
    return line.strip()
