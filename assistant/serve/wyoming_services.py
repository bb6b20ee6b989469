"""The Wyoming services Home Assistant uses: speech-to-text (``asr``), the voices
(``tts``), the assistant's replies (``handle``) and, through :mod:`.wake`, wake words.

One TCP server answers every domain: a connection says ``describe`` and gets ``info``
listing each program; then ``transcribe`` + audio gets a ``transcript``, ``synthesize``
gets audio back, and a ``transcript`` sent to us (the handle service) gets ``handled``
with the language model's reply. The engines and their slots are the HTTP server's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from ..audio import ASR_RATE, Audio
from ..errors import AssistantError
from ..llm import GenerationOptions, Message, complete
from .engines import ServeEngines
from .formats import pcm16
from .queueing import call_in_thread, iterate_in_thread
from .wake import WakeDetector

__all__ = ["AssistantEventHandler", "build_info"]

log = logging.getLogger(__name__)

_ATTRIBUTION = Attribution(name="offline-voice-assistant", url="")
_MAX_AUDIO_S = 120.0
"""Longest utterance accepted for transcription; longer audio is cut off."""
_SAMPLES_PER_CHUNK = 2048


def _languages(engines: ServeEngines) -> list[str]:
    if getattr(engines.transcriber, "multilingual", False):
        return ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "ru", "zh", "ja"]
    return ["en"]


def build_info(engines: ServeEngines, wake: WakeDetector | None = None) -> Info:
    """What ``describe`` answers: every program this server offers."""
    asr = AsrProgram(
        name="assistant-asr",
        attribution=_ATTRIBUTION,
        installed=True,
        description="faster-whisper speech recognition",
        version=None,
        models=[
            AsrModel(
                name=engines.asr_id,
                attribution=_ATTRIBUTION,
                installed=True,
                description=engines.asr_id,
                version=None,
                languages=_languages(engines),
            )
        ],
    )
    voices = []
    for voice_id in engines.voice_ids():
        language = "en"
        loaded = engines.voices.get(voice_id)
        if loaded is not None:
            language = loaded.language.split("-")[0]
        voices.append(
            TtsVoice(
                name=voice_id,
                attribution=_ATTRIBUTION,
                installed=True,
                description=voice_id,
                version=None,
                languages=[language],
            )
        )
    tts = TtsProgram(
        name="assistant-tts",
        attribution=_ATTRIBUTION,
        installed=True,
        description="the assistant's voices",
        version=None,
        voices=voices,
    )
    handle = HandleProgram(
        name="assistant-handle",
        attribution=_ATTRIBUTION,
        installed=True,
        description="answers with the assistant's language model",
        version=None,
        models=[
            HandleModel(
                name=engines.chat_id,
                attribution=_ATTRIBUTION,
                installed=True,
                description=engines.chat_id,
                version=None,
                languages=["en"],
            )
        ],
    )
    wake_programs = []
    if wake is not None:
        wake_programs.append(
            WakeProgram(
                name="assistant-wake",
                attribution=_ATTRIBUTION,
                installed=True,
                description="the assistant's wake words",
                version=None,
                models=[
                    WakeModel(
                        name=wake.name,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        description=wake.phrase,
                        version=None,
                        languages=wake.languages,
                        phrase=wake.phrase,
                    )
                ],
            )
        )
    return Info(asr=[asr], tts=[tts], handle=[handle], wake=wake_programs)


class AssistantEventHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        engines: ServeEngines,
        wake: WakeDetector | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self.engines = engines
        self.wake = wake
        self._mode = "asr"
        self._language: str | None = None
        self._audio: list[np.ndarray] = []
        self._samples = 0
        self._detected = False
        self._converter = AudioChunkConverter(rate=ASR_RATE, width=2, channels=1)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(build_info(self.engines, self.wake).event())
        elif Transcribe.is_type(event.type):
            self._mode = "asr"
            self._language = Transcribe.from_event(event).language
        elif Detect.is_type(event.type):
            if self.wake is None:
                await self.write_event(
                    Error(text="no wake word model is installed", code="wake-unavailable").event()
                )
                return True
            self._mode = "wake"
            self._detected = False
            self.wake.reset()
        elif AudioStart.is_type(event.type):
            self._audio, self._samples = [], 0
        elif AudioChunk.is_type(event.type):
            await self._on_chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._on_stop()
        elif Synthesize.is_type(event.type):
            await self._synthesize(Synthesize.from_event(event))
        elif Transcript.is_type(event.type):
            await self._handle(Transcript.from_event(event).text)
        else:
            log.debug("ignoring Wyoming event %s", event.type)
        return True

    async def _on_chunk(self, chunk: AudioChunk) -> None:
        pcm = self._converter.convert(chunk).audio
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if self._mode == "wake" and self.wake is not None:
            if not self._detected and self.wake.process(samples):
                self._detected = True
                await self.write_event(Detection(name=self.wake.name).event())
            return
        if self._samples < _MAX_AUDIO_S * ASR_RATE:
            self._audio.append(samples)
            self._samples += len(samples)

    async def _on_stop(self) -> None:
        if self._mode == "wake":
            if not self._detected:
                await self.write_event(NotDetected().event())
            return
        audio = Audio(
            np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32), ASR_RATE
        )
        self._audio, self._samples = [], 0
        language = self._language

        def work() -> Any:
            if (
                language
                and language != "en"
                and not getattr(self.engines.transcriber, "multilingual", True)
            ):
                language_kw: dict[str, Any] = {}
            else:
                language_kw = {"language": language} if language else {}
            return self.engines.transcriber.transcribe(audio, **language_kw)

        try:
            transcript = await call_in_thread(self.engines.asr_slots, work)
        except AssistantError as exc:
            await self.write_event(Error(text=exc.message, code="asr-failed").event())
            return
        await self.write_event(
            Transcript(text=transcript.text, language=transcript.language).event()
        )

    async def _synthesize(self, request: Synthesize) -> None:
        engines = self.engines
        voice_id = request.voice.name if request.voice and request.voice.name else None
        voice_id = voice_id or engines.config.tts.voice
        loop = asyncio.get_running_loop()
        try:
            voice = await loop.run_in_executor(None, engines.voice, voice_id)
        except KeyError:
            await self.write_event(
                Error(
                    text=f"the voice {voice_id!r} is not installed", code="voice-not-found"
                ).event()
            )
            return
        rate = voice.sample_rate
        await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())

        # Each sentence is sent as soon as it is made.
        def make(cancel: threading.Event) -> Iterator[bytes]:
            for part in voice.synthesize(request.text):
                if cancel.is_set():
                    return
                yield pcm16(part.audio.samples)

        step = _SAMPLES_PER_CHUNK * 2
        parts = iterate_in_thread(engines.slots_for_voice(voice_id), make, threading.Event())
        try:
            async for data in parts:
                for start in range(0, len(data), step):
                    chunk = AudioChunk(
                        rate=rate, width=2, channels=1, audio=data[start : start + step]
                    )
                    await self.write_event(chunk.event())
        except AssistantError as exc:
            await self.write_event(Error(text=exc.message, code="tts-failed").event())
            return
        finally:
            await parts.aclose()
        await self.write_event(AudioStop().event())

    async def _handle(self, text: str) -> None:
        engines = self.engines
        if not text.strip():
            await self.write_event(NotHandled(text="I did not hear anything.").event())
            return
        messages = [Message("system", engines.config.llm.system_prompt), Message("user", text)]
        options = GenerationOptions(
            max_tokens=engines.config.llm.max_tokens,
            temperature=engines.config.llm.temperature,
            top_p=engines.config.llm.top_p,
        )
        try:
            reply = await call_in_thread(
                engines.chat_slots, lambda: complete(engines.chat, messages, options)
            )
        except AssistantError as exc:
            await self.write_event(NotHandled(text=exc.message).event())
            return
        await self.write_event(Handled(text=reply.strip()).event())
