"""Voices this project trains (``assistant train voice``): a Coqui TTS VITS exported to
ONNX, with its tokenizer in ``<voice>.onnx.json``, run by onnxruntime.

Text becomes token ids here exactly as it did in training, without Coqui TTS: espeak-ng
phonemes (the copy bundled with piper-tts) through :func:`phonemize`, then the symbol
table, blanks and BOS/EOS that the config states. The training side imports
:func:`phonemize` and :class:`VitsTokenizer` from this module, so both sides share one
implementation.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import Audio
from ..compute import resolve_device
from ..config import TtsConfig
from ..errors import ModelLoadError
from ..text import split_sentences
from .base import SpeechChunk, check_speaking_rate, shrink_onnx_arena, voice_files

__all__ = [
    "CONFIG_FORMAT",
    "VitsTokenizer",
    "VitsVoice",
    "is_vits_config",
    "phonemize",
]

log = logging.getLogger(__name__)

CONFIG_FORMAT = "assistant-vits"
"""Value of the ``format`` key that marks a config as this project's (Piper's has none)."""

_espeak_lock = threading.Lock()
_espeak: Any = None


def phonemize(text: str, espeak_voice: str) -> str:
    """IPA phonemes of ``text`` as one string, as espeak-ng (bundled with piper-tts) says
    them: punctuation kept, sentences joined by a space, accents decomposed (NFD)."""
    global _espeak
    from piper.phonemize_espeak import EspeakPhonemizer

    # espeak-ng is a process-wide C library with global state: one caller at a time.
    with _espeak_lock:
        if _espeak is None:
            _espeak = EspeakPhonemizer()
        sentences = _espeak.phonemize(espeak_voice, text)
    return " ".join("".join(phonemes).strip() for phonemes in sentences if phonemes).strip()


@dataclass(frozen=True)
class VitsTokenizer:
    """Phoneme string to token ids, mirroring Coqui's ``TTSTokenizer.text_to_ids`` with
    ``use_phonemes=False`` and no text cleaner (training feeds it phonemes already)."""

    symbols: tuple[str, ...]
    """The vocabulary: a symbol's id is its index."""
    add_blank: bool
    """Put the blank id between every two ids and at both ends."""
    blank_id: int | None
    """Id of the blank symbol (needed when ``add_blank``)."""
    bos_id: int | None = None
    """Id put first, when the model was trained with BOS/EOS."""
    eos_id: int | None = None
    """Id put last, when the model was trained with BOS/EOS."""

    def __post_init__(self) -> None:
        if self.add_blank and self.blank_id is None:
            raise ValueError("add_blank needs a blank_id")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VitsTokenizer:
        """Read the ``tokenizer`` section of a voice config."""
        return cls(
            symbols=tuple(data["symbols"]),
            add_blank=bool(data["add_blank"]),
            blank_id=data.get("blank_id"),
            bos_id=data.get("bos_id"),
            eos_id=data.get("eos_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``tokenizer`` section of a voice config."""
        return {
            "symbols": list(self.symbols),
            "add_blank": self.add_blank,
            "blank_id": self.blank_id,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
        }

    def unknown(self, phonemes: str) -> set[str]:
        """Symbols of ``phonemes`` that are not in the vocabulary (they are dropped)."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return {ch for ch in phonemes if ch not in index}

    def encode(self, phonemes: str) -> list[int]:
        """Token ids of a phoneme string; unknown symbols are dropped, as Coqui does."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        ids = [index[ch] for ch in phonemes if ch in index]
        if self.add_blank:
            assert self.blank_id is not None
            spaced = [self.blank_id] * (2 * len(ids) + 1)
            spaced[1::2] = ids
            ids = spaced
        if self.bos_id is not None and self.eos_id is not None:
            ids = [self.bos_id, *ids, self.eos_id]
        return ids


def is_vits_config(config_path: Path) -> bool:
    """True when ``config_path`` is a voice config written by ``assistant train voice``."""
    try:
        data = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == CONFIG_FORMAT


class VitsVoice:
    """A voice trained by this project.

    Args:
        model_path: the ``.onnx`` file; its config is ``<model_path>.json``.
        device: ``auto``, ``cpu`` or ``cuda``.
        speaking_rate: 1.0 is the voice's own pace; 1.25 speaks 25% faster.
        threads: onnxruntime intra-op threads, 0 = its default.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "auto",
        speaking_rate: float = 1.0,
        threads: int = 0,
    ) -> None:
        model_path, config_path = voice_files(model_path, "a trained voice")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            self.tokenizer = VitsTokenizer.from_dict(config["tokenizer"])
            self.sample_rate: int = int(config["audio"]["sample_rate"])
            self.language: str = str(config["language"])
            self._espeak_voice: str = str(config["phonemizer"]["voice"])
            inference = config.get("inference", {})
            self._noise_scale = float(inference.get("noise_scale", 0.667))
            self._noise_scale_w = float(inference.get("noise_scale_w", 0.8))
            self._base_length_scale = float(inference.get("length_scale", 1.0))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(
                config_path,
                f"invalid voice config ({exc!r})",
                hint="re-export the voice with `assistant train voice export`",
            ) from exc
        self.device = resolve_device("tts", device)
        self.model_path = model_path

        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if self.device == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=providers
            )
        except Exception as exc:  # onnxruntime's errors share no base class but Exception
            raise ModelLoadError(model_path, f"onnxruntime cannot read it ({exc})") from exc
        names = {i.name for i in self._session.get_inputs()}
        if not {"input", "input_lengths", "scales"} <= names:
            raise ModelLoadError(
                model_path,
                f"not a VITS voice: its inputs are {sorted(names)}, expected "
                "input, input_lengths and scales",
            )
        self.speaking_rate = speaking_rate
        log.info("voice %s loaded on %s (%d Hz)", model_path.name, self.device, self.sample_rate)

    @classmethod
    def from_config(cls, model_path: Path, config: TtsConfig) -> VitsVoice:
        """Build from the ``[tts]`` config section and the resolved voice path."""
        return cls(model_path, device=config.device, speaking_rate=config.speaking_rate)

    @property
    def speaking_rate(self) -> float:
        """Pace relative to the voice's own; takes effect from the next sentence."""
        return self._rate

    @speaking_rate.setter
    def speaking_rate(self, rate: float) -> None:
        self._rate = check_speaking_rate(rate)

    def token_ids(self, text: str) -> list[int]:
        """The model's input for ``text``: phonemes, then ids."""
        return self.tokenizer.encode(phonemize(text, self._espeak_voice))

    def _feed(self, ids: Sequence[int]) -> dict[str, np.ndarray]:
        tokens = np.asarray([ids], dtype=np.int64)  # (1, T)
        lengths = np.asarray([tokens.shape[1]], dtype=np.int64)  # (1,)
        scales = np.asarray(
            [self._noise_scale, self._base_length_scale / self._rate, self._noise_scale_w],
            dtype=np.float32,
        )
        return {"input": tokens, "input_lengths": lengths, "scales": scales}

    def synthesize_ids(self, ids: Sequence[int]) -> np.ndarray:
        """Audio (float32, ``(n,)``) for token ids."""
        out = self._session.run(None, self._feed(ids))[0]  # (1, 1, samples)
        return np.clip(np.asarray(out, dtype=np.float32).reshape(-1), -1.0, 1.0)

    def release_memory(self) -> None:
        """Give back the memory the longest sentence so far left in onnxruntime's arena
        (see :func:`.base.shrink_onnx_arena`)."""
        shrink_onnx_arena(self._session, self._feed(self.token_ids("a")))

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Yield one chunk per sentence."""
        for sentence in split_sentences(text):
            phonemes = phonemize(sentence, self._espeak_voice)
            if not phonemes.strip(" .,;:!?\"'"):
                continue  # nothing to say (punctuation only)
            ids = self.tokenizer.encode(phonemes)
            yield SpeechChunk(Audio(self.synthesize_ids(ids), self.sample_rate), sentence)
