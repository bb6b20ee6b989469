"""The end-of-turn model at run time: P(turn finished | transcript so far), on onnxruntime.

A turn model is an ONNX graph (input ``ids``: int64 ``[batch, n]``; output ``p_end``:
float ``[batch]``) with a JSON companion ``<name>.onnx.json`` stating its language, the
encoding of its input (``feature_version``: 1, hashed features from
:func:`.features.featurize` into ``buckets``; 2, a token sequence from
:func:`.features.encode` over its ``vocab``) and its held-out figures.
``assistant train turn`` makes both; the embedded default is ``assistant/assets/turn``.

Scoring one transcript costs about a millisecond or less (a regular expression, a lookup
and a small graph); the session runs on one thread so it never competes with the
recogniser.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .features import FEATURE_VERSIONS, SPECIALS, encode, featurize, words

__all__ = ["TurnModelInfo", "TurnScorer", "companion_path", "read_info"]

log = logging.getLogger(__name__)

_REQUIRED = ("language", "feature_version", "function_words")


def companion_path(model: Path) -> Path:
    """The JSON companion of a turn model: ``turn-en.onnx`` -> ``turn-en.onnx.json``."""
    return model.with_name(model.name + ".json")


@dataclass(frozen=True)
class TurnModelInfo:
    """What a turn model's companion states."""

    language: str
    """The language (ISO 639-1) of its training text; others get the silence rule."""
    buckets: int
    """Size of the hashed feature space (version 1; 0 for version 2)."""
    feature_version: int
    """The encoding it was trained with (one of :data:`.features.FEATURE_VERSIONS`)."""
    function_words: frozenset[str]
    """Common short words of its language, to tell a transcript in another language."""
    metrics: dict[str, Any]
    """Held-out figures from training (shown by tools; not used to decide)."""
    vocab: dict[str, int] = field(default_factory=dict)
    """Token -> id (version 2; empty for version 1)."""

    def encode(self, text: str) -> list[int]:
        """``text`` as this model's input row."""
        if self.feature_version == 1:
            return featurize(text, self.buckets)
        return encode(text, self.vocab)


def read_info(path: Path) -> TurnModelInfo:
    """The companion of ``path`` (the .onnx), or :class:`ModelError` naming what is wrong."""
    import json

    side = companion_path(path)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{side}: missing (a turn model needs its .onnx.json beside it)",
            hint="copy both files, or train again with `assistant train turn`",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{side}: not valid JSON ({exc})", hint="train again") from None
    if not isinstance(data, dict) or any(key not in data for key in _REQUIRED):
        raise ModelError(
            f"{side}: not a turn model's companion (needs {', '.join(_REQUIRED)})",
            hint="train again with `assistant train turn`",
        )
    version = data["feature_version"]
    if version not in FEATURE_VERSIONS:
        raise ModelError(
            f"{side}: trained on features version {version}, this assistant computes "
            f"versions {', '.join(map(str, FEATURE_VERSIONS))}",
            hint="train it again with `assistant train turn`, or update the assistant",
        )
    buckets = data.get("buckets", 0)
    vocab: dict[str, int] = {}
    if version == 1 and (not isinstance(buckets, int) or buckets < 2):
        raise ModelError(f"{side}: buckets must be an integer >= 2, not {buckets!r}")
    if version == 2:
        tokens = data.get("vocab")
        if (
            not isinstance(tokens, list)
            or tuple(tokens[: len(SPECIALS)]) != SPECIALS
            or not all(isinstance(t, str) for t in tokens)
        ):
            raise ModelError(
                f"{side}: vocab must be a list of tokens starting with {', '.join(SPECIALS)}",
                hint="train again with `assistant train turn`",
            )
        vocab = {t: i for i, t in enumerate(tokens)}
    return TurnModelInfo(
        language=str(data["language"]),
        buckets=int(buckets) if version == 1 else 0,
        feature_version=int(version),
        function_words=frozenset(str(w) for w in data["function_words"]),
        metrics=dict(data.get("metrics") or {}),
        vocab=vocab,
    )


def _latin(text: str) -> bool:
    """False when a letter of ``text`` is outside the Latin script."""
    for ch in text:
        if ch.isalpha() and ch > "\u024f" and "LATIN" not in unicodedata.name(ch, ""):
            return False
    return True


class TurnScorer:
    """A loaded turn model. :meth:`score` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.info = read_info(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"{self.path}: onnxruntime cannot load it ({str(exc).splitlines()[0]})",
                hint="the file is damaged: copy it again or `assistant train turn`",
            ) from None
        names = [i.name for i in self._session.get_inputs()]
        if names != ["ids"]:
            raise ModelError(
                f"{self.path}: not a turn model (inputs {', '.join(names)}; needs ids)",
                hint="check that this is the file you meant",
            )
        width = self._session.get_inputs()[0].shape[-1]
        wanted = len(self.info.encode(""))
        if isinstance(width, int) and width != wanted:
            raise ModelError(
                f"{self.path}: takes {width} ids per transcript, its companion's features "
                f"version {self.info.feature_version} makes {wanted}",
                hint="the .onnx and .onnx.json do not belong together: copy both again",
            )

    def handles(self, text: str, language: str | None = None) -> bool:
        """Whether ``text`` (recognised as ``language``, when known) is in the model's
        language: the same language code, Latin script, and, from four words on, at least
        one of its function words."""
        if language and language.split("-")[0].lower() != self.info.language:
            return False
        if not _latin(text):
            return False
        ws = words(text)
        return len(ws) < 4 or any(w in self.info.function_words for w in ws)

    def score_batch(self, texts: list[str]) -> np.ndarray:
        """P(finished) of each of ``texts`` (no language check)."""
        ids = np.array([self.info.encode(t) for t in texts], dtype=np.int64)
        (out,) = self._session.run(["p_end"], {"ids": ids})
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def score(self, text: str, language: str | None = None) -> float | None:
        """P(the turn is finished | ``text`` so far), or ``None`` for a transcript in a
        language the model was not trained on (the caller uses the silence rule)."""
        if not text.strip() or not self.handles(text, language):
            return None
        return float(self.score_batch([text])[0])
