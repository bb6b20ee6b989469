"""``chat``: a text conversation with the language model, optionally spoken aloud."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..llm import Message
from .common import (
    add_model_options,
    apply_model_options,
    open_history,
    open_player,
    pick_conversation,
)
from .context import CliContext

if TYPE_CHECKING:
    from ..commands import CommandRouter

__all__ = ["register"]

_HELP = "commands: /new starts a new conversation, /quit leaves (or Ctrl+D); Ctrl+C stops a reply"


def register(sub: Any) -> None:
    chat = sub.add_parser(
        "chat",
        help="a text conversation in the terminal",
        description="Type a message, get a streamed reply. In a terminal it continues "
        "your latest conversation (and says which); --new starts a new one. When stdin is "
        "not a terminal, each line is one message, each reply is printed on its own "
        "line(s) and a new conversation is started unless --continue, so it can be "
        "scripted: echo 'Hello' | assistant chat",
    )
    chat.add_argument("--speak", action="store_true", help="also speak the replies aloud")
    chat.add_argument("--system", metavar="TEXT", help="system prompt for this conversation")
    chat.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    chat.add_argument("--seed", type=int, help="sampling seed, for repeatable replies")
    which = chat.add_mutually_exclusive_group()
    which.add_argument(
        "--new",
        action="store_true",
        help="start a new conversation instead of continuing the latest",
    )
    which.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="continue the latest conversation also when the input is piped",
    )
    add_model_options(chat, "llm", "voice")
    chat.set_defaults(func=_chat)


def _chat(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..engines import load_chat_model, load_voice
    from ..knowledge import context_message, open_if_indexed, retrieve, source_line
    from ..oneshot import TurnTimings, speak_reply
    from ..reply import build_messages, generation_options

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
    commands = _commands(voice if player is not None else None, player)
    from ..commands.toolchat import with_tools

    chat_model = with_tools(model, commands.context)  # a model that can call tools gets them
    knowledge = open_if_indexed(ctx.store)  # None unless `assistant docs add` was used
    store = open_history()
    # Piped input is a script: a stale conversation must not steer its replies.
    new = args.new or (not interactive and not args.continue_)
    conversation, history = pick_conversation(store, config, new=new)
    if interactive:
        print(f"Chatting with {config.llm.model}. {_HELP}")
        print(_which(store, conversation, history))
    try:
        while True:
            try:
                line = _read_message(interactive)
            except KeyboardInterrupt:  # Ctrl+C at the prompt leaves
                print()
                break
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
            command = commands.handle(line)
            if command is not None:  # answered locally, without the language model
                if interactive:
                    print("assistant> ", end="")
                print(command.text, flush=True)
                if voice is not None and player is not None and command.text:
                    for chunk in voice.synthesize(command.text):
                        player.play(chunk.audio)
                    player.wait()
                for action in command.actions:
                    if action.kind == "new_conversation" and history:
                        conversation, history = store.new_conversation(), []
                    elif action.kind == "rate" and voice is not None:
                        voice.speaking_rate = voice.speaking_rate * action.value
                if not any(a.kind == "new_conversation" for a in command.actions):
                    history += [Message("user", line), Message("assistant", command.text)]
                    store.add_turn(
                        conversation,
                        line,
                        command.text,
                        metrics={"match_ms": command.match_ms, "handle_ms": command.handle_ms},
                        started_at=time.time(),
                    )
                continue
            found = retrieve(knowledge, line).passages if knowledge is not None else ()
            messages = build_messages(config.llm.system_prompt, history, line)
            if found:  # the passages go just before the question
                messages.insert(len(messages) - 1, context_message(found))
            if interactive:
                print("assistant> ", end="", flush=True)
            started_at, timings = time.time(), TurnTimings()
            written: list[str] = []
            show = _shower(written)
            interrupted = False
            try:
                reply_text = speak_reply(
                    chat_model,
                    voice if player is not None else None,
                    messages,
                    options,
                    timings,
                    on_chunk=(lambda chunk: player.play(chunk.audio)) if player else None,
                    on_text=show,
                ).text
                print(flush=True)
                if found:  # the reply ends by naming its source
                    print(source_line(found), flush=True)
                    reply_text = f"{reply_text} {source_line(found)}"
                if player is not None:
                    player.wait()
            except KeyboardInterrupt:  # Ctrl+C stops this reply and keeps what came
                interrupted = True
                if player is not None:
                    player.stop()
                reply_text = "".join(written).strip()
                print(" [stopped]", flush=True)
            history += [Message("user", line), Message("assistant", reply_text)]
            store.add_turn(
                conversation,
                line,
                reply_text,
                interrupted=interrupted,
                metrics=dataclasses.asdict(timings),
                started_at=started_at,
            )
    finally:
        commands.close()
        store.close()
        if knowledge is not None:
            knowledge.close()
        if player is not None:
            player.close()
    return 0


def _commands(voice: Any, player: Any) -> CommandRouter:
    """The local command router, with timers and reminders that print (and speak) their
    announcements while the chat runs."""
    from ..audio import Audio
    from ..commands import CommandContext, CommandRouter, NotesStore, Scheduler
    from ..commands.chime import chime

    def announce(announcement: Any) -> None:
        print(f"\n[{announcement.item.kind}] {announcement.text}", flush=True)
        if voice is not None and player is not None:
            player.play(Audio(chime(voice.sample_rate), voice.sample_rate))
            for chunk in voice.synthesize(announcement.text):
                player.play(chunk.audio)

    scheduler = Scheduler(on_announce=announce)
    scheduler.start()
    return CommandRouter(CommandContext(scheduler=scheduler, notes=NotesStore()))
def _shower(written: list[str]) -> Callable[[str], None]:
    """Prints reply deltas as they come and keeps them (Ctrl+C keeps what was shown)."""

    def show(delta: str) -> None:
        written.append(delta)
        print(delta, end="", flush=True)

    return show


def _which(store: Any, conversation: int, history: list) -> str:
    """The line that says which conversation the chat continues."""
    if not history:
        return "(a new conversation)"
    summary = store.conversation(conversation)
    title = f' "{summary.title}"' if summary.title else ""
    turns = f", {summary.turn_count} turn(s)"
    return (
        f"(continuing conversation {conversation}{title}{turns}: the model sees it; "
        "/new or `assistant chat --new` starts a new one)"
    )


def _read_message(interactive: bool) -> str | None:
    try:
        line = input("you> ") if interactive else sys.stdin.readline()
    except EOFError:
        return None
    if not interactive and line == "":
        return None
    return line.strip()
