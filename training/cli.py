"""``train``: fine-tune the language model (``train llm``) or train a voice (``train voice``).

Plugged into the ``assistant`` command line through the ``assistant.commands`` entry point
(pyproject.toml). The parsers import nothing heavy, so ``assistant --help`` stays fast and
torch loads only when a training step runs. An installation without this package (the
desktop bundle) gets a ``train`` command that says how to get it (``assistant.cli``).
"""

from __future__ import annotations

import argparse
from typing import Any

from .llm.cli import register as register_llm
from .voice.cli import register as register_voice
from .wakeword.cli import register as register_wakeword

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``train`` and its targets to the top-level subparsers."""
    train = sub.add_parser(
        "train",
        help="fine-tune the language model or train a voice (needs the train extra)",
        description="Offline training on your own data: `train llm` (LoRA fine-tune, "
        "evaluation, GGUF export, quantization) and `train voice` (dataset, VITS fit, "
        "evaluation, ONNX export). Each has the steps prepare, fit, eval, export and run.",
    )
    train.set_defaults(func=lambda args, ctx: _help(train))
    targets = train.add_subparsers(dest="train_target", metavar="TARGET")
    register_llm(targets)
    register_voice(targets)
    register_wakeword(targets)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0
