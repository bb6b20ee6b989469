"""The tokenizer part of a GGUF file: read from the base GGUF, or built from a Hugging Face
``tokenizer.json`` (byte-level BPE, as SmolLM2, Qwen2 and Llama 3 use)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExportError

__all__ = ["Vocab", "vocab_from_gguf", "vocab_from_hf"]

log = logging.getLogger(__name__)

# llama.cpp's token types (gguf.TokenType).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


@dataclass
class Vocab:
    """Everything llama.cpp needs to tokenize like the model was trained."""

    model: str
    """``gpt2`` (byte-level BPE) or ``llama`` (SentencePiece)."""
    pre: str
    """llama.cpp's pre-tokenizer name (how text is split before BPE)."""
    tokens: list[str]
    """Token texts, by id."""
    types: list[int]
    """Token types, by id (normal, control, user-defined, unused, byte)."""
    merges: list[str] = field(default_factory=list)
    """BPE merges as ``"a b"``, highest priority first."""
    scores: list[float] = field(default_factory=list)
    """SentencePiece scores (empty for BPE)."""
    special: dict[str, int] = field(default_factory=dict)
    """``bos``, ``eos``, ``unk``, ``pad``, ... -> token id."""
    add_bos: bool | None = None
    """Whether a BOS token is put in front of every prompt."""
    chat_template: str | None = None
    """The Jinja chat template."""

    def padded(self, size: int) -> Vocab:
        """The vocab padded with unused tokens to the model's embedding rows."""
        if size < len(self.tokens):
            raise ExportError(
                f"the tokenizer has {len(self.tokens)} tokens but the model's embedding only "
                f"{size} rows",
                hint="the tokenizer does not belong to this model",
            )
        extra = size - len(self.tokens)
        if extra:
            log.info("padding the vocabulary with %d unused tokens", extra)
        self.tokens = self.tokens + [f"[PAD{i}]" for i in range(len(self.tokens), size)]
        self.types = self.types + [UNUSED] * extra
        if self.scores:
            self.scores = self.scores + [-1e4] * extra
        return self


def vocab_from_gguf(path: Path) -> Vocab:
    """The tokenizer stored in a GGUF file (the base model's, carried over unchanged)."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def value(key: str) -> Any:
        fld = reader.get_field(key)
        return None if fld is None else fld.contents()

    tokens = value("tokenizer.ggml.tokens")
    if not tokens:
        raise ExportError(f"{path} holds no tokenizer (tokenizer.ggml.tokens is missing)")
    special = {}
    for name in ("bos", "eos", "unknown", "padding", "seperator", "eot", "eom"):
        token_id = value(f"tokenizer.ggml.{name}_token_id")
        if token_id is not None:
            special[name] = int(token_id)
    add_bos = value("tokenizer.ggml.add_bos_token")
    return Vocab(
        model=str(value("tokenizer.ggml.model")),
        pre=str(value("tokenizer.ggml.pre") or "default"),
        tokens=[str(t) for t in tokens],
        types=[int(t) for t in value("tokenizer.ggml.token_type") or [NORMAL] * len(tokens)],
        merges=[str(m) for m in value("tokenizer.ggml.merges") or []],
        scores=[float(s) for s in value("tokenizer.ggml.scores") or []],
        special=special,
        add_bos=None if add_bos is None else bool(add_bos),
        chat_template=value("tokenizer.chat_template"),
    )


# Pre-tokenizer regexes of tokenizer.json -> llama.cpp's name for the same splitting.
_QWEN2 = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
_LLAMA3 = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"


def _pre_tokenizer_name(pre: Any) -> str:
    """llama.cpp's pre-tokenizer for a tokenizer.json ``pre_tokenizer`` section."""
    if not pre:
        return "default"
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    patterns = [
        (p.get("pattern") or {}).get("Regex", "") for p in parts if p.get("type") == "Split"
    ]
    if any(_QWEN2 in pattern for pattern in patterns):
        return "qwen2"
    if any(_LLAMA3 in pattern for pattern in patterns):
        return "llama-bpe"
    digits = [p for p in parts if p.get("type") == "Digits"]
    if kinds and kinds[-1] == "ByteLevel" and not patterns:
        if digits and digits[0].get("individual_digits"):
            return "smollm"
        if not digits:
            return "gpt-2"
    log.warning("unknown pre-tokenizer %s: llama.cpp will split text its default way", kinds)
    return "default"


def vocab_from_hf(folder: Path, chat_template: str | None = None) -> Vocab:
    """The tokenizer of a Hugging Face model folder (its ``tokenizer.json``)."""
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise ExportError(
            f"{folder} has no tokenizer.json",
            hint="only fast (tokenizers-library) tokenizers can be written to GGUF",
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise ExportError(
            f"{path}: only byte-level BPE tokenizers (SmolLM2, Qwen2, Llama 3 style) can be "
            f"converted from a Hugging Face folder, not {model.get('type')!r}"
            + (" with byte fallback (SentencePiece style)" if model.get("byte_fallback") else ""),
            hint="start from a GGUF base instead: its tokenizer is carried over unchanged",
        )
    vocab: dict[str, int] = dict(model["vocab"])
    added = {t["content"]: t for t in data.get("added_tokens", [])}
    for content, token in added.items():
        vocab[content] = int(token["id"])
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [UNUSED] * size
    for text, token_id in vocab.items():
        tokens[token_id] = text
        token = added.get(text)
        types[token_id] = (
            NORMAL if token is None else CONTROL if token.get("special") else USER_DEFINED
        )
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    config = _json_or_empty(Path(folder) / "tokenizer_config.json")
    special = {}
    for key, name in (
        ("bos_token", "bos"),
        ("eos_token", "eos"),
        ("unk_token", "unknown"),
        ("pad_token", "padding"),
    ):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str) and value in vocab:
            special[name] = vocab[value]
    template: Any = chat_template or config.get("chat_template")
    jinja = Path(folder) / "chat_template.jinja"
    if template is None and jinja.is_file():
        template = jinja.read_text(encoding="utf-8")
    add_bos = config.get("add_bos_token")
    return Vocab(
        model="gpt2",
        pre=_pre_tokenizer_name(data.get("pre_tokenizer")),
        tokens=tokens,
        types=types,
        merges=merges,
        special=special,
        add_bos=None if add_bos is None else bool(add_bos),
        chat_template=template if isinstance(template, str) else None,
    )


def _json_or_empty(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
