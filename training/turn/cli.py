"""``assistant train turn``: build the data, fit, export to ONNX, report held-out figures,
and register the model in the store (kind ``turn``).

``assistant train turn --output assistant/assets/turn --name turn-en --no-register
--heard training/turn/heard-en.jsonl`` rebuilds the embedded default from the same data
and seed, bit for bit on the same torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.cli.context import CliContext

__all__ = ["register"]

_DESCRIPTION = (
    "Train the end-of-turn model (P(the user's turn is finished | transcript so far): "
    "three small GRUs reading the transcript's words, averaged) on English dialogue from "
    "chatterbot-corpus and request templates (with --heard, also on transcripts of some of "
    "those lines spoken and recognised), offline; export it to ONNX, print precision/recall "
    "on held-out text at each mode's thresholds, and register it in the model store as kind "
    "`turn` (use it with turn.model in the config)."
)


def register(targets: Any) -> None:
    """Add ``turn`` to ``assistant train``'s subparsers."""
    p = targets.add_parser(
        "turn", help="train the end-of-turn model (-> ONNX)", description=_DESCRIPTION
    )
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("turn-model"),
        metavar="DIR",
        help="folder for NAME.onnx and NAME.onnx.json (default: ./turn-model)",
    )
    p.add_argument("--name", default="turn-en-trained", help="file name and store id")
    p.add_argument(
        "--architecture",
        choices=("gru", "bag"),
        default="gru",
        help="gru: a GRU reading the transcript's words (default); bag: the earlier model, "
        "summed embeddings of hashed features",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--exclude",
        type=Path,
        default=None,
        metavar="FILE",
        help="text file of lines never to train on (the bench questions always are)",
    )
    p.add_argument(
        "--hear",
        type=int,
        default=None,
        metavar="N",
        help="speak N training turns, whole and cut, with espeak-ng and the configured "
        "voice, transcribe them with the configured recogniser and train on those "
        "transcripts too (writes --heard, default OUTPUT/heard-en.jsonl; about a second a "
        "turn on 2 cores)",
    )
    p.add_argument(
        "--heard",
        type=Path,
        default=None,
        metavar="FILE",
        help="also train on these transcripts of spoken training turns (the shipped ones: "
        "training/turn/heard-en.jsonl; default: text alone)",
    )
    p.add_argument("--no-register", action="store_true", help="only write the files")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_run)


def _hear(count: int, path: Path, ctx: CliContext, options: Any) -> None:
    import sys

    from assistant.turnmodel.features import words

    from .fit import bench_sentences, training_turns
    from .heard import engine_hearing, hear_clips, plan_clips, write_heard

    banned = {" ".join(words(t)) for t in bench_sentences()}
    turns = [t for t in training_turns(options) if " ".join(words(t)) not in banned]
    clips = plan_clips(turns, count, options.seed)
    print(f"speaking and transcribing {len(clips)} clips of {count} turns", file=sys.stderr)
    speak, transcribe = engine_hearing(ctx.config, ctx.store)
    heard = hear_clips(clips, speak, transcribe, lambda line: print(line, file=sys.stderr))
    write_heard(heard, path)
    print(f"wrote {path}", file=sys.stderr)


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.errors import AssistantError

    from .fit import TurnTrainOptions, train_turn_model

    extra: dict[str, Any] = {}
    if args.epochs is not None:
        if args.epochs < 1:
            raise AssistantError(f"--epochs must be at least 1, not {args.epochs}")
        extra["seq_epochs" if args.architecture == "gru" else "epochs"] = args.epochs
    if args.seed is not None:
        extra["seed"] = args.seed
    if args.exclude is not None:
        try:
            lines = args.exclude.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AssistantError(f"cannot read --exclude {args.exclude}: {exc}") from None
        extra["exclude"] = tuple(line for line in lines if line.strip())
    heard = args.heard
    if args.hear is not None:
        if args.hear < 1:
            raise AssistantError(f"--hear must be at least 1, not {args.hear}")
        heard = heard or args.output / "heard-en.jsonl"
        _hear(args.hear, heard, ctx, TurnTrainOptions(output=args.output, **extra))
    elif heard is not None and not heard.is_file():
        raise AssistantError(f"--heard {heard}: no such file", hint="make it with --hear N")
    name = args.name
    options = TurnTrainOptions(
        output=args.output, name=name, heard=heard, architecture=args.architecture, **extra
    )
    result = train_turn_model(options)
    registered = None
    if not args.no_register:
        store = ctx.store
        old = {m.id: m for m in store.installed()}.get(name)
        if old is not None and old.source == "trained":
            store.remove(name)
        registered = store.register(
            args.output,
            "turn",
            name,
            source="trained",
            name=name,
            licence="your own",
            language="en",
            origin="assistant train turn",
        ).id
    m = result.metrics
    if args.json:
        print(
            json.dumps({"onnx": str(result.onnx), "registered": registered, "metrics": m}, indent=1)
        )
        return 0
    print(f"wrote {result.onnx} ({result.train_examples} training examples)")
    held = f"{m['examples']} transcripts ({m['finished']} finished)"
    print(f"held-out: {held}, accuracy {m['accuracy']:.3f}")
    for mode, levels in m["modes"].items():
        for level, pr in levels.items():
            print(
                f"  {mode:8} {level:6} p>={pr['threshold']:.2f}: "
                f"precision {pr['precision']:.3f} recall {pr['recall']:.3f}"
            )
    rule = m["punctuation_rule"]
    print(f"  punctuation rule: precision {rule['precision']:.3f} recall {rule['recall']:.3f}")
    print("text-level turn taking (pauses of 300-700 ms inside turns; waits at their ends):")
    for who, sim in m["simulation"].items():
        print(
            f"  {who:16} cut-ins {sim['cut_in_rate']:.1%} of {sim['pauses']} pauses, "
            f"end wait p50 {sim['end_wait_p50_s']:.2f} s mean {sim['end_wait_mean_s']:.2f} s"
        )
    if registered:
        print(f'registered as {registered!r}: set turn.model = "{registered}" to use it')
    return 0
