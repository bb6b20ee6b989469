"""``POST /v1/audio/transcriptions`` and ``POST /v1/audio/speech``."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..audio import Audio, to_mono
from ..errors import AssistantError
from . import formats
from .engines import ServeEngines
from .errors import ApiError
from .parsing import json_body, opt_number, opt_str, require_str
from .queueing import ClientGone, call_in_thread, iterate_in_thread, unless_disconnected

__all__ = ["ASR_ALIASES", "SPEECH_MODELS", "speech", "transcriptions"]

ASR_ALIASES = ("whisper-1",)
"""OpenAI's transcription model names, accepted for the configured recogniser."""
SPEECH_MODELS = ("tts-1", "tts-1-hd")
"""OpenAI's speech model names; a voice id is accepted as the model too."""
_TRANSCRIPT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_MAX_INPUT = 4096


def decode_upload(data: bytes) -> Audio:
    """The uploaded bytes as mono audio; 400 when empty or not audio."""
    import soundfile as sf

    if not data:
        raise ApiError(400, "the uploaded file is empty", "empty_file", "file")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ApiError(
            400,
            "the uploaded file is not audio that can be read; send WAV, FLAC, OGG or MP3",
            "invalid_audio",
            "file",
        ) from exc
    if len(samples) == 0:
        raise ApiError(400, "the uploaded audio has no samples", "empty_file", "file")
    return Audio(np.ascontiguousarray(to_mono(samples), dtype=np.float32), int(rate))


async def _form(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(
            415, "send the audio as multipart/form-data with a 'file' part", "invalid_content_type"
        )
    try:
        return await request.form(max_files=1, max_fields=32)
    except (AssertionError, ValueError, KeyError) as exc:  # malformed multipart
        raise ApiError(
            400, f"the multipart body cannot be parsed: {exc}", "invalid_multipart"
        ) from exc
    except Exception as exc:  # starlette raises HTTPException for too many files/fields
        if getattr(exc, "status_code", None) == 400:
            raise ApiError(400, str(getattr(exc, "detail", exc)), "invalid_multipart") from exc
        raise


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a text field, not a file", "invalid_type", name)
    return value


async def transcriptions(request: Request) -> Response:
    engines: ServeEngines = request.app.state.engines
    form = await _form(request)
    model = _field(form, "model")
    if model is None:
        raise ApiError(400, "'model' is required", "missing_required_parameter", "model")
    if model != engines.asr_id and model not in ASR_ALIASES:
        raise ApiError(
            404,
            f"the model {model!r} does not exist here; use {engines.asr_id!r} or whisper-1",
            "model_not_found",
            "model",
        )
    fmt = _field(form, "response_format") or "json"
    if fmt not in _TRANSCRIPT_FORMATS:
        raise ApiError(
            400,
            f"response_format {fmt!r} is not supported; use {', '.join(_TRANSCRIPT_FORMATS)}",
            "invalid_value",
            "response_format",
        )
    language = _field(form, "language") or None
    if language is not None:
        if not _LANGUAGE.match(language):
            raise ApiError(
                400,
                f"'language' must be an ISO-639-1 code like 'en', not {language!r}",
                "invalid_value",
                "language",
            )
        if language != "en" and not getattr(engines.transcriber, "multilingual", True):
            raise ApiError(
                400,
                f"the model {engines.asr_id!r} only recognises English",
                "unsupported_language",
                "language",
            )
    prompt = _field(form, "prompt") or None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(
            400,
            "'file' is required: the audio, as a file part",
            "missing_required_parameter",
            "file",
        )
    audio = decode_upload(await upload.read())

    def work() -> Any:
        kwargs: dict[str, Any] = {}
        if language:
            kwargs["language"] = language
        if prompt:
            kwargs["prompt"] = prompt
        return engines.transcriber.transcribe(audio, **kwargs)

    try:
        transcript = await unless_disconnected(
            request.receive, call_in_thread(engines.asr_slots, work)
        )
    except ClientGone:
        return Response(status_code=499)
    except AssistantError as exc:
        raise ApiError(500, f"speech recognition failed: {exc.message}", "engine_error") from exc
    if fmt == "text":
        return PlainTextResponse(transcript.text + "\n")
    if fmt == "srt":
        return PlainTextResponse(formats.srt(transcript.segments))
    if fmt == "vtt":
        return PlainTextResponse(formats.vtt(transcript.segments), media_type="text/vtt")
    if fmt == "verbose_json":
        return JSONResponse(formats.verbose_json(transcript))
    return JSONResponse({"text": transcript.text})


def _speech_bytes(voice: Any, text: str, speed: float, fmt: str):  # type: ignore[no-untyped-def]
    def make(cancel: threading.Event) -> Iterator[bytes]:
        rate = voice.sample_rate
        old_speed = getattr(voice, "speaking_rate", None)
        if old_speed is not None:
            voice.speaking_rate = speed
        try:
            if fmt == "wav":
                yield formats.wav_stream_header(rate)
            resampler = None
            if fmt == "pcm" and rate != formats.PCM_RATE:
                import soxr

                resampler = soxr.ResampleStream(rate, formats.PCM_RATE, 1, dtype="float32")
            flac = formats.FlacStream(rate) if fmt == "flac" else None
            for chunk in voice.synthesize(text):
                if cancel.is_set():
                    return
                samples = chunk.audio.samples
                if flac is not None:
                    encoded = flac.add(samples)
                    if encoded:  # libFLAC writes whole frames (4096 samples)
                        yield encoded
                elif resampler is not None:
                    yield formats.pcm16(resampler.resample_chunk(samples))
                else:
                    yield formats.pcm16(samples)
            if resampler is not None:
                yield formats.pcm16(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            if flac is not None:
                yield flac.end()
        finally:
            if old_speed is not None:
                voice.speaking_rate = old_speed

    return make


async def speech(request: Request) -> Response:
    engines: ServeEngines = request.app.state.engines
    data = await json_body(request)
    model = require_str(data, "model")
    voice_ids = engines.voice_ids()
    if model not in SPEECH_MODELS and model not in voice_ids:
        raise ApiError(
            404, f"the model {model!r} does not exist here; use tts-1", "model_not_found", "model"
        )
    text = require_str(data, "input")
    if not text.strip():
        raise ApiError(400, "'input' is empty", "invalid_value", "input")
    if len(text) > _MAX_INPUT:
        raise ApiError(400, f"'input' is over {_MAX_INPUT} characters", "invalid_value", "input")
    default_voice = model if model in voice_ids else engines.config.tts.voice
    voice_id = opt_str(data, "voice", default_voice) or default_voice
    if voice_id not in voice_ids:
        raise ApiError(
            400,
            f"the voice {voice_id!r} is not installed; installed voices: {', '.join(voice_ids)}",
            "voice_not_found",
            "voice",
        )
    fmt = opt_str(data, "response_format", "wav") or "wav"
    if fmt not in formats.AUDIO_TYPES:
        raise ApiError(
            400,
            f"response_format {fmt!r} is not supported; use wav, flac or pcm",
            "invalid_value",
            "response_format",
        )
    speed = opt_number(data, "speed", 1.0, 0.25, 4.0)
    loop = asyncio.get_running_loop()
    try:
        voice = await loop.run_in_executor(None, engines.voice, voice_id)
    except AssistantError as exc:
        raise ApiError(
            500, f"the voice {voice_id!r} cannot load: {exc.message}", "engine_error"
        ) from exc
    cancel = threading.Event()
    chunks = iterate_in_thread(
        engines.slots_for_voice(voice_id),
        _speech_bytes(voice, text, speed, fmt),
        cancel,
        engines.config.serve.request_timeout_s,
    )
    try:
        first = await unless_disconnected(request.receive, chunks.__anext__())
    except StopAsyncIteration:
        first = b""
    except ClientGone:
        await chunks.aclose()
        return Response(status_code=499)
    except AssistantError as exc:
        raise ApiError(500, f"speech synthesis failed: {exc.message}", "engine_error") from exc

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for part in chunks:
                yield part
        finally:
            cancel.set()
            await chunks.aclose()

    return StreamingResponse(body(), media_type=formats.AUDIO_TYPES[fmt])
