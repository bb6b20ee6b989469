"""The partials stage: what the user has said so far, while they speak.

The capture stage asks about every 0.5 s with the utterance so far; only the newest
request waits (a queue of one), and the capture stage drops it when a pause begins, so
the speculative turn never waits behind a partial transcript for the recogniser.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading

import numpy as np

from ..asr import Transcriber
from ..audio import ASR_RATE, Audio
from .emitter import Emitter
from .events import PartialTranscript, State
from .messages import PartialRequest, Stop
from .stage import StageThread

__all__ = ["PartialsStage"]

log = logging.getLogger(__name__)

MIN_AUDIO = ASR_RATE // 2
"""Utterances shorter than this (0.5 s) get no partial transcript."""


class PartialsStage:
    """Transcribes the utterance so far on its own thread.

    Args:
        transcriber: the recogniser (shared with the turn worker under ``asr_lock``).
        asr_lock: held around every transcription.
        emitter: where the partial transcripts go.
        in_pause: set while the user pauses inside an utterance: a request is then left
            alone (the speculative turn needs the recogniser), but a partial already
            transcribed is still shown.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        asr_lock: threading.Lock,
        emitter: Emitter,
        in_pause: threading.Event,
    ) -> None:
        self._transcriber = transcriber
        self._asr_lock = asr_lock
        self._emitter = emitter
        self._in_pause = in_pause
        self._queue: queue.Queue[PartialRequest | Stop] = queue.Queue(maxsize=1)
        self._thread = StageThread("partials", self._run, emitter, "asr")

    def request(self, audio: np.ndarray) -> None:
        """Transcribe ``audio`` when the stage is free (dropped if one already waits)."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(PartialRequest(audio))

    def drop_pending(self) -> None:
        """Forget a request not yet started."""
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.drop_pending()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(Stop())
        self._thread.join()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if isinstance(message, Stop):
                return
            if (
                len(message.audio) < MIN_AUDIO
                or self._emitter.state != State.HEARING
                or self._in_pause.is_set()
            ):
                continue
            with self._asr_lock:
                text = self._transcriber.transcribe(Audio(message.audio, ASR_RATE)).text
            if text and self._emitter.state == State.HEARING:
                self._emitter.emit(PartialTranscript(text))
