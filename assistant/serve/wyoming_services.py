"""The Wyoming services Home Assistant uses: speech-to-text (``asr``), the voices
(``tts``), the assistant's replies (``handle``) and wake words (``wake``).

One TCP server answers every domain: a connection says ``describe`` and gets ``info``
(:mod:`.wyoming_info`); then ``transcribe`` + audio gets a ``transcript``,
``synthesize`` gets audio back, a ``transcript`` sent to us (the handle service) gets
``handled`` with the language model's reply, and ``detect`` + audio gets a
``detection`` for each wake word heard, or ``not-detected`` when the audio ends without
one. The engines and their slots are the HTTP server's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize
from wyoming.wake import Detect, Detection, NotDetected

from ..audio import ASR_RATE, Audio
from ..errors import AssistantError
from ..llm import GenerationOptions, Message, complete
from .engines import ServeEngines
from .errors import ApiError
from .formats import pcm16
from .queueing import Slots, call_in_thread, iterate_in_thread
from .wake import UnknownWakeWord
from .wyoming_info import build_info

__all__ = ["AssistantEventHandler", "build_info"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_AUDIO_S = 120.0
"""Longest utterance accepted for transcription; longer audio is cut off."""
_SAMPLES_PER_CHUNK = 2048


class AssistantEventHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, engines: ServeEngines
    ) -> None:
        super().__init__(reader, writer)
        self.engines = engines
        self._mode = "asr"
        self._language: str | None = None
        self._audio: list[np.ndarray] = []
        self._samples = 0
        self._wake: Any = None  # the detect request's WakeDetector
        self._detected = False
        self._converter = AudioChunkConverter(rate=ASR_RATE, width=2, channels=1)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(build_info(self.engines).event())
        elif Transcribe.is_type(event.type):
            self._mode = "asr"
            self._language = Transcribe.from_event(event).language
        elif Detect.is_type(event.type):
            await self._detect(Detect.from_event(event).names)
        elif AudioStart.is_type(event.type):
            self._audio, self._samples, self._detected = [], 0, False
            if self._mode == "wake":
                self._wake.reset()
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

    async def _error(self, text: str, code: str) -> None:
        await self.write_event(Error(text=text, code=code).event())

    async def _engine(
        self, slots: Slots, work: Callable[[], T], failed: Callable[[str], Event]
    ) -> T | None:
        """``work()`` on an engine's slot; on failure ``failed(message)`` is sent back
        and None returned."""
        try:
            return await call_in_thread(slots, work)
        except (AssistantError, ApiError) as exc:
            await self.write_event(failed(exc.message))
            return None

    async def _detect(self, names: list[str] | None) -> None:
        wake = self.engines.wake
        if wake is None:
            await self._error("this server offers no wake words", "wake-unavailable")
            return
        loop = asyncio.get_running_loop()
        try:
            self._wake = await loop.run_in_executor(None, wake.detector, names)
        except AssistantError as exc:
            code = "wake-word-not-found" if isinstance(exc, UnknownWakeWord) else "wake-failed"
            hint = f"; {exc.hint}" if exc.hint else ""
            await self._error(exc.message + hint, code)
            self._mode = "asr"
            return
        self._mode = "wake"
        self._detected = False

    async def _on_chunk(self, chunk: AudioChunk) -> None:
        pcm = self._converter.convert(chunk).audio
        if self._mode == "wake":
            samples = np.frombuffer(pcm, dtype="<i2")
            loop = asyncio.get_running_loop()
            for found in await loop.run_in_executor(None, self._wake.feed, samples):
                self._detected = True
                # Home Assistant's clock when its chunks carry one, else the stream's.
                stamp = chunk.timestamp if chunk.timestamp is not None else round(found.time * 1000)
                await self.write_event(Detection(name=found.word, timestamp=stamp).event())
            return
        if self._samples < _MAX_AUDIO_S * ASR_RATE:
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
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
        transcriber = self.engines.transcriber
        if language == "en" or getattr(transcriber, "multilingual", True):
            language_kw: dict[str, Any] = {"language": language} if language else {}
        else:
            language_kw = {}  # an English-only model is not asked for another language
        transcript = await self._engine(
            self.engines.asr_slots,
            lambda: transcriber.transcribe(audio, **language_kw),
            lambda message: Error(text=message, code="asr-failed").event(),
        )
        if transcript is not None:
            await self.write_event(
                Transcript(text=transcript.text, language=transcript.language).event()
            )

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
        reply = await self._engine(
            engines.chat_slots,
            lambda: complete(engines.chat, messages, options),
            lambda message: NotHandled(text=message).event(),
        )
        if reply is not None:
            await self.write_event(Handled(text=reply.strip()).event())

    async def _synthesize(self, request: Synthesize) -> None:
        engines = self.engines
        voice_id = request.voice.name if request.voice and request.voice.name else None
        voice_id = voice_id or engines.config.tts.voice
        loop = asyncio.get_running_loop()
        try:
            voice = await loop.run_in_executor(None, engines.voice, voice_id)
        except KeyError:
            await self._error(f"the voice {voice_id!r} is not installed", "voice-not-found")
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
        except (AssistantError, ApiError) as exc:
            await self._error(exc.message, "tts-failed")
            return
        finally:
            await parts.aclose()
        await self.write_event(AudioStop().event())
