"""``eval``: the fine-tuned model beside its base on the held-out examples.

Two figures per model: perplexity on the assistant tokens of the held-out examples, and
BLEU (sacrebleu, computed locally) of greedy replies to each held-out conversation against
its reference reply. One model is loaded; the base's figures come from the same weights
with the adapter switched off. The report is Markdown, JSON and a PNG chart.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_open, atomic_write_text

from ..common import resolve_device
from .base import load_base, load_tokenizer, offline
from .data import Example
from .errors import TrainError
from .tokens import IGNORE, tokenize_example

__all__ = ["EvalReport", "ModelScores", "evaluate", "write_report"]

log = logging.getLogger(__name__)


@dataclass
class ModelScores:
    """One model's figures on the held-out set."""

    perplexity: float
    """exp(mean negative log-likelihood per assistant token)."""
    loss: float
    """Mean negative log-likelihood per assistant token."""
    bleu: float | None
    """Corpus BLEU of the generated replies (``None`` for plain-text data)."""
    replies: list[str] = field(default_factory=list)
    """The generated replies, in the order of the held-out examples."""


@dataclass
class EvalReport:
    """Base beside fine-tuned."""

    examples: int
    """Held-out examples scored."""
    tokens: int
    """Assistant tokens scored for perplexity."""
    base: ModelScores
    tuned: ModelScores
    prompts: list[str] = field(default_factory=list)
    """The last user message of each generated example."""
    references: list[str] = field(default_factory=list)
    """The reference replies."""


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device


def _nll(model: Any, tokenizer: Any, examples: list[Example]) -> tuple[float, int]:
    """Summed negative log-likelihood of the loss tokens, and their count."""
    import torch

    total, count = 0.0, 0
    device = _device_of(model)
    for example in examples:
        item = tokenize_example(tokenizer, example)
        ids = torch.tensor([item.input_ids], device=device)
        labels = torch.tensor([item.labels], device=device)
        with torch.no_grad():
            logits = model(input_ids=ids).logits.float()
        # Token t predicts token t + 1: (1, T-1, V) against (1, T-1).
        shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(
            shift_logits.reshape(-1, shift_logits.shape[-1]),
            shift_labels.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
        total += float(loss)
        count += int((shift_labels != IGNORE).sum())
    return total, count


def _generate(model: Any, tokenizer: Any, messages: list[dict[str, str]], max_new: int) -> str:
    import torch

    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(_device_of(model))
    with torch.no_grad():
        out = model.generate(
            **encoded,
            max_new_tokens=max_new,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(out[0][encoded["input_ids"].shape[1] :], skip_special_tokens=True))


def _scores(
    model: Any, tokenizer: Any, examples: list[Example], chats: list[Example], max_new: int
) -> tuple[ModelScores, int]:
    import sacrebleu

    nll, count = _nll(model, tokenizer, examples)
    loss = nll / max(count, 1)
    replies = []
    for example in chats:
        messages = list(example.messages)
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        replies.append(_generate(model, tokenizer, messages[:last], max_new).strip())
    bleu = None
    if chats:
        references = [_reference(e) for e in chats]
        bleu = float(sacrebleu.corpus_bleu(replies, [references]).score)
    return ModelScores(math.exp(min(loss, 50.0)), loss, bleu, replies), count


def _reference(example: Example) -> str:
    return next(m["content"] for m in reversed(example.messages) if m["role"] == "assistant")


def evaluate(
    base: Path,
    adapter: Path,
    examples: list[Example],
    *,
    max_generate: int = 24,
    max_new: int = 64,
    device: str = "auto",
) -> EvalReport:
    """Score base and fine-tuned model on ``examples`` (BLEU on at most ``max_generate``),
    on ``device`` (``auto``: the GPU when there is one)."""
    from peft import PeftModel

    offline()
    device = resolve_device(device)
    if not (Path(adapter) / "adapter_config.json").is_file():
        raise TrainError(
            f"no adapter in {adapter}", hint="run `assistant train llm fit RUN_DIR` first"
        )
    if not examples:
        raise TrainError("no held-out examples to evaluate on")
    tokenizer = load_tokenizer(base)
    model = PeftModel.from_pretrained(load_base(base), str(adapter), is_trainable=False)
    model.to(device)
    model.eval()
    chats = [e for e in examples if e.messages][:max_generate]
    tuned, tokens = _scores(model, tokenizer, examples, chats, max_new)
    with model.disable_adapter():
        base_scores, _ = _scores(model, tokenizer, examples, chats, max_new)
    return EvalReport(
        examples=len(examples),
        tokens=tokens,
        base=base_scores,
        tuned=tuned,
        prompts=[
            next(m["content"] for m in reversed(e.messages) if m["role"] == "user") for e in chats
        ],
        references=[_reference(e) for e in chats],
    )


def write_report(report: EvalReport, folder: Path, title: str = "") -> None:
    """``report.json``, ``report.md`` and ``report.png`` in ``folder`` (each atomic)."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "report.json", json.dumps(asdict(report), indent=2) + "\n")
    atomic_write_text(folder / "report.md", _markdown(report, title))
    _chart(report, folder / "report.png")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _markdown(report: EvalReport, title: str) -> str:
    b, t = report.base, report.tuned
    lines = [
        f"# Evaluation{': ' + title if title else ''}",
        "",
        f"{report.examples} held-out example(s), {report.tokens} assistant tokens scored.",
        "",
        "| model | perplexity | BLEU |",
        "| --- | ---: | ---: |",
        f"| base | {_fmt(b.perplexity)} | {_fmt(b.bleu, 1)} |",
        f"| fine-tuned | {_fmt(t.perplexity)} | {_fmt(t.bleu, 1)} |",
        "",
    ]
    if report.prompts:
        lines += ["## Replies", ""]
        for prompt, ref, rb, rt in zip(
            report.prompts, report.references, b.replies, t.replies, strict=True
        ):
            lines += [
                f"- **user:** {prompt}",
                f"  - reference: {ref}",
                f"  - base: {rb}",
                f"  - fine-tuned: {rt}",
            ]
        lines.append("")
    return "\n".join(lines)


def _chart(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(7, 3.2), dpi=100)
    names = ["base", "fine-tuned"]
    colours = ["#999999", "#3b7dd8"]
    axes[0].bar(names, [report.base.perplexity, report.tuned.perplexity], color=colours)
    axes[0].set_title("perplexity (lower is better)")
    bleu = [report.base.bleu or 0.0, report.tuned.bleu or 0.0]
    axes[1].bar(names, bleu, color=colours)
    axes[1].set_title("BLEU (higher is better)")
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
