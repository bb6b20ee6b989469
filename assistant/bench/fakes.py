"""Scripted engines that satisfy the runtime's Protocols: the soak bench's engines, and
the fast tests' (tests/test_pipeline_fast.py) of the pipeline's timing logic
(speculation, barge-in, cancellation), beside the real-model tests.

"Speech" here is a tone: a :class:`Phrasebook` gives each phrase its own frequency, the
:class:`FakeVad` calls any loud frame speech, and the :class:`FakeTranscriber` reads the
phrases back from the frequencies, in order. So the real endpointer, the real player and
the real pipeline run unchanged on audio the test writes sample by sample.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.asr import Segment, Transcript
from assistant.audio import ASR_RATE, Audio
from assistant.errors import EngineError
from assistant.llm import GenerationOptions, Message
from assistant.pipeline import Event
from assistant.tts import SpeechChunk

__all__ = [
    "FakeChat",
    "FakeTranscriber",
    "FakeVad",
    "FakeVoice",
    "FeedSource",
    "Phrasebook",
    "Recorder",
    "silence",
]

_WINDOW = 1024  # samples per analysis window (64 ms, 15.6 Hz bins)
_LOUD = 0.02  # rms above which a frame is speech


def silence(seconds: float) -> np.ndarray:
    """Silent 16 kHz samples."""
    return np.zeros(round(seconds * ASR_RATE), np.float32)


class Phrasebook:
    """Maps phrases to tones and back: ``audio("Hello.", 0.4)`` is 0.4 s of the phrase's
    tone; :meth:`read` turns audio back into the phrases it holds."""

    def __init__(self) -> None:
        self._phrases: list[str] = []

    def audio(self, text: str, seconds: float = 0.4, amplitude: float = 0.3) -> np.ndarray:
        if text not in self._phrases:
            self._phrases.append(text)
        freq = self._frequency(self._phrases.index(text))
        t = np.arange(round(seconds * ASR_RATE)) / ASR_RATE
        return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)

    def read(self, samples: np.ndarray) -> str:
        found: list[str] = []
        for start in range(0, len(samples) - _WINDOW + 1, _WINDOW // 2):
            window = samples[start : start + _WINDOW]
            if float(np.sqrt(np.mean(window**2))) < _LOUD or not self._phrases:
                continue
            spectrum = np.abs(np.fft.rfft(window * np.hanning(_WINDOW)))
            peak = float(np.argmax(spectrum)) * ASR_RATE / _WINDOW
            index = min(range(len(self._phrases)), key=lambda i: abs(self._frequency(i) - peak))
            if not found or found[-1] != self._phrases[index]:
                found.append(self._phrases[index])
        return " ".join(found)

    @staticmethod
    def _frequency(index: int) -> float:
        return 300.0 + 125.0 * index


class FakeVad:
    """Implements :class:`assistant.vad.Vad`: a loud frame is speech."""

    frame_samples = 512
    sample_rate = ASR_RATE

    def reset(self) -> None:
        pass

    def __call__(self, frame: np.ndarray) -> float:
        return 0.95 if float(np.sqrt(np.mean(frame**2))) > _LOUD else 0.02

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        n = -(-len(samples) // self.frame_samples)
        padded = np.zeros(n * self.frame_samples, np.float32)
        padded[: len(samples)] = samples
        frames = padded.reshape(n, self.frame_samples)
        return np.array([self(f) for f in frames], np.float32)


class _Calls:
    """A call log that tests can wait on (``keep=False``: counted, not kept, for soaks)."""

    def __init__(self, keep: bool = True) -> None:
        self.items: list = []
        self.count = 0
        self.keep = keep
        self._changed = threading.Condition()

    def add(self, item: object) -> None:
        with self._changed:
            self.count += 1
            if self.keep:
                self.items.append(item)
            self._changed.notify_all()

    def wait(self, count: int = 1, timeout: float = 2.0) -> list:
        with self._changed:
            self._changed.wait_for(lambda: len(self.items) >= count, timeout)
        if len(self.items) < count:
            raise AssertionError(f"expected {count} calls, got {self.items}")
        return list(self.items)


class FakeTranscriber:
    """Implements :class:`assistant.asr.Transcriber` by reading a :class:`Phrasebook`.

    Args:
        phrases: the phrasebook the test speaks from.
        fail: raise this on every call (an engine that broke).
    """

    def __init__(self, phrases: Phrasebook, *, fail: Exception | None = None) -> None:
        self.phrases = phrases
        self.fail = fail
        self.calls = _Calls()
        self.primed: dict[str, str] = {}
        """What a phrase is heard as when transcribed with a prompt (else as itself)."""

    def transcribe(self, audio: Audio, *, prompt: str | None = None) -> Transcript:
        if self.fail is not None:
            raise self.fail
        text = self.phrases.read(audio.at_rate(ASR_RATE).samples)
        if prompt:
            text = self.primed.get(text, text)
        self.calls.add(text)
        segments = (Segment(0.0, audio.duration, text),) if text else ()
        return Transcript(text, segments, "en", audio.duration)


@dataclass
class FakeChat:
    """Implements :class:`assistant.llm.ChatModel` with scripted replies.

    Args:
        reply: the reply's text deltas; or a function of the last user message giving them.
        delay: seconds between deltas (cancellable).
        fail_after: raise an :class:`EngineError` after this many deltas.
        hold: generation waits for this event before the first delta (a stalled engine).
        deaf: while held, ignore ``cancel`` too (an engine stuck in native code).
    """

    reply: Sequence[str] | Callable[[str], Sequence[str]] = ("Sure. ", "Here it is.")
    delay: float = 0.0
    fail_after: int | None = None
    hold: threading.Event | None = None
    deaf: bool = False
    context_size: int = 4096
    calls: _Calls = field(default_factory=_Calls)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        self.calls.add(list(messages))
        cancel = cancel or threading.Event()
        if self.hold is not None:
            if self.deaf:
                self.hold.wait()
            while not self.hold.wait(0.01):
                if cancel.is_set():
                    return
        deltas = self.reply(messages[-1].content) if callable(self.reply) else self.reply
        for i, delta in enumerate(deltas):
            if self.fail_after is not None and i >= self.fail_after:
                raise EngineError("the fake model broke", hint="it was told to")
            if cancel.is_set() or (self.delay and cancel.wait(self.delay)):
                return
            yield delta


@dataclass
class FakeVoice:
    """Implements :class:`assistant.tts.Voice`: each sentence becomes a quiet tone of
    ``seconds_per_char`` per character, after ``delay`` seconds of "synthesis".

    ``fail`` raises on every call; ``started`` is set when a synthesis begins.
    """

    sample_rate: int = 16000
    language: str = "en"
    seconds_per_char: float = 0.01
    delay: float = 0.0
    fail: Exception | None = None
    calls: _Calls = field(default_factory=_Calls)
    started: threading.Event = field(default_factory=threading.Event)
    releases: int = 0
    """Calls of :meth:`release_memory` (the speaker stage's, between replies)."""

    def release_memory(self) -> None:
        self.releases += 1

    def synthesize(self, text: str) -> Iterator[SpeechChunk]:
        self.started.set()
        self.calls.add(text)
        if self.fail is not None:
            raise self.fail
        if self.delay:
            threading.Event().wait(self.delay)
        n = round(len(text) * self.seconds_per_char * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        samples = (0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        yield SpeechChunk(Audio(samples, self.sample_rate), text)


class FeedSource:
    """Implements :class:`assistant.pipeline.AudioSource` with audio the test feeds.

    ``feed`` queues samples (cut into 30 ms blocks); ``settle`` blocks until the pipeline
    has taken and processed every block fed so far, so a test steps the pipeline through
    exactly the audio it wants, as fast as the machine allows.
    """

    block = 480

    def __init__(self) -> None:
        self._blocks: queue.Queue[np.ndarray | None] = queue.Queue()
        self._fed = 0
        self._done = 0
        self._changed = threading.Condition()
        self.closed = threading.Event()

    def feed(self, *parts: np.ndarray) -> None:
        samples = np.concatenate(parts).astype(np.float32)
        for start in range(0, len(samples), self.block):
            with self._changed:
                self._fed += 1
            self._blocks.put(samples[start : start + self.block])

    def settle(self, timeout: float = 2.0) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: self._done >= self._fed, timeout)
        if not ok:
            raise AssertionError(f"the pipeline processed {self._done} of {self._fed} blocks")

    def blocks(self) -> Iterator[np.ndarray]:
        while not self.closed.is_set():
            block = self._blocks.get()
            if block is None:
                return
            yield block
            with self._changed:
                self._done += 1
                self._changed.notify_all()

    def close(self) -> None:
        self.closed.set()
        self._blocks.put(None)


class Recorder:
    """Collects a conversation's events; ``wait_for`` blocks until enough of a kind came."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind: type) -> list:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, kind: type, count: int = 1, timeout: float = 2.0) -> list:
        with self._changed:
            self._changed.wait_for(
                lambda: sum(isinstance(e, kind) for e in self.events) >= count, timeout
            )
        found = self.of(kind)
        if len(found) < count:
            raise AssertionError(f"expected {count} {kind.__name__}, got {self.events}")
        return found

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        with self._changed:
            ok = self._changed.wait_for(predicate, timeout)
        if not ok:
            raise AssertionError(f"timed out; events: {self.events}")
