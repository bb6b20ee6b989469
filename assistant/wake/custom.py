"""A custom wake word: a small classifier (trained by ``assistant train wakeword``,
exported to ONNX) on openWakeWord's speech embeddings, run with onnxruntime.

The model is ``NAME.onnx`` (input ``embeddings``: (batch, 16, 96); output ``score``:
(batch, 1), a probability) with ``NAME.onnx.json`` beside it::

    {"format": "assistant-wake", "phrase": "hey computer", "threshold": 0.5,
     "window": 16, "features": "openwakeword-embedding", "frames": 1}

``frames`` (optional, default 1): the word counts as heard only when that many
consecutive scores (80 ms apart) are over the threshold; the engine reports the lowest
of the last ``frames`` scores.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .features import DIM, STEP, WINDOW, EmbeddingStream, FrontEnd

__all__ = ["FEATURES", "FORMAT", "INPUT", "OUTPUT", "CustomEngine", "read_wake_config"]

log = logging.getLogger(__name__)

FORMAT = "assistant-wake"
FEATURES = "openwakeword-embedding"
INPUT = "embeddings"
OUTPUT = "score"

_PRIME = (WINDOW + 10) * STEP

_HINT = "train the word again (assistant train wakeword) or import an intact copy"


def read_wake_config(model: Path) -> dict[str, Any]:
    """The ``.onnx.json`` of a custom wake model, checked."""
    path = model.with_name(model.name + ".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path} is missing: a wake model needs its .onnx.json", hint=_HINT
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})", hint=_HINT) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"{path}: not a wake model config (format is not {FORMAT!r})", hint=_HINT)
    phrase, threshold = data.get("phrase"), data.get("threshold")
    if not isinstance(phrase, str) or not phrase.strip():
        raise ModelError(f"{path}: the config has no phrase", hint=_HINT)
    if not isinstance(threshold, (int, float)) or not 0.0 < float(threshold) < 1.0:
        raise ModelError(f"{path}: threshold must be a number between 0 and 1", hint=_HINT)
    frames = data.get("frames", 1)
    if not isinstance(frames, int) or isinstance(frames, bool) or not 1 <= frames <= 5:
        raise ModelError(f"{path}: frames must be a whole number from 1 to 5", hint=_HINT)
    if data.get("window") != WINDOW or data.get("features") != FEATURES:
        raise ModelError(
            f"{path}: made for other features (window {data.get('window')}, "
            f"features {data.get('features')!r}; this version uses {WINDOW}, {FEATURES!r})",
            hint=_HINT,
        )
    return data


class CustomEngine:
    """One custom wake word, streaming.

    Args:
        model: the ``.onnx`` file.
        name: the word's name (its store id).
        front: a shared front end (several custom words share one).
    """

    def __init__(self, model: Path, name: str, front: FrontEnd | None = None) -> None:
        import onnxruntime as ort

        meta = read_wake_config(model)
        self.name = name
        self.phrase = str(meta["phrase"])
        self.base_threshold = float(meta["threshold"])
        self.frames = int(meta.get("frames", 1))
        self._recent: deque[float] = deque(maxlen=self.frames)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{model}: not a loadable ONNX model ({exc})", hint=_HINT) from None
        self._stream = EmbeddingStream(front or FrontEnd())
        self._window: deque[np.ndarray] = deque(maxlen=WINDOW)
        self._prime()

    def _prime(self) -> None:
        """Fill the front end and the window with silence, so that a word at the very
        start of a stream is scored (the window spans ~2 s)."""
        for _, emb in self._stream.feed(np.zeros(_PRIME, np.int16)):
            self._window.append(emb)

    def score(self, window: np.ndarray) -> float:
        """The classifier's score on one (16, 96) window."""
        x = window.reshape(1, WINDOW, DIM).astype(np.float32)
        return float(self._session.run([OUTPUT], {INPUT: x})[0].reshape(-1)[0])

    def process(self, samples: np.ndarray) -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        for offset, emb in self._stream.feed(samples):
            self._window.append(emb)
            if len(self._window) == WINDOW:
                self._recent.append(self.score(np.stack(self._window)))
                out.append((offset, min(self._recent)))
        return out

    def reset(self) -> None:
        self._stream.reset()
        self._window.clear()
        self._recent.clear()
        self._prime()
