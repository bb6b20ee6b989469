"""The bench's baseline: the plain Hugging Face Trainer as a newcomer would use it, one
example per row padded to the longest of its batch, plain AdamW, same LoRA model."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from .options import LlmFitOptions
from .tokens import IGNORE, REAL

__all__ = ["pad_batch", "plain_trainer_pass"]


def pad_batch(rows: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Rows of any length padded to the longest (labels with ``IGNORE``), as tensors."""
    import torch

    longest = max(len(row["input_ids"]) for row in rows)
    ids, labels, mask = [], [], []
    for row in rows:
        tail = longest - len(row["input_ids"])
        ids.append(list(row["input_ids"]) + [pad_id] * tail)
        labels.append(list(row["labels"]) + [IGNORE] * tail)
        mask.append([1] * len(row["input_ids"]) + [0] * tail)
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id
        self.tokens: list[int] = []
        self.rows: list[int] = []
        self.longest = 0

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self.tokens.append(sum(int(row[REAL]) for row in rows))
        self.rows.append(len(rows))
        batch = pad_batch(rows, self.pad_id)
        self.longest = max(self.longest, int(batch["input_ids"].shape[1]))
        return batch


def plain_trainer_pass(
    model: Any,
    rows: list[dict[str, Any]],
    options: LlmFitOptions,
    device: str,
    precision: str,
    steps: int = 0,
    pad_id: int = 0,
) -> tuple[float, int, int, float | None, int]:
    """Train ``model`` with the Trainer for one warm-up step and then ``steps`` steps (0:
    the rest of one pass over ``rows``): (seconds, real tokens, rows, last loss, longest
    row) of the timed steps."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    size = max(options.batch_size, 1)
    total = -(-len(rows) // size)
    wanted = min(steps + 1, total) if steps else total
    on_gpu = device.split(":")[0] == "cuda"
    marks: dict[str, float] = {}

    class _Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 1:
                if on_gpu:
                    torch.cuda.synchronize()
                marks["start"] = time.perf_counter()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if on_gpu:
                torch.cuda.synchronize()
            marks["end"] = time.perf_counter()

    collator = _Collator(pad_id)
    with tempfile.TemporaryDirectory(prefix="llm-bench-plain-") as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            max_steps=wanted,
            per_device_train_batch_size=size,
            learning_rate=options.learning_rate,
            lr_scheduler_type="constant",
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=not on_gpu,
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            optim="adamw_torch",
            dataloader_num_workers=0,
            remove_unused_columns=False,
            disable_tqdm=True,
            seed=options.seed,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=rows, data_collator=collator,
            callbacks=[_Clock()],
        )  # fmt: skip
        trainer.train()
    done = trainer.state.global_step
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    seconds = marks.get("end", 0.0) - marks.get("start", 0.0)
    tokens = sum(collator.tokens[1:done])
    return (
        seconds,
        tokens,
        sum(collator.rows[1:done]),
        (losses[-1] if losses else None),
        collator.longest,
    )
