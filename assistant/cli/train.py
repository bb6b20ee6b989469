"""``train``: fine-tune the language model (``train llm``) or train a voice (``train voice``).

The commands live in the ``training`` package (the ``train`` extra: torch, transformers,
peft, coqui-tts). Their parsers import nothing heavy, so ``assistant --help`` stays fast
and the runtime never loads torch; an installation without the package (the desktop
bundle) gets a ``train`` command that says how to get it.
"""

from __future__ import annotations

import argparse
from typing import Any

from .context import CliContext

__all__ = ["register"]

_NOT_INSTALLED = "training is not part of this installation"
_INSTALL_HINT = "install the assistant from source with the train extra: pip install -e '.[train]'"


def register(sub: Any) -> None:
    """Add ``train`` and its targets to the top-level subparsers."""
    train = sub.add_parser(
        "train",
        help="fine-tune the language model, train a voice or the end-of-turn model (train extra)",
        description="Offline training on your own data: `train llm` (LoRA fine-tune, "
        "evaluation, GGUF export, quantization) and `train voice` (dataset, VITS fit, "
        "evaluation, ONNX export), each with the steps prepare, fit, eval, export and run; "
        "and `train turn` (the end-of-turn model, one step).",
    )
    train.set_defaults(func=lambda args, ctx: _help(train))
    targets = train.add_subparsers(dest="train_target", metavar="TARGET")
    try:
        from training.llm.cli import register as register_llm
        from training.turn.cli import register as register_turn
        from training.voice.cli import register as register_voice
    except ImportError:
        train.set_defaults(func=_not_installed)
        return
    register_llm(targets)
    register_voice(targets)
    register_turn(targets)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _not_installed(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..errors import AssistantError

    raise AssistantError(_NOT_INSTALLED, hint=_INSTALL_HINT)
