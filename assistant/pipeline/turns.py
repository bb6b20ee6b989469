"""One turn of the conversation as the pipeline's threads share it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .events import Event

__all__ = ["QUESTION_PAUSE", "STATEMENT_PAUSE", "PendingTurn", "early_end_pause"]

# A sentence cut short ("What is the capital of?", "Tell me about the.") ends in one of
# these: not finished, whatever punctuation the recogniser put after it.
_DANGLING = frozenset(
    "a an the of to in on at for with and or but if is are was my your his her its our"  # noqa: SIM905
    " their this that these those from by about than as".split()
)


@dataclass
class PendingTurn:
    """A turn from the utterance (or typed text) to the end of its reply."""

    number: int
    speech_end: float  # time.monotonic() at the end of the user's speech
    audio: np.ndarray | None = None
    text: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    confirmed: threading.Event = field(default_factory=threading.Event)
    pending: list[Event] = field(default_factory=list)  # events held until confirmed
    spoken: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)  # step -> time.monotonic()
    playback_done: threading.Event = field(default_factory=threading.Event)
    quiet_from: int | None = None  # speculative turns: where the pause they answer began

    def mark(self, name: str) -> None:
        self.times.setdefault(name, time.monotonic())

    def wait_confirmed(self) -> bool:
        """Block until the turn is confirmed (True) or cancelled (False)."""
        while not self.confirmed.wait(0.02):
            if self.cancel.is_set():
                return False
        return not self.cancel.is_set()


QUESTION_PAUSE = 0.4
"""Seconds of silence after a finished question that end the turn."""
STATEMENT_PAUSE = 0.55
"""Seconds of silence after a finished statement or request that end the turn: longer
than after a question, since people pause inside statements more ("I would like to
know... the capital of France")."""


def early_end_pause(text: str | None) -> float | None:
    """How soon a pause ends a turn whose transcript so far is ``text``: :data:`QUESTION_PAUSE`
    after a whole question, :data:`STATEMENT_PAUSE` after a whole statement or request
    (at least three words, closed by ``.`` or ``!``), ``None`` (the endpointer's full
    silence) when the last word needs a continuation or the punctuation is missing."""
    if not text:
        return None
    text = text.rstrip()
    if not text.endswith((".", "?", "!")) or text.endswith("..."):
        return None
    words = text.rstrip(" .?!").lower().split()
    if len(words) < 3 or words[-1].strip(",;:\"'") in _DANGLING:
        return None
    return QUESTION_PAUSE if text.endswith("?") else STATEMENT_PAUSE
