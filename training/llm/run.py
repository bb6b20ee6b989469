"""A run folder and the ``prepare`` step.

Layout of ``RUN_DIR``::

    run.toml            base model and options (written by prepare)
    data/train.jsonl    validated training examples
    data/eval.jsonl     held-out examples
    checkpoints/        Trainer checkpoints (complete ones carry a COMPLETE marker)
    logs/               TensorBoard
    adapter/            the LoRA adapter after fit
    fit.json, loss.png  fit summary and loss curve
    eval/               report.md, report.json, report.png
    export/             merged/ (Hugging Face), *.gguf (F16 and quantized)
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_write_text

from .data import check_lengths, read_examples, split_examples, write_split
from .errors import TrainError
from .options import DataOptions, LlmFitOptions, RunConfig, from_dict

__all__ = ["PrepareResult", "prepare", "read_run", "write_run"]

log = logging.getLogger(__name__)

RUN_FILE = "run.toml"


@dataclass(frozen=True)
class PrepareResult:
    """What ``prepare`` wrote."""

    train: int
    """Training examples."""
    eval: int
    """Held-out examples."""
    longest: int
    """Longest example in tokens (chat template applied)."""
    tokens: int
    """Tokens of all examples together."""


def write_run(run_dir: Path, config: RunConfig) -> None:
    """Write ``run.toml`` atomically."""
    import tomli_w

    atomic_write_text(Path(run_dir) / RUN_FILE, tomli_w.dumps(config.to_dict()))


def read_run(run_dir: Path) -> RunConfig:
    """Read ``run.toml`` of a prepared run."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise TrainError(
            f"{run_dir} is not a prepared run (no {RUN_FILE})",
            hint="run `assistant train llm prepare DATA --output RUN_DIR` first",
        )
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return RunConfig(
            base=data["base"],
            base_label=data.get("base_label", data["base"]),
            data=from_dict(DataOptions, data.get("data", {})),
            fit=from_dict(LlmFitOptions, data.get("fit", {})),
            data_sha256=data.get("data_sha256", ""),
        )
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise TrainError(
            f"cannot read {path}: {exc}", hint="prepare the run again into a new folder"
        ) from exc


def prepare(
    data_path: Path,
    run_dir: Path,
    base: Path,
    base_label: str,
    options: DataOptions,
    fit_options: LlmFitOptions | None = None,
) -> PrepareResult:
    """Validate ``data_path``, split it and write the run folder.

    Every check (format, roles, empty turns, length with the base's chat template)
    happens before anything is written.
    """
    from assistant.fsutil import sha256_file

    from .base import load_tokenizer
    from .checkpoints import complete_checkpoints
    from .tokens import tokenize_example

    examples = read_examples(Path(data_path), options.system_prompt)
    digest = sha256_file(Path(data_path))
    run_dir = Path(run_dir)
    if (run_dir / RUN_FILE).is_file() and complete_checkpoints(run_dir / "checkpoints"):
        previous = read_run(run_dir)
        if previous.data_sha256 != digest or previous.base != str(base):
            raise TrainError(
                f"{run_dir} holds checkpoints of a run on other data or another base",
                hint="choose a new --output folder, or delete that one",
            )
    tokenizer = load_tokenizer(base)
    if any(e.messages for e in examples) and not tokenizer.chat_template:
        raise TrainError(
            f"the base model {base_label} has no chat template",
            hint="start from an instruct/chat model, or train on plain text (.txt)",
        )
    lengths: dict[str, int] = {}

    def count(example: Any) -> int:
        lengths[example.where] = len(tokenize_example(tokenizer, example).input_ids)
        return lengths[example.where]

    check_lengths(Path(data_path), examples, count, options.max_length)
    train, held = split_examples(examples, options.eval_fraction, options.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_split(run_dir / "data", train, held)
    fit_options = fit_options or LlmFitOptions()
    longest = max(lengths.values())
    if longest > fit_options.seq_length:
        # A block must hold the longest example.
        fit_options.seq_length = 1 << (longest - 1).bit_length()
    write_run(
        run_dir,
        RunConfig(
            base=str(base),
            base_label=base_label,
            data=options,
            fit=fit_options,
            data_sha256=digest,
        ),
    )
    log.info("prepared %d training and %d eval examples in %s", len(train), len(held), run_dir)
    return PrepareResult(
        train=len(train), eval=len(held), longest=longest, tokens=sum(lengths.values())
    )
