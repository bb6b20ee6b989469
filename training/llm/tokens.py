"""Examples -> token ids with a loss mask (assistant tokens only) -> packed blocks.

The chat template is the base model's own. The loss covers each assistant reply and the
end-of-turn tokens after it (so the model learns to stop), nothing the user or the system
said. Packing puts several examples into one block of ``seq_length`` tokens; positions
restart at 0 for each example, and transformers turns restarting positions (with no
attention mask) into a block-diagonal causal mask, so examples never see each other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .data import Example
from .errors import DataError

__all__ = ["IGNORE", "REAL", "Tokenized", "pack", "pad_each", "tokenize_example"]

IGNORE = -100
"""Label of tokens without loss (PyTorch's cross-entropy ``ignore_index``)."""

REAL = "real_tokens"
"""Key of a row's count of real (non-padding) tokens: bookkeeping, not a model input."""


@dataclass(frozen=True)
class Tokenized:
    """One example as token ids and labels (``IGNORE`` where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        """Tokens that carry loss."""
        return sum(1 for label in self.labels if label != IGNORE)


def _render(tokenizer: Any, messages: Sequence[dict[str, str]], prompt: bool) -> str:
    return str(
        tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=prompt)
    )


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_example(tokenizer: Any, example: Example) -> Tokenized:
    """Token ids and labels of one example.

    A conversation is rendered with the chat template turn by turn: the text each
    assistant reply adds is learnt, the rest is context. Plain text is learnt whole,
    followed by the end-of-sequence token.
    """
    if not example.messages:
        text = _encode(tokenizer, example.text)
        if tokenizer.eos_token_id is not None:
            text.append(int(tokenizer.eos_token_id))
        return Tokenized(text, list(text))
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    messages = list(example.messages)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:index], prompt=True)
        full = _render(tokenizer, messages[: index + 1], prompt=False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise DataError(
                f"{example.where}: the base model's chat template does not render this "
                "conversation turn by turn",
                hint="use conversations of one user message and one reply each",
            )
        context = _encode(tokenizer, prompt[len(done) :])
        reply = _encode(tokenizer, full[len(prompt) :])
        ids += context + reply
        labels += [IGNORE] * len(context) + reply
        done = full
    return Tokenized(ids, labels)


def pack(
    examples: Sequence[Tokenized], seq_length: int, pad_id: int, seed: int = 0
) -> list[dict[str, Any]]:
    """Pack examples into blocks of exactly ``seq_length`` tokens (first-fit decreasing).

    Each block has ``input_ids``, ``labels`` and ``position_ids`` (restarting at 0 for
    each example); the unused tail is padding with its own positions and no loss. An
    example longer than a block is cut to it.
    """
    order = sorted(examples, key=lambda t: len(t.input_ids), reverse=True)
    bins: list[list[Tokenized]] = []
    room: list[int] = []
    for item in order:
        size = min(len(item.input_ids), seq_length)
        for index, free in enumerate(room):
            if size <= free:
                bins[index].append(item)
                room[index] -= size
                break
        else:
            bins.append([item])
            room.append(seq_length - size)
    random.Random(seed).shuffle(bins)
    blocks = []
    for group in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for item in group:
            n = min(len(item.input_ids), seq_length)
            ids += item.input_ids[:n]
            # No loss on an example's first token: it would be predicted from the end of
            # the previous example in the block.
            labels += [IGNORE, *item.labels[1:n]]
            positions += list(range(n))
        tail = seq_length - len(ids)
        ids += [pad_id] * tail
        labels += [IGNORE] * tail
        positions += list(range(tail))
        blocks.append(
            {"input_ids": ids, "labels": labels, "position_ids": positions, REAL: seq_length - tail}
        )
    return blocks


def pad_each(examples: Sequence[Tokenized], seq_length: int, pad_id: int) -> list[dict[str, Any]]:
    """The naive layout: one example per row, padded to ``seq_length`` (the baseline
    packing is measured against)."""
    rows = []
    for item in examples:
        n = min(len(item.input_ids), seq_length)
        tail = seq_length - n
        rows.append(
            {
                "input_ids": item.input_ids[:n] + [pad_id] * tail,
                "labels": item.labels[:n] + [IGNORE] * tail,
                "attention_mask": [1] * n + [0] * tail,
                REAL: n,
            }
        )
    return rows
