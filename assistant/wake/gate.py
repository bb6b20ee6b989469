"""The wake gate: what stands between the microphone and the rest of the pipeline in
wake mode.

Asleep, only the detector hears the microphone and nothing passes on (the words before
the wake word never reach speech recognition, let alone the model). When the word is
heard the gate wakes and passes on the audio from just after the word (so "Hey Jarvis
what time is it", without a pause, keeps "what time is it") and everything after it.
After a reply, a follow-up window keeps it awake for ``follow_up_s``; speech in that
window is a new request, silence sends it back to sleep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .base import RATE, Detection, WakeDetector

__all__ = ["WakeGate", "WakeState", "Woken"]

log = logging.getLogger(__name__)


class WakeState(StrEnum):
    """Where the gate stands."""

    ASLEEP = "asleep"
    LISTENING = "listening"
    FOLLOW_UP = "follow-up"


@dataclass(frozen=True)
class Woken:
    """The wake word was heard."""

    detection: Detection
    after: np.ndarray
    """The audio fed since the word's end (float32, 16 kHz): the request's start."""


class WakeGate:
    """Args:
    detector: the wake words.
    follow_up_s: how long after a reply speech needs no wake word.
    back_s: how far before the detection the passed-on audio starts (the detector
        fires up to ~0.1 s after the word's end).
    clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        detector: WakeDetector,
        follow_up_s: float = 5.0,
        back_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector
        self.follow_up_s = follow_up_s
        self.back = int(back_s * RATE)
        self.clock = clock
        self.state = WakeState.ASLEEP
        self._deadline = 0.0
        self._awaiting = False  # awake, but no speech yet since waking or the reply
        self._recent = np.zeros(0, np.float32)  # the last ~2 s fed while asleep
        self._recent_end = 0  # stream sample index just after _recent

    def feed(self, samples: np.ndarray) -> tuple[Woken | None, np.ndarray]:
        """Feed 16 kHz float32 microphone audio; returns (the wake event if the word was
        heard in it, the audio to pass on). Asleep, nothing passes on."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        if self._awaiting and self.state is not WakeState.ASLEEP and self.clock() > self._deadline:
            self.sleep()  # woken (or replied to) and then nothing said
        if self.state is not WakeState.ASLEEP:
            return None, samples
        found = self.detector.feed(samples)
        self._recent = np.concatenate([self._recent, samples])[-2 * RATE :]
        self._recent_end += len(samples)
        if not found:
            return None, samples[:0]
        first = found[0]
        start = int(first.time * RATE) - self.back
        begin = len(self._recent) - (self._recent_end - start)
        after = self._recent[max(0, begin) :].copy()
        self.state = WakeState.LISTENING
        self._awaiting = True
        self._deadline = self.clock() + self.follow_up_s
        self._recent = np.zeros(0, np.float32)
        log.info("woke on %s (score %.2f)", first.word, first.score)
        return Woken(first, after), after

    def replied(self) -> None:
        """A reply ended: open the follow-up window."""
        if self.state is not WakeState.ASLEEP:
            self.state = WakeState.FOLLOW_UP
            self._awaiting = True
            self._deadline = self.clock() + self.follow_up_s

    def heard_speech(self) -> None:
        """Speech started (the VAD said so): a follow-up becomes a new request."""
        self._awaiting = False
        if self.state is WakeState.FOLLOW_UP:
            self.state = WakeState.LISTENING

    def sleep(self) -> None:
        """Back to waiting for the wake word."""
        self.state = WakeState.ASLEEP
        self._awaiting = False
        self._recent = np.zeros(0, np.float32)
