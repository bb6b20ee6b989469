"""Helpers shared by commands: model overrides, output, playback."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..errors import AssistantError, AudioFormatError

if TYPE_CHECKING:
    from ..audio import Audio
    from ..audio.playback import Player
    from ..llm import Message
    from ..memory import ConversationStore

__all__ = [
    "add_model_options",
    "apply_model_options",
    "check_output_path",
    "open_history",
    "open_player",
    "pick_conversation",
    "play_and_wait",
]

log = logging.getLogger(__name__)


def add_model_options(parser: argparse.ArgumentParser, *kinds: str) -> None:
    """``--asr/--llm/--voice ID`` and ``--device`` to override the config for one run."""
    if "asr" in kinds:
        parser.add_argument("--asr", metavar="ID", help="speech-recognition model id")
    if "llm" in kinds:
        parser.add_argument("--llm", metavar="ID", help="language model id")
    if "voice" in kinds:
        parser.add_argument("--voice", metavar="ID", help="voice id")
        parser.add_argument("--rate", type=float, metavar="R", help="speaking rate (1.0 = normal)")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="run every engine on this device"
    )


def apply_model_options(config: Config, args: argparse.Namespace) -> Config:
    """Copy command-line overrides into the config (the only place that reads them)."""
    if getattr(args, "asr", None):
        config.asr.model = args.asr
    if getattr(args, "llm", None):
        config.llm.model = args.llm
    if getattr(args, "voice", None):
        config.tts.voice = args.voice
    if getattr(args, "rate", None) is not None:
        config.tts.speaking_rate = args.rate
    if getattr(args, "device", None):
        config.asr.device = config.llm.device = config.tts.device = args.device
    config.validate()
    return config


def check_output_path(path: str | None) -> Path | None:
    """Fail before any work if the output file cannot be written."""
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() != ".wav":
        raise AudioFormatError(f"output {out} must be a .wav file")
    if not out.parent.exists():
        raise AudioFormatError(f"the folder of {out} does not exist")
    return out


def open_player(sample_rate: int, device: str, *, required: bool = True) -> Player | None:
    """A player on the output device; with ``required=False`` a missing device gives
    ``None`` and a note on stderr instead of an error."""
    from ..audio.playback import Player

    try:
        return Player(sample_rate, device)
    except AssistantError as exc:
        if required:
            raise
        print(
            f"note: no audio output ({exc.message}); replies are shown as text only",
            file=sys.stderr,
        )
        return None


def play_and_wait(player: Player, audio: Audio) -> None:
    """Play one piece of audio to the end."""
    player.play(audio)
    player.wait()


def open_history() -> ConversationStore:
    """The conversation store; a corrupt file is moved aside (said on stderr)."""
    from ..memory import open_history as _open

    store, note = _open()
    if note:
        print(f"note: {note}", file=sys.stderr)
    return store


def pick_conversation(
    store: ConversationStore, config: Config, *, new: bool
) -> tuple[int, list[Message]]:
    """The conversation to continue (the latest, unless ``new``) and its history."""
    conversation = store.latest_conversation()
    if conversation is None or (new and store.messages(conversation, last=1)):
        conversation = store.new_conversation()
    return conversation, store.history(conversation, config.llm.context_size)
