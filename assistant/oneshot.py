"""One spoken turn, start to finish, in a straight line: speech in, speech out (the live
pipeline, with its threads and barge-in, is assistant.pipeline).

The live pipeline runs the same steps on worker threads with barge-in; this is the
straight-line version the CLI's ``talk`` command, the self-test and the benchmarks use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .asr import Transcriber, Transcript
from .audio import Audio
from .config import Config, VadConfig
from .engines import Engines
from .errors import NoSpeechError
from .llm import ChatModel, GenerationOptions, Message
from .reply import (
    Delta,
    ReplyContext,
    ReplyHooks,
    build_messages,
    gather_context,
    generation_options,
    speakable_piece,
    stream_reply,
)
from .tts import SpeechChunk, Voice
from .vad import Vad, trim_to_speech

__all__ = [
    "Reply",
    "TurnResult",
    "TurnTimings",
    "hear",
    "run_turn",
    "speak_reply",
]

log = logging.getLogger(__name__)


@dataclass
class TurnTimings:
    """Where the time of a turn went, in seconds (``None`` for steps not reached)."""

    vad: float | None = None
    """Finding the speech in the input."""
    asr: float | None = None
    """Transcribing it."""
    first_token: float | None = None
    """From the start of generation to the first text delta."""
    first_sentence: float | None = None
    """From the start of generation to the first complete sentence."""
    first_audio: float | None = None
    """From the start of generation to the first synthesized audio."""
    reply: float | None = None
    """From the start of generation to the last audio."""


@dataclass
class Reply:
    """What the assistant said."""

    text: str
    """The model's reply as written."""
    audio: Audio | None
    """All of it, spoken (``None`` when there was no voice)."""
    sentences: list[str] = field(default_factory=list)
    """The sentences as they were spoken (cleaned for a voice)."""


@dataclass
class TurnResult:
    """A whole spoken turn."""

    heard: Transcript
    """What the user said."""
    reply: Reply
    """What the assistant answered."""
    timings: TurnTimings
    """Where the time went."""


def hear(
    audio: Audio,
    vad: Vad,
    transcriber: Transcriber,
    options: VadConfig,
    timings: TurnTimings,
    source: str = "the recording",
) -> Transcript:
    """Cut ``audio`` to its speech and transcribe it.

    Raises:
        NoSpeechError: the VAD finds no speech, or the recogniser hears no words.
    """
    start = time.perf_counter()
    speech = trim_to_speech(audio, vad, options, source=source)
    timings.vad = time.perf_counter() - start
    start = time.perf_counter()
    transcript = transcriber.transcribe(speech)
    timings.asr = time.perf_counter() - start
    if not transcript.text.strip():
        raise NoSpeechError(f"no speech detected in {source}")
    return transcript


def speak_reply(
    chat: ChatModel,
    voice: Voice | None,
    messages: Sequence[Message],
    options: GenerationOptions,
    timings: TurnTimings,
    on_chunk: Callable[[SpeechChunk], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    hooks: ReplyHooks | None = None,
    context: ReplyContext | None = None,
) -> Reply:
    """Stream the model's reply into the voice, sentence by sentence (the reply path of
    :mod:`assistant.reply`).

    ``on_text`` gets each text delta, ``on_chunk`` each piece of audio as soon as it
    exists (a player can start while the model is still writing). Without a voice
    the reply is only text. ``context``'s closing (the source) ends the reply.
    """
    parts: list[str] = []
    spoken: list[str] = []
    audio: list[np.ndarray] = []
    start = time.perf_counter()

    def mark(name: str) -> None:
        if name == "first_token" and timings.first_token is None:
            timings.first_token = time.perf_counter() - start
        elif name == "first_sentence" and timings.first_sentence is None:
            timings.first_sentence = time.perf_counter() - start

    def say(sentence: str) -> None:
        text = speakable_piece(sentence, voice.language if voice is not None else "en")
        if voice is None or text is None:
            return
        spoken.append(text)
        for chunk in voice.synthesize(text):
            if timings.first_audio is None:
                timings.first_audio = time.perf_counter() - start
            audio.append(chunk.audio.samples)
            if on_chunk is not None:
                on_chunk(chunk)

    for part in stream_reply(
        chat, messages, options, cancel=cancel, mark=mark, hooks=hooks, context=context
    ):
        if isinstance(part, Delta):
            parts.append(part.text)
            if on_text is not None:
                on_text(part.text)
        else:
            say(part.text)
    timings.reply = time.perf_counter() - start
    reply_audio = None
    if voice is not None:
        samples = np.concatenate(audio) if audio else np.zeros(0, np.float32)
        reply_audio = Audio(samples, voice.sample_rate)
    return Reply("".join(parts).strip(), reply_audio, spoken)


def run_turn(
    audio: Audio,
    engines: Engines,
    config: Config,
    *,
    history: Sequence[Message] = (),
    on_heard: Callable[[Transcript], None] | None = None,
    on_chunk: Callable[[SpeechChunk], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    source: str = "the recording",
    hooks: ReplyHooks | None = None,
) -> TurnResult:
    """Hear ``audio``, think (local commands first, through ``hooks``), and answer aloud
    (from the user's documents, when ``hooks.context_for`` finds passages)."""
    timings = TurnTimings()
    heard = hear(audio, engines.vad, engines.transcriber, config.vad, timings, source)
    if on_heard is not None:
        on_heard(heard)
    context = gather_context(hooks, heard.text)
    messages = build_messages(config.llm.system_prompt, history, heard.text, context=context)
    reply = speak_reply(
        engines.chat,
        engines.voice,
        messages,
        generation_options(config),
        timings,
        on_chunk=on_chunk,
        on_text=on_text,
        hooks=hooks,
        context=context,
    )
    return TurnResult(heard, reply, timings)
