"""What the latency benchmark drives the pipeline with: a microphone in a quiet room that
speaks clips on demand, and a listener that keeps only turn-level events."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from ..audio import ASR_RATE
from ..errors import EngineError
from ..pipeline import (
    ErrorEvent,
    Event,
    FinalTranscript,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)
from ..pipeline.sources import BLOCK_SECONDS

__all__ = ["Clip", "LiveSource", "TurnEvents", "state_is"]

log = logging.getLogger(__name__)

_ONSET_LEVEL = 0.05  # speech starts at the first sample this loud, relative to the peak


@dataclass
class Clip:
    samples: np.ndarray  # (n,) float32 at 16 kHz
    onset: int  # index of the first loud sample: where the speech starts
    played: int = 0


class LiveSource:
    """A microphone in a quiet room: low noise in real time, and clips "spoken" on
    demand from another thread, each starting at the next block."""

    def __init__(self, noise_db: float = -70.0, seed: int = 0) -> None:
        self._noise = 10 ** (noise_db / 20)
        self._rng = np.random.default_rng(seed)
        self._clips: collections.deque[Clip] = collections.deque()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = threading.Event()
        self.onsets: list[float] = []
        """``time.monotonic()`` at which each clip's first loud sample was delivered."""
        self.lag = 0.0
        """Longest delay seen in taking a block, in seconds (set to 0 to start over)."""

    def say(self, samples: np.ndarray) -> None:
        """Play 16 kHz ``samples`` after whatever is still being said; the moment its
        first loud sample is delivered is appended to :attr:`onsets`."""
        samples = np.asarray(samples, np.float32)
        loud = np.flatnonzero(np.abs(samples) >= _ONSET_LEVEL * np.abs(samples).max())
        with self._lock:
            self._idle.clear()
            self._clips.append(Clip(samples, int(loud[0]) if len(loud) else 0))

    def wait_said(self, timeout: float) -> bool:
        """Block until every clip was delivered; False on timeout."""
        return self._idle.wait(timeout)

    def blocks(self) -> Generator[np.ndarray, None, None]:
        block = int(ASR_RATE * BLOCK_SECONDS)
        start = time.monotonic()
        position = 0
        while not self._closed.is_set():
            out = (self._rng.standard_normal(block) * self._noise).astype(np.float32)
            onset = None  # index in this block of a clip's first loud sample
            with self._lock:
                filled = 0
                while self._clips and filled < block:
                    clip = self._clips[0]
                    take = min(block - filled, len(clip.samples) - clip.played)
                    out[filled : filled + take] += clip.samples[clip.played : clip.played + take]
                    if clip.played <= clip.onset < clip.played + take:
                        onset = filled + clip.onset - clip.played
                    filled += take
                    clip.played += take
                    if clip.played == len(clip.samples):
                        self._clips.popleft()
                said = not self._clips
            position += block
            # Paced like a device: a block is delivered once its last sample "happened".
            delay = start + position / ASR_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:  # the reader is late: it will see this audio -delay s after it happened
                self.lag = max(self.lag, -delay)
            if onset is not None:
                self.onsets.append(time.monotonic() - (block - onset) / ASR_RATE)
            yield out
            if said:
                with self._lock:  # a clip said meanwhile is not said yet
                    if not self._clips:
                        self._idle.set()

    def close(self) -> None:
        self._closed.set()


class TurnEvents:
    """The turn-level events of a conversation, with waits on what comes next.

    Level meters and reply tokens are dropped: they come tens of times a second from
    the capture and turn threads, and a listener that keeps them (and scans them while
    holding a lock those threads need) would delay the very pipeline it measures.
    """

    _KEPT = (StateChanged, FinalTranscript, TurnFinished, TurnMetrics, ErrorEvent)

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        if not isinstance(event, self._KEPT):
            return
        if isinstance(event, ErrorEvent):
            log.warning("pipeline error (%s): %s", event.source, event.message)
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def mark(self) -> int:
        """Position to wait from."""
        with self._changed:
            return len(self.events)

    def wait(self, since: int, match: Callable[[Event], bool], timeout: float) -> int:
        """Index of the first event from ``since`` that ``match`` accepts.

        Raises:
            EngineError: none came within ``timeout`` seconds.
        """

        def found() -> int | None:
            return next((i for i in range(since, len(self.events)) if match(self.events[i])), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            index = found()
        if index is None:
            raise EngineError(
                f"the pipeline did not answer within {timeout:.0f} s",
                hint="the machine may be overloaded; try a smaller --max-tokens",
            )
        return index


def state_is(*states: State) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, StateChanged) and e.state in states
