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

from assistant.fsutil import atomic_write_text, replace_dir

from ..common import choose_precision, plot_losses, resolve_device
from .base import load_tokenizer, model_config, offline
from .checkpoints import latest_llm_checkpoint, make_callback
from .data import Example
from .errors import TrainError
from .memory import GIB, MemoryPlan, plan, shape_of
from .options import LlmFitOptions
from .tokens import REAL, Tokenized, pack, pad_each, tokenize_example

__all__ = [
    "TARGET_MODULES",
    "LlmFitResult",
    "TokenCounter",
    "collate",
    "fit",
    "is_main_process",
    "memory_plan",
    "rank",
]

log = logging.getLogger(__name__)

TARGET_MODULES = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}
"""Architecture -> the linear layers LoRA adapts (others: every linear layer)."""


@dataclass
class LlmFitResult:
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
    tokens_processed: int
    """Real tokens of the batches this run trained on (all processes together), counted
    as the collator produced them."""
    tokens_per_second: float
    """``tokens_processed / seconds``."""
    final_loss: float | None
    """Last logged training loss."""
    precision: str
    """``fp32``, ``fp16`` or ``bf16``."""
    world_size: int
    """Processes that trained together."""
    device: str = "cpu"
    """Where the fit trained (``cpu``, ``cuda``)."""
    batch_size: int = 0
    """Sequences per device per step, as used (chosen from memory for ``auto``)."""
    gradient_checkpointing: bool = False
    """Whether activations were recomputed."""
    quantize: str = "none"
    """``none`` or ``4bit`` (QLoRA)."""
    memory_estimate_gib: float = 0.0
    """The estimate the fit was checked against before loading."""
    peak_memory_gib: float | None = None
    """Peak GPU memory torch allocated (``None`` on the CPU)."""


def rank() -> int:
    """This process's rank under torchrun / accelerate (0 when alone)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process writes results (rank 0)."""
    return rank() == 0


def tokenize_all(tokenizer: Any, examples: list[Example]) -> list[Tokenized]:
    """Every example tokenized with its loss mask."""
    return [tokenize_example(tokenizer, e) for e in examples]


def build_rows(items: list[Tokenized], options: LlmFitOptions, pad_id: int) -> list[dict[str, Any]]:
    """Training rows: packed blocks, or (no packing) each example padded to the longest."""
    if options.packing:
        return pack(items, options.seq_length, pad_id, seed=options.seed)
    longest = min(options.seq_length, max(len(t.input_ids) for t in items))
    return pad_each(items, longest, pad_id)


class _Rows:
    """A map-style dataset over prepared rows (a list is all the Trainer needs)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


def collate(rows: list[dict[str, Any]], flatten: bool = False) -> dict[str, Any]:
    """Stack rows of equal length into tensors (packed rows carry no attention mask:
    the restarting ``position_ids`` make the mask block-diagonal). A row's count of
    real tokens (``REAL``) is bookkeeping and not passed on.

    ``flatten`` joins the rows' real tokens into one row without any padding, positions
    restarting per example (what flash attention's variable-length kernel needs: it
    reads document boundaries from ``position_ids`` only in a batch of one row).
    """
    import torch

    if flatten and all("position_ids" in row for row in rows):
        joined: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
        for row in rows:
            real = int(row.get(REAL, len(row["input_ids"])))
            for key, values in joined.items():
                values += row[key][:real]
        return {key: torch.tensor([values]) for key, values in joined.items()}
    return {key: torch.tensor([row[key] for row in rows]) for key in rows[0] if key != REAL}


def real_tokens(rows: list[dict[str, Any]]) -> int:
    """Real (non-padding) tokens of ``rows``."""
    return sum(int(row.get(REAL, len(row["input_ids"]))) for row in rows)


class TokenCounter:
    """The collator of the fit: :func:`collate`, remembering each batch's real tokens
    in the order the batches were made, so the tokens of the steps really trained can
    be summed (the data loader may make a batch ahead that is never trained)."""

    def __init__(self, flatten: bool = False) -> None:
        self.batches: list[int] = []
        self.flatten = flatten

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append(real_tokens(rows))
        return collate(rows, self.flatten)

    def trained(self, batches: int) -> int:
        """Real tokens of the first ``batches`` batches made."""
        return sum(self.batches[:batches])


def lora_model(model: Any, options: LlmFitOptions) -> Any:
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
    options: LlmFitOptions, output: Path, precision: str, rows: int, device: str = "", **extra: Any
) -> Any:
    """The Trainer's arguments for ``options``."""
    import torch
    from transformers import TrainingArguments

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cpu = not torch.cuda.is_available() or device == "cpu"
    gpu = not cpu
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    # transformers 5 renamed gradient checkpointing and folded warmup_ratio into
    # warmup_steps (a float below 1 is a ratio); 4.x knows only the old names.
    if "activation_checkpointing" in known:
        extra["activation_checkpointing"] = bool(options.gradient_checkpointing)
    else:
        extra["gradient_checkpointing"] = bool(options.gradient_checkpointing)
    if options.gradient_checkpointing:
        extra["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if gpu and options.fused_optimizer:
        extra["optim"] = "adamw_torch_fused"
    if options.compile:
        extra["torch_compile"] = True
    if "warmup_ratio" in known:
        extra["warmup_ratio"] = options.warmup_ratio
    else:
        extra["warmup_steps"] = options.warmup_ratio
    return TrainingArguments(
        output_dir=str(output),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        per_device_train_batch_size=max(options.batch_size, 1),
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


def memory_plan(base: Path, options: LlmFitOptions) -> tuple[MemoryPlan, str, str]:
    """(the memory plan, device, precision) of fitting ``base`` with ``options``, from
    the base's config alone (no weights are loaded): what ``fit --dry-run`` prints and
    what ``fit`` checks before it loads anything."""
    from .speed import check_speed_options

    device = resolve_device(options.device)
    precision = choose_precision(options.precision, device)
    check_speed_options(options, device, base)
    return plan(shape_of(model_config(base)), options, precision, device), device, precision


def fit(
    run_dir: Path,
    base: Path,
    train: list[Example],
    options: LlmFitOptions,
    *,
    resume: bool = True,
) -> LlmFitResult:
    """Fine-tune ``base`` on ``train``; writes ``adapter/``, ``fit.json``, ``loss.png``
    and TensorBoard logs into ``run_dir``, checkpoints into ``run_dir/checkpoints``.

    With ``resume`` (the default), a fit that was killed continues from its newest
    complete checkpoint. A fit the memory estimate says cannot fit is refused before
    any weight is loaded.
    """
    from transformers import Trainer, set_seed

    from .speed import attention_of, build_model

    offline()
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    memory, device, precision = memory_plan(base, options)
    if not memory.fits:
        raise TrainError(
            memory.message(),
            hint="try --quantize 4bit, --gradient-checkpointing, a smaller --batch-size or "
            "--seq-length (`assistant train llm fit RUN_DIR --dry-run` checks without training)",
        )
    options = dataclasses.replace(
        options,
        batch_size=memory.estimate.batch_size,
        gradient_checkpointing=memory.estimate.checkpointing,
    )
    set_seed(options.seed)
    tokenizer = load_tokenizer(base)
    items = tokenize_all(tokenizer, train)
    rows = build_rows(items, options, int(tokenizer.pad_token_id))
    # The Trainer places the model itself (a 4-bit one is loaded onto its device).
    model = build_model(base, options, precision, device, place=False)
    if is_main_process():
        trainable, total = model.get_nb_trainable_parameters()
        log.info("LoRA: %d of %d parameters trainable", trainable, total)

    resume_from = latest_llm_checkpoint(checkpoints, clean=is_main_process()) if resume else None
    if not resume and checkpoints.exists() and is_main_process():
        shutil.rmtree(checkpoints)
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "logs")
    args = training_arguments(
        options, checkpoints, precision, len(rows), device, report_to=["tensorboard"]
    )
    timer = _Timer()
    counter = TokenCounter(flatten=attention_of(options) == "flash_attention_2")
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_Rows(rows),
        data_collator=counter,
        callbacks=[make_callback(checkpoints, options.keep_checkpoints), timer.callback()],
    )
    if resume_from is not None:
        log.warning("resuming from %s", resume_from)
    _reset_peak(device)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    state = trainer.state
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    train_tokens = sum(min(len(t.input_ids), options.seq_length) for t in items)
    first = state.global_step if timer.first_step is None else timer.first_step
    steps_done = state.global_step - first
    world = int(os.environ.get("WORLD_SIZE", "1"))
    tokens_done = _all_processes(counter.trained(steps_done * options.grad_accum))
    result = LlmFitResult(
        steps=state.global_step,
        resumed_from=str(resume_from) if resume_from else None,
        train_tokens=train_tokens,
        trained_tokens=sum(t.trained_tokens for t in items),
        rows=len(rows),
        seconds=timer.seconds,
        tokens_processed=tokens_done,
        tokens_per_second=tokens_done / timer.seconds if timer.seconds else 0.0,
        final_loss=losses[-1] if losses else None,
        precision=precision,
        world_size=world,
        device=device,
        batch_size=options.batch_size,
        gradient_checkpointing=bool(options.gradient_checkpointing),
        quantize=options.quantize,
        memory_estimate_gib=round(memory.estimate.total / GIB, 2),
        peak_memory_gib=_peak_gib(device),
    )
    if trainer.is_world_process_zero():
        save_adapter(trainer.model, tokenizer, run_dir / "adapter")
        atomic_write_text(run_dir / "fit.json", json.dumps(asdict(result), indent=2) + "\n")
        atomic_write_text(
            run_dir / "log_history.json", json.dumps(state.log_history, indent=1) + "\n"
        )
        plot_losses(state.log_history, run_dir / "loss.png", title="LoRA fine-tuning loss")
    return result


def _all_processes(count: int) -> int:
    """``count`` summed over the processes training together (itself when alone)."""
    import torch

    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return count
    total = torch.tensor([count], dtype=torch.int64)
    if torch.distributed.get_backend() == "nccl":
        total = total.cuda()
    torch.distributed.all_reduce(total)
    return int(total.item())


def _reset_peak(device: str) -> None:
    import torch

    if device.split(":")[0] == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float | None:
    import torch

    if device.split(":")[0] != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated() / GIB, 2)


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
