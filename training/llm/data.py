"""Training data: reading, validating and splitting it (no torch here).

Three inputs are accepted:

- chat JSONL, one conversation per line: ``{"messages": [{"role": ..., "content": ...}]}``
  with roles ``system`` (first only), ``user`` and ``assistant``;
- the assistant's own history, ``assistant history export --jsonl FILE`` (the same format);
- plain text (``.txt``): paragraphs separated by blank lines, each one example learnt in
  full (no chat template).

Every problem is reported with its file and line, all of them at once, so a user fixes the
file in one go; nothing is written when the data is bad.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_write_text

from .errors import DataError

__all__ = [
    "ROLES",
    "Example",
    "check_lengths",
    "read_examples",
    "read_split",
    "split_examples",
    "write_split",
]

ROLES = ("system", "user", "assistant")
"""Roles a chat message may have."""

_MAX_LISTED = 20
"""Problems listed in one error message (the rest are counted)."""


@dataclass(frozen=True)
class Example:
    """One training example: a conversation, or a piece of plain text."""

    where: str
    """``file:line`` it came from, for error messages."""
    messages: tuple[dict[str, str], ...] = ()
    """The conversation (empty for plain text)."""
    text: str = ""
    """The plain text (empty for a conversation)."""

    def to_json(self) -> dict[str, Any]:
        """One JSONL record, as ``prepare`` writes it."""
        if self.messages:
            return {"messages": [dict(m) for m in self.messages], "where": self.where}
        return {"text": self.text, "where": self.where}


def read_examples(path: Path, system_prompt: str | None = None) -> list[Example]:
    """Read and validate ``path`` (chat JSONL or plain ``.txt``).

    Raises:
        DataError: listing every bad line as ``file:line: what is wrong``.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError(f"no such data file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read the data file {path}: {exc}", hint="it must be UTF-8 text"
        ) from exc
    if path.suffix.lower() in (".txt", ".text", ".md"):
        examples = _read_text(path, raw)
    else:
        examples = _read_jsonl(path, raw, system_prompt)
    if len(examples) < 2:
        raise DataError(
            f"{path} holds {len(examples)} usable example(s); at least 2 are needed "
            "(one to train on, one to evaluate)",
            hint="add more conversations, one JSON object per line",
        )
    return examples


def _read_text(path: Path, raw: str) -> list[Example]:
    examples: list[Example] = []
    lines = raw.splitlines()
    start, block = 0, list[str]()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            examples.append(Example(where=f"{path}:{start}", text="\n".join(block)))
            block = []
    return examples


def _read_jsonl(path: Path, raw: str, system_prompt: str | None) -> list[Example]:
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        problem = _check_record(record)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        messages = tuple({"role": m["role"], "content": m["content"]} for m in record["messages"])
        if system_prompt is not None and messages[0]["role"] != "system":
            messages = ({"role": "system", "content": system_prompt}, *messages)
        examples.append(Example(where=where, messages=messages))
    if problems:
        raise _data_error(path, problems)
    return examples


def _check_record(record: Any) -> str | None:
    """What is wrong with one parsed JSONL record, or ``None``."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    messages = record.get("messages")
    if messages is None:
        return 'no "messages" key (expected {"messages": [{"role": ..., "content": ...}]})'
    if not isinstance(messages, list) or not messages:
        return '"messages" must be a non-empty list'
    for index, message in enumerate(messages):
        at = f"message {index + 1}"
        if not isinstance(message, dict):
            return f"{at} is not an object"
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            return f"{at} has unknown role {role!r} (valid roles: {', '.join(ROLES)})"
        if not isinstance(content, str):
            return f"{at} ({role}) has no text content"
        if not content.strip():
            return f"{at} ({role}) is empty"
        if role == "system" and index != 0:
            return f"{at} is a system message; only the first message may be one"
    turns = [m["role"] for m in messages if m["role"] != "system"]
    for index, (a, b) in enumerate(itertools.pairwise(turns)):
        if a == b:
            return f"two {a} messages in a row (turns {index + 1} and {index + 2})"
    if not turns or turns[0] != "user":
        return "the conversation must start with a user message (after an optional system one)"
    if "assistant" not in turns:
        return "no assistant message: there is nothing to learn from"
    return None


def _data_error(path: Path, problems: list[str]) -> DataError:
    listed = problems[:_MAX_LISTED]
    more = len(problems) - len(listed)
    text = "\n  ".join(listed) + (f"\n  ... and {more} more" if more else "")
    return DataError(
        f"{len(problems)} bad line(s) in {path}:\n  {text}",
        hint='each line must be {"messages": [{"role": "user"|"assistant"|"system", '
        '"content": "..."}]}; fix the lines above (nothing was written)',
    )


def check_lengths(
    path: Path, examples: Sequence[Example], count: Callable[[Example], int], limit: int
) -> None:
    """Raise :class:`DataError` listing each example longer than ``limit`` tokens."""
    problems = []
    for example in examples:
        tokens = count(example)
        if tokens > limit:
            problems.append(
                f"{example.where}: {tokens} tokens with the chat template, more than the "
                f"limit of {limit}"
            )
    if problems:
        error = _data_error(Path(path), problems)
        error.hint = "shorten or split these conversations, or raise --max-length"
        raise error


def split_examples(
    examples: Sequence[Example], eval_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Shuffle with ``seed`` and hold out ``eval_fraction`` (at least one example)."""
    if not 0 < eval_fraction < 1:
        raise DataError(f"the eval fraction must be between 0 and 1, not {eval_fraction}")
    order = list(examples)
    random.Random(seed).shuffle(order)
    held = max(1, round(len(order) * eval_fraction))
    held = min(held, len(order) - 1)
    return order[held:], order[:held]


def write_split(folder: Path, train: Sequence[Example], held: Sequence[Example]) -> None:
    """Write ``train.jsonl`` and ``eval.jsonl`` into ``folder`` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.jsonl", train), ("eval.jsonl", held)):
        text = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in part)
        atomic_write_text(folder / name, text)


def read_split(folder: Path, name: str) -> list[Example]:
    """Read back ``train.jsonl`` or ``eval.jsonl`` written by :func:`write_split`."""
    path = folder / name
    if not path.is_file():
        raise DataError(
            f"{path} is missing", hint="run `assistant train llm prepare` for this run first"
        )
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        messages = tuple(record.get("messages", ()))
        out.append(Example(where=record["where"], messages=messages, text=record.get("text", "")))
    return out
