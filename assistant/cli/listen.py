"""``listen`` (a hands-free conversation in the terminal) and ``devices``."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..pipeline import (
    Announced,
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    ReplySources,
    ReplyToken,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)
from .common import add_model_options, apply_model_options, open_history, pick_conversation
from .context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    listen = sub.add_parser(
        "listen",
        help="a hands-free spoken conversation through the microphone and speakers",
        description="Listens on the microphone, answers aloud, shows what it heard, what it "
        "answered and each turn's latency. Speak over a reply to interrupt it. Ctrl+C leaves.",
    )
    listen.add_argument("--new", action="store_true", help="start a new conversation")
    listen.add_argument(
        "--echo",
        choices=("auto", "webrtc", "gate", "off"),
        help="echo cancellation (default: audio.echo_cancellation; off for headphones)",
    )
    listen.add_argument(
        "--wake",
        action="append",
        metavar="NAME",
        help="wake mode: sleep until this wake word (repeatable; default: wake.words when "
        "wake.enabled is set in the config)",
    )
    listen.add_argument("--no-wake", action="store_true", help="answer any speech (no wake word)")
    add_model_options(listen, "asr", "llm", "voice")
    listen.set_defaults(func=_listen)

    devices = sub.add_parser("devices", help="list audio input and output devices")
    devices.set_defaults(func=_devices)


class _TerminalView:
    """Prints the conversation's events; partial transcripts overwrite one line."""

    def __init__(self) -> None:
        self._partial = False
        self._tty = sys.stdout.isatty()
        self._lock = threading.Lock()
        self._asleep = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._show(event)

    def _show(self, event: Event) -> None:
        if isinstance(event, PartialTranscript):
            if self._tty:
                print(f"\r\033[K… {event.text}", end="", flush=True)
                self._partial = True
            return
        if self._partial:
            print("\r\033[K", end="")
            self._partial = False
        if isinstance(event, FinalTranscript):
            print(f"you: {event.text}\nassistant: ", end="", flush=True)
        elif isinstance(event, ReplySources):
            names = ", ".join(dict.fromkeys(s.name for s in event.sources))
            print(f"(from your documents: {names})\nassistant: ", end="", flush=True)
        elif isinstance(event, ReplyToken):
            print(event.text, end="", flush=True)
        elif isinstance(event, TurnFinished):
            print(" [interrupted]" if event.interrupted else "", flush=True)
        elif isinstance(event, TurnMetrics):
            steps = [("transcript", event.transcript), ("command", event.matched),
                     ("first token", None if event.matched else event.first_token),
                     ("first audio", event.first_audio)]  # fmt: skip
            shown = ", ".join(f"{name} {value:.2f} s" for name, value in steps if value)
            if shown:
                print(f"  (after you stopped: {shown})", flush=True)
        elif isinstance(event, Announced) and event.played:
            print(f"\n[{event.kind}] {event.text}", flush=True)
        elif isinstance(event, StateChanged) and event.state in (State.ASLEEP, State.LISTENING):
            if event.state == State.ASLEEP or self._asleep:
                print("(asleep)" if event.state == State.ASLEEP else "(listening)", flush=True)
            self._asleep = event.state == State.ASLEEP
        elif isinstance(event, ErrorEvent):
            print(f"\nerror: {event.message}", file=sys.stderr, flush=True)
            if event.hint:
                print(f"hint: {event.hint}", file=sys.stderr, flush=True)


def _listen(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..audio.echo import make_echo_canceller
    from ..audio.playback import Player
    from ..commands import CommandHost
    from ..engines import Engines
    from ..knowledge import document_hooks, open_if_indexed
    from ..pipeline import Conversation, MicrophoneSource

    config = apply_model_options(ctx.config, args)
    gate = None
    if not args.no_wake and (args.wake or config.wake.enabled):
        from ..wake import WakeGate, load_detector

        words = args.wake or config.wake.words
        gate = WakeGate(load_detector(words, ctx.store, config.wake.sensitivity),
                        follow_up_s=config.wake.follow_up_s)  # fmt: skip
    engines = Engines.load(config, ctx.store)
    player = Player(engines.voice.sample_rate, config.audio.output_device)
    echo_mode = args.echo or config.audio.echo_cancellation
    echo = None
    if echo_mode != "off":
        echo = make_echo_canceller(echo_mode, delay_ms=config.audio.echo_delay_ms)
    store = open_history()
    conversation_id, history = pick_conversation(store, config, new=args.new)
    knowledge = open_if_indexed(ctx.store)  # loaded once; searched on the turn thread
    commands = CommandHost.open()  # timers, the time, sums...: answered without the model
    engines.chat = commands.tool_chat(engines.chat)  # and as tools, for a model that can
    conversation = Conversation.from_engines(
        engines,
        config=config,
        source=lambda: MicrophoneSource(config.audio.input_device),
        player=player,
        history=history,
        memory=store,
        conversation_id=conversation_id,
        echo=echo,
        wake=gate,
        chime=_chime(player, engines.voice.sample_rate) if gate and config.wake.chime else None,
        hooks=document_hooks(knowledge),
    )
    conversation.subscribe(_TerminalView())
    commands.attach(conversation, engines.voice.sample_rate)
    if gate is not None:
        words = ", ".join(gate.detector.words)
        print(f"Asleep; say {words} and then your request. Ctrl+C leaves.")
    else:
        print("Listening; speak when you like, speak over a reply to interrupt it. "
              "Ctrl+C leaves.")  # fmt: skip
    try:
        conversation.start()
        while True:  # the conversation runs on its own threads until Ctrl+C
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        conversation.stop()
        commands.close()
        player.close()
        store.close()
        if knowledge is not None:
            knowledge.close()
    return 0


def _chime(player: Any, rate: int) -> Callable[[], None]:
    from ..wake.chime import chime_player

    return chime_player(player, rate)


def _devices(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..audio import list_devices
    from ..audio.pulse import pulse_devices

    devices = list_devices()
    server = [d for d in pulse_devices() if not d.is_monitor]
    if not devices and not server:
        print("no audio devices found (see `assistant doctor`)", flush=True)
        return 1
    if server:
        print("Sound server devices (choose them by name or description):")
        for kind, title in (("source", "microphones"), ("sink", "speakers")):
            print(f"  {title}:")
            for each in (d for d in server if d.kind == kind):
                mark = "  (default)" if each.is_default else ""
                print(f"    {each.description}{mark}\n      name: {each.name}")
        print()
    print("PortAudio devices:")
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>6}  name")
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        print(
            f"{d.index:>3}  {d.inputs:>3} {d.outputs:>3}  {d.default_rate:>6.0f}  {d.name} {mark}"
        )
    print("\n< default input, > default output; set audio.input_device / audio.output_device "
          "to a description, a name or a number (Settings → Audio does it too)")  # fmt: skip
    return 0
