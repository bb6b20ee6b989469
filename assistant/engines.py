"""Loading the four engines from the config and the model store."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config

if TYPE_CHECKING:
    from .asr import Transcriber, WhisperTranscriber
    from .asr.remote import OpenAiTranscriber
    from .llm import ChatModel, LlamaCppChatModel
    from .llm.onnx import OnnxChatModel
    from .llm.remote import OpenAiChatModel
    from .store import ModelStore
    from .tts import PiperVoice, VitsVoice, Voice
    from .turnmodel import TurnScorer
    from .vad import SileroVad, Vad

__all__ = [
    "Engines",
    "load_chat_model",
    "load_transcriber",
    "load_turn_model",
    "load_vad",
    "load_voice",
]

log = logging.getLogger(__name__)


def load_transcriber(config: Config, store: ModelStore) -> WhisperTranscriber | OpenAiTranscriber:
    """The configured speech recogniser: faster-whisper on a local model, or a remote
    OpenAI-compatible server (``[asr] backend = "openai"``)."""
    from .asr import WhisperTranscriber

    if config.asr.backend == "openai":
        from .asr.remote import OpenAiTranscriber

        return OpenAiTranscriber.from_config(config.asr)

    model = store.resolve("asr", config.asr.model)
    return WhisperTranscriber.from_config(model.path, config.asr)


def load_chat_model(
    config: Config, store: ModelStore
) -> LlamaCppChatModel | OnnxChatModel | OpenAiChatModel:
    """The configured language model: llama.cpp on a GGUF, onnxruntime on an ONNX
    decoder exported by training, or a remote OpenAI-compatible server
    (``[llm] backend = "openai"``)."""
    from .llm import LlamaCppChatModel

    if config.llm.backend == "openai":
        from .llm.remote import OpenAiChatModel

        return OpenAiChatModel.from_config(config.llm)

    model = store.resolve("llm", config.llm.model)
    if model.path.suffix.lower() == ".onnx":
        from .llm.onnx import OnnxChatModel

        return OnnxChatModel(
            model.path,
            context_size=config.llm.context_size,
            threads=config.llm.threads,
            seed=config.llm.seed,
        )
    return LlamaCppChatModel.from_config(model.path, config.llm)


def load_voice(config: Config, store: ModelStore) -> PiperVoice | VitsVoice:
    """The configured voice."""
    from .tts import load_voice as _load

    model = store.resolve("voice", config.tts.voice)
    return _load(model.path, config.tts)


def load_vad(config: Config, store: ModelStore) -> SileroVad:
    """The configured voice-activity detector."""
    from .vad import SileroVad

    model = store.resolve("vad", config.vad.model)
    return SileroVad(model.path)


def load_turn_model(config: Config, store: ModelStore) -> TurnScorer | None:
    """The configured end-of-turn model, or ``None`` (one warning) when it is missing or
    damaged: the pipeline then ends turns by the silence rule."""
    from .errors import ModelError
    from .turnmodel import load_scorer

    try:
        model = store.resolve("turn", config.turn.model)
    except ModelError as exc:
        return load_scorer(None, problem=str(exc))
    return load_scorer(model.path)


@dataclass
class Engines:
    """The four engines of a spoken turn, and the end-of-turn model."""

    vad: Vad
    transcriber: Transcriber
    chat: ChatModel
    voice: Voice
    turn: TurnScorer | None = None

    @classmethod
    def load(cls, config: Config, store: ModelStore) -> Engines:
        """Load every engine; logs how long each took."""
        loaded: dict[str, Any] = {}
        for name, loader in (
            ("vad", load_vad),
            ("transcriber", load_transcriber),
            ("chat", load_chat_model),
            ("voice", load_voice),
            ("turn", load_turn_model),
        ):
            start = time.perf_counter()
            loaded[name] = loader(config, store)
            log.info("loaded %s in %.2f s", name, time.perf_counter() - start)
        return cls(**loaded)
