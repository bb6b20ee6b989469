"""What a Wyoming ``describe`` is answered with: one program per service (speech-to-text,
voices, replies, wake words) and the models of each."""

from __future__ import annotations

from typing import Any

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)

from .engines import ServeEngines

__all__ = ["build_info"]

_ATTRIBUTION = Attribution(name="offline-voice-assistant", url="")
_MULTILINGUAL = ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "ru", "zh", "ja"]


def _about(name: str, description: str) -> dict[str, Any]:
    """The fields every program and model has."""
    return {
        "name": name,
        "attribution": _ATTRIBUTION,
        "installed": True,
        "description": description,
        "version": None,
    }


def build_info(engines: ServeEngines) -> Info:
    """Every program this server offers; the wake program only when a word is on offer."""
    multilingual = getattr(engines.transcriber, "multilingual", False)
    asr = AsrProgram(
        **_about("assistant-asr", "faster-whisper speech recognition"),
        models=[
            AsrModel(
                **_about(engines.asr_id, engines.asr_id),
                languages=_MULTILINGUAL if multilingual else ["en"],
            )
        ],
    )
    voices = []
    for voice_id in engines.voice_ids():
        loaded = engines.voices.get(voice_id)
        language = loaded.language.split("-")[0] if loaded is not None else "en"
        voices.append(TtsVoice(**_about(voice_id, voice_id), languages=[language]))
    tts = TtsProgram(**_about("assistant-tts", "the assistant's voices"), voices=voices)
    handle = HandleProgram(
        **_about("assistant-handle", "answers with the assistant's language model"),
        models=[HandleModel(**_about(engines.chat_id, engines.chat_id), languages=["en"])],
    )
    wake = []
    words = engines.wake.available() if engines.wake is not None else []
    if words:
        models = [
            WakeModel(**_about(w.name, w.phrase), languages=list(w.languages), phrase=w.phrase)
            for w in words
        ]
        wake.append(WakeProgram(**_about("assistant-wake", "the assistant's wake words"),
                                models=models))  # fmt: skip
    return Info(asr=[asr], tts=[tts], handle=[handle], wake=wake)
