"""``assistant train wakeword "PHRASE"``: a custom wake word, trained on this machine."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(targets: Any) -> None:
    """Add ``wakeword`` to ``assistant train``'s subparsers."""
    p = targets.add_parser(
        "wakeword",
        help="train a custom wake word for any phrase (torch -> ONNX)",
        description="Trains a detector for PHRASE: the phrase said by every installed "
        "voice (Piper voices in the store, espeak-ng's English voices and variants) with "
        "varied speed, pitch, reverb and noise, plus your own takes; negatives from "
        "near-sounding phrases, other speech, noise and silence. The classifier runs on "
        "openWakeWord's speech embeddings and is registered as a wake model.",
    )
    p.add_argument("phrase", help='the wake phrase, e.g. "hey computer"')
    p.add_argument("--name", help="model id (default: the phrase, e.g. hey_computer)")
    p.add_argument("--takes", metavar="DIR", help="folder of your own recordings of the phrase")
    p.add_argument(
        "--negatives",
        action="append",
        default=[],
        metavar="PATH",
        help="recordings without the phrase (speech, room noise); repeatable",
    )
    p.add_argument("--preset", choices=("standard", "tiny"), default="standard",
                   help="standard (default, ~5-8 min on 2 cores) or tiny (tests)")  # fmt: skip
    p.add_argument("--output", "-o", metavar="DIR", help="work folder (default: in the data dir)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replace", action="store_true", help="replace an installed model of that id")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace, ctx: Any) -> int:
    from assistant.config import data_dir

    from .fit import WakeTrainOptions, train
    from .phrases import check_phrase

    phrase = check_phrase(args.phrase)
    name = args.name or re.sub(r"[^a-z0-9]+", "_", phrase).strip("_")
    output = Path(args.output) if args.output else data_dir() / "wake-training" / name
    opts = WakeTrainOptions(
        phrase=phrase,
        name=name,
        output=output,
        takes=Path(args.takes) if args.takes else None,
        negatives=[Path(n) for n in args.negatives],
        preset=args.preset,
        workers=args.workers,
        seed=args.seed,
        replace=args.replace,
    )
    result = train(opts, ctx.store, out=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps({
            "model": str(result.model), "id": result.registered, "seconds": result.seconds,
            "windows": result.windows, "positive_windows": result.positives,
            "val_recall": result.val_recall, "val_false_clip_rate": result.val_false_rate,
            "threshold": result.threshold, "frames": result.frames,
            "clips": result.counts,
        }, indent=2))  # fmt: skip
        return 0
    print(f"trained {phrase!r} in {result.seconds:.0f} s: threshold {result.threshold:.2f}, "
          f"{result.frames} frame(s) in a row; held-out phrase clips heard "
          f"{result.val_recall:.0%}, held-out other clips woken on "
          f"{result.val_false_rate:.1%}")  # fmt: skip
    print(f"registered {result.registered} -> {result.model}")
    print(f'to use it: set wake.words = ["{result.registered}"] in the config, or pass '
          f"--wake {result.registered}; try it: assistant wake detect FILE --wake "
          f"{result.registered}")  # fmt: skip
    return 0
