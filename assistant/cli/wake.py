"""``wake detect``: each wake word heard in an audio file, with its time and score."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``wake`` and its subcommands."""
    wake = sub.add_parser(
        "wake",
        help="wake words: try them on recordings",
        description="Wake words. `wake detect FILE` prints each wake word heard in the file "
        "with its time and score, to try sensitivities on your own recordings.",
    )
    wake.set_defaults(func=lambda args, ctx: (wake.print_help(), 0)[1])
    cmds = wake.add_subparsers(dest="wake_command", metavar="COMMAND")
    p = cmds.add_parser("detect", help="each wake word heard in an audio file")
    p.add_argument("file", help="audio file (WAV, FLAC, OGG, MP3; any rate)")
    p.add_argument(
        "--wake",
        "-w",
        action="append",
        metavar="NAME",
        help="word to listen for (repeatable; default: wake.words from the config)",
    )
    p.add_argument(
        "--sensitivity",
        type=float,
        metavar="S",
        help="0..1 for every word (default: wake.sensitivity from the config, else 0.5)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_detect)


def _detect(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..audio.io import read_audio
    from ..errors import AssistantError
    from ..wake import RATE, load_detector

    words = args.wake or ctx.config.wake.words
    sensitivity = dict(ctx.config.wake.sensitivity)
    if args.sensitivity is not None:
        if not 0.0 <= args.sensitivity <= 1.0:
            raise AssistantError(
                f"--sensitivity must be between 0 and 1, not {args.sensitivity}",
                hint="0.5 is the model's own threshold; higher wakes more easily",
            )
        sensitivity = dict.fromkeys(words, args.sensitivity)
    detector = load_detector(words, ctx.store, sensitivity)
    audio = read_audio(args.file, RATE)
    found = detector.scan(audio.samples)
    if args.json:
        print(json.dumps({
            "file": str(args.file),
            "words": detector.words,
            "thresholds": detector.thresholds,
            "detections": [{"word": d.word, "time": round(d.time, 3), "score": round(d.score, 4)}
                           for d in found],
        }, indent=2))  # fmt: skip
        return 0
    for d in found:
        print(f"{d.time:8.2f} s  {d.word}  score {d.score:.3f}")
    if not found:
        print(f"no wake word heard ({', '.join(detector.words)}; {audio.duration:.1f} s)")
    return 0
