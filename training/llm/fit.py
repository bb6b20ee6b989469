"""LoRA fine-tuning with peft and the Hugging Face Trainer.

The same code runs on one CPU, one GPU, or several processes under ``torchrun`` /
``accelerate launch`` (DDP; gloo on CPU): the Trainer picks the distribution up from the
environment, and only rank 0 writes the adapter, the curves and the summary.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_open, atomic_write_text, replace_dir

from .base import load_base, load_tokenizer, offline
from .checkpoints import latest_checkpoint, make_callback
from .data import Example
from .errors import TrainError
from .options import FitOptions
from .tokens import Tokenized, pack, pad_each, tokenize_example

__all__ = ["TARGET_MODULES", "FitResult", "fit", "is_main_process", "rank"]

log = logging.getLogger(__name__)

TARGET_MODULES = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}
"""Architecture -> the linear layers LoRA adapts (others: every linear layer)."""


@dataclass
class FitResult:
    """What a fit did (``fit.json`` in the run folder)."""

    steps: int
    """Optimizer steps of the whole fit (resumed ones included)."""
    resumed_from: str | None
    """Checkpoint the fit continued from, if any."""
    train_tokens: int
    """Real (non-padding) tokens in one pass over the training data."""
    trained_tokens: int
    """Tokens that carry loss (assistant replies) in one pass."""
    rows: int
    """Sequences per pass: packed blocks, or padded examples without packing."""
    seconds: float
    """Wall time of the training loop in this process (after any resume)."""
    tokens_per_second: float
    """Real tokens processed per second in this run (all processes together)."""
    final_loss: float | None
    """Last logged training loss."""
    precision: str
    """``fp32``, ``fp16`` or ``bf16``."""
    world_size: int
    """Processes that trained together."""


def rank() -> int:
    """This process's rank under torchrun / accelerate (0 when alone)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process writes results (rank 0)."""
    return rank() == 0


def _precision(option: str) -> str:
    import torch

    if option != "auto":
        if option in ("fp16", "bf16") and not torch.cuda.is_available():
            raise TrainError(f"precision {option} needs a GPU", hint="use --precision fp32")
        return option
    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def tokenize_all(tokenizer: Any, examples: list[Example]) -> list[Tokenized]:
    """Every example tokenized with its loss mask."""
    return [tokenize_example(tokenizer, e) for e in examples]


def build_rows(
    items: list[Tokenized], options: FitOptions, pad_id: int
) -> list[dict[str, list[int]]]:
    """Training rows: packed blocks, or (no packing) each example padded to the longest."""
    if options.packing:
        return pack(items, options.seq_length, pad_id, seed=options.seed)
    longest = min(options.seq_length, max(len(t.input_ids) for t in items))
    return pad_each(items, longest, pad_id)


class _Rows:
    """A map-style dataset over prepared rows (a list is all the Trainer needs)."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.rows[index]


def collate(rows: list[dict[str, list[int]]]) -> dict[str, Any]:
    """Stack rows of equal length into tensors (packed rows carry no attention mask:
    the restarting ``position_ids`` make the mask block-diagonal)."""
    import torch

    return {key: torch.tensor([row[key] for row in rows]) for key in rows[0]}


def lora_model(model: Any, options: FitOptions) -> Any:
    """``model`` wrapped with a fresh LoRA adapter."""
    from peft import LoraConfig, get_peft_model

    targets: Any = options.lora.target_modules or TARGET_MODULES.get(
        model.config.model_type, "all-linear"
    )
    config = LoraConfig(
        r=options.lora.rank,
        lora_alpha=options.lora.alpha,
        lora_dropout=options.lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def training_arguments(
    options: FitOptions, output: Path, precision: str, rows: int, **extra: Any
) -> Any:
    """The Trainer's arguments for ``options``."""
    import torch
    from transformers import TrainingArguments

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cpu = not torch.cuda.is_available()
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    # transformers 5 renamed gradient checkpointing and folded warmup_ratio into
    # warmup_steps (a float below 1 is a ratio); 4.x knows only the old names.
    if "activation_checkpointing" in known:
        extra["activation_checkpointing"] = options.gradient_checkpointing
    else:
        extra["gradient_checkpointing"] = options.gradient_checkpointing
    if "warmup_ratio" in known:
        extra["warmup_ratio"] = options.warmup_ratio
    else:
        extra["warmup_steps"] = options.warmup_ratio
    return TrainingArguments(
        output_dir=str(output),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        learning_rate=options.learning_rate,
        lr_scheduler_type="cosine",
        weight_decay=0.0,
        logging_steps=options.logging_steps,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=None,  # our callback prunes, complete checkpoints only
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        seed=options.seed,
        data_seed=options.seed,
        use_cpu=cpu,
        ddp_backend="gloo" if cpu and world > 1 else None,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
        **extra,
    )


def fit(
    run_dir: Path,
    base: Path,
    train: list[Example],
    options: FitOptions,
    *,
    resume: bool = True,
) -> FitResult:
    """Fine-tune ``base`` on ``train``; writes ``adapter/``, ``fit.json``, ``loss.png``
    and TensorBoard logs into ``run_dir``, checkpoints into ``run_dir/checkpoints``.

    With ``resume`` (the default), a fit that was killed continues from its newest
    complete checkpoint.
    """
    import torch
    from transformers import Trainer, set_seed

    offline()
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    precision = _precision(options.precision)
    set_seed(options.seed)
    tokenizer = load_tokenizer(base)
    items = tokenize_all(tokenizer, train)
    rows = build_rows(items, options, int(tokenizer.pad_token_id))
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = load_base(base, dtype=dtype)
    model.config.use_cache = False
    if options.gradient_checkpointing:
        model.enable_input_require_grads()
    model = lora_model(model, options)
    if is_main_process():
        trainable, total = model.get_nb_trainable_parameters()
        log.info("LoRA: %d of %d parameters trainable", trainable, total)

    resume_from = latest_checkpoint(checkpoints, clean=is_main_process()) if resume else None
    if not resume and checkpoints.exists() and is_main_process():
        shutil.rmtree(checkpoints)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "logs")
    args = training_arguments(options, checkpoints, precision, len(rows), report_to=["tensorboard"])
    timer = _Timer()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_Rows(rows),
        data_collator=collate,
        callbacks=[make_callback(checkpoints, options.keep_checkpoints), timer.callback()],
    )
    if resume_from is not None:
        log.warning("resuming from %s", resume_from)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    state = trainer.state
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    train_tokens = sum(min(len(t.input_ids), options.seq_length) for t in items)
    first = state.global_step if timer.first_step is None else timer.first_step
    steps_done = state.global_step - first
    tokens_done = _tokens_processed(
        steps_done, state.max_steps, state.num_train_epochs, train_tokens
    )
    result = FitResult(
        steps=state.global_step,
        resumed_from=str(resume_from) if resume_from else None,
        train_tokens=train_tokens,
        trained_tokens=sum(t.trained_tokens for t in items),
        rows=len(rows),
        seconds=timer.seconds,
        tokens_per_second=tokens_done / timer.seconds if timer.seconds else 0.0,
        final_loss=losses[-1] if losses else None,
        precision=precision,
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
    )
    if trainer.is_world_process_zero():
        save_adapter(trainer.model, tokenizer, run_dir / "adapter")
        atomic_write_text(run_dir / "fit.json", json.dumps(asdict(result), indent=2) + "\n")
        atomic_write_text(
            run_dir / "log_history.json", json.dumps(state.log_history, indent=1) + "\n"
        )
        plot_losses(state.log_history, run_dir / "loss.png")
    return result


def _tokens_processed(steps: int, max_steps: int, epochs: float, tokens_per_epoch: int) -> float:
    # Steps in this process's run, as a share of all steps, times the tokens of all epochs.
    if max_steps <= 0:
        return 0.0
    return tokens_per_epoch * epochs * steps / max_steps


class _Timer:
    """Wall time of the training loop from its first step in this process, and the
    step it started at (after a resume the Trainer restores the step count first)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.first_step: int | None = None
        self._start = 0.0

    def callback(self) -> Any:
        from transformers import TrainerCallback

        timer = self

        class _Callback(TrainerCallback):  # type: ignore[misc]
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if timer.first_step is None:
                    timer.first_step = state.global_step
                    timer._start = time.perf_counter()

            def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if timer.first_step is not None:
                    timer.seconds = time.perf_counter() - timer._start

        return _Callback()


def save_adapter(model: Any, tokenizer: Any, target: Path) -> None:
    """Save the LoRA adapter (and the tokenizer) into ``target``, replacing it atomically."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    replace_dir(tmp, target)


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    """The training-loss curve as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(e["step"], e["loss"]) for e in history if "loss" in e and "step" in e]
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    if points:
        steps, losses = zip(*points, strict=True)
        axes.plot(steps, losses, marker="o", markersize=2, label="training loss")
        axes.legend()
    axes.set_xlabel("step")
    axes.set_ylabel("loss (assistant tokens)")
    axes.set_title("LoRA fine-tuning")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
