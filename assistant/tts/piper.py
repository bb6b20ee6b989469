"""Piper voices: a VITS model in ONNX plus its ``.onnx.json`` config, run by onnxruntime
through piper-tts (which also phonemizes with its bundled espeak-ng)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import Audio
from ..compute import resolve_device
from ..config import TtsConfig
from ..errors import ModelLoadError
from ..text import split_sentences
from .base import SpeechChunk, check_speaking_rate, shrink_onnx_arena, voice_files
from .vits import VitsVoice, is_vits_config

__all__ = ["PiperVoice", "load_voice"]

log = logging.getLogger(__name__)


class PiperVoice:
    """A Piper voice.

    Args:
        model_path: the ``.onnx`` file; its config is ``<model_path>.json``.
        device: ``auto``, ``cpu`` or ``cuda``.
        speaking_rate: 1.0 is the voice's own pace; 1.25 speaks 25% faster.
        speaker: speaker index for multi-speaker voices.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "auto",
        speaking_rate: float = 1.0,
        speaker: int | None = None,
    ) -> None:
        model_path, config_path = voice_files(model_path, "a Piper voice")
        self.device = resolve_device("tts", device)
        self.model_path = model_path

        import piper
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidProtobuf

        try:
            self._voice = piper.PiperVoice.load(
                model_path, config_path=config_path, use_cuda=self.device == "cuda"
            )
        except (InvalidProtobuf, Fail) as exc:
            raise ModelLoadError(
                model_path, f"onnxruntime cannot read it ({_first_line(exc)})"
            ) from exc
        except (json.JSONDecodeError, KeyError, ValueError) as exc:
            raise ModelLoadError(config_path, f"invalid voice config ({_first_line(exc)})") from exc
        self.sample_rate: int = self._voice.config.sample_rate
        self.language: str = self._voice.config.espeak_voice
        self._base_length_scale: float = self._voice.config.length_scale
        self._speaker = speaker
        self.speaking_rate = speaking_rate
        log.info("voice %s loaded on %s (%d Hz)", model_path.name, self.device, self.sample_rate)

    @classmethod
    def from_config(cls, model_path: Path, config: TtsConfig) -> PiperVoice:
        """Build from the ``[tts]`` config section and the resolved voice path."""
        return cls(
            model_path,
            device=config.device,
            speaking_rate=config.speaking_rate,
            speaker=config.speaker,
        )

    @property
    def speaking_rate(self) -> float:
        """Pace relative to the voice's own; takes effect from the next sentence."""
        return self._rate

    @speaking_rate.setter
    def speaking_rate(self, rate: float) -> None:
        self._rate = check_speaking_rate(rate)
        from piper import SynthesisConfig

        # VITS stretches durations by length_scale: a higher rate means shorter phonemes.
        self._syn_config = SynthesisConfig(
            speaker_id=self._speaker, length_scale=self._base_length_scale / rate
        )

    def release_memory(self) -> None:
        """Give back the memory the longest sentence so far left in onnxruntime's arena
        (see :func:`.base.shrink_onnx_arena`)."""
        config = self._voice.config
        ids = np.asarray([self._voice.phonemes_to_ids(["a"])], dtype=np.int64)
        feed: dict[str, np.ndarray] = {
            "input": ids,
            "input_lengths": np.asarray([ids.shape[1]], dtype=np.int64),
            "scales": np.asarray(
                [config.noise_scale, config.length_scale, config.noise_w_scale], np.float32
            ),
        }
        if config.num_speakers > 1:
            feed["sid"] = np.asarray([self._speaker or 0], dtype=np.int64)
        shrink_onnx_arena(self._voice.session, feed)

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        """Yield one chunk per sentence (piper may cut a long sentence further)."""
        for sentence in split_sentences(text):
            for chunk in self._voice.synthesize(sentence, syn_config=self._syn_config):
                samples = np.asarray(chunk.audio_float_array, dtype=np.float32)
                yield SpeechChunk(Audio(samples, self.sample_rate), sentence)


def load_voice(model_path: Path, config: TtsConfig) -> PiperVoice | VitsVoice:
    """Load the voice at ``model_path`` in whichever supported format it is in: a voice
    trained by ``assistant train voice`` (its config says ``"format": "assistant-vits"``)
    or a Piper voice."""
    if is_vits_config(Path(f"{model_path}.json")):
        return VitsVoice.from_config(model_path, config)
    return PiperVoice.from_config(model_path, config)


def _first_line(exc: Any) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
