"""One turn of the conversation, and the registry of the turns in flight.

A :class:`Turn` goes from the utterance (or typed text) to the end of its reply. It is
created by the capture stage (or the facade, for typed text and push-to-talk), run by
the turn worker and spoken by the speaker. A speculative turn starts before the user has
surely finished; the capture stage resolves it, always: :meth:`Turn.confirm` when the
pause it answers becomes the end of the utterance, :meth:`Turn.cancel` otherwise.

The :class:`TurnRegistry` is the one place that knows which turn is current (being run by
the worker) and which is speculative; its lock guards both, and ``wait_idle`` waits on
its condition instead of polling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .events import Event

__all__ = [
    "QUESTION_PAUSE",
    "STATEMENT_PAUSE",
    "Turn",
    "TurnRegistry",
    "early_end_pause",
]

# A sentence cut short ("What is the capital of?", "Tell me about the.") ends in one of
# these: not finished, whatever punctuation the recogniser put after it.
_DANGLING = frozenset(
    "a an the of to in on at for with and or but if is are was my your his her its our"  # noqa: SIM905
    " their this that these those from by about than as".split()
)


@dataclass(eq=False)
class Turn:
    """A turn from the utterance (or typed text) to the end of its reply.

    Fields written by one stage and read by another are either set before the turn is
    handed over (``audio``, ``text`` for typed turns, ``quiet_from``) or are events.
    """

    number: int
    speech_end: float
    """``time.monotonic()`` at the end of the user's speech."""
    audio: np.ndarray | None = None
    text: str | None = None
    quiet_from: int | None = None
    """Speculative turns: the endpointer position where the pause they answer began."""
    cancelled: threading.Event = field(default_factory=threading.Event)
    confirmed: threading.Event = field(default_factory=threading.Event)
    playback_done: threading.Event = field(default_factory=threading.Event)
    """Set by the speaker when the reply has been played (or dropped)."""
    played: threading.Event = field(default_factory=threading.Event)
    """Set by the player when it reaches the end of the reply, or by :meth:`cancel`."""
    voiced: threading.Event = field(default_factory=threading.Event)
    """Set by the speaker once the reply's first piece is synthesized (or will not be:
    nothing speakable, a failure), or by :meth:`cancel`."""
    held: list[Event] = field(default_factory=list)
    """Events of a speculative turn, emitted once it is confirmed (dropped if not)."""
    spoken: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    """Step name -> ``time.monotonic()``."""
    _resolved: threading.Event = field(default_factory=threading.Event)

    def mark(self, name: str) -> None:
        """Note the time of a step (the first time only)."""
        self.times.setdefault(name, time.monotonic())

    def confirm(self) -> None:
        self.mark("confirmed")
        self.confirmed.set()
        self._resolved.set()

    def cancel(self) -> None:
        self.cancelled.set()
        self._resolved.set()
        self.played.set()
        self.voiced.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed.is_set()

    def wait_confirmed(self, timeout: float | None = None) -> bool | None:
        """Block until the turn is confirmed (True) or cancelled (False); ``None`` when
        ``timeout`` passed first."""
        if not self._resolved.wait(timeout):
            return None
        return not self.cancelled.is_set()


class TurnRegistry:
    """The current and the speculative turn, and the count of turns not yet finished."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._current: Turn | None = None
        self._speculative: Turn | None = None
        self._unfinished = 0
        self._count = 0

    @property
    def current(self) -> Turn | None:
        """The turn the worker is running."""
        with self._lock:
            return self._current

    @property
    def speculative(self) -> Turn | None:
        """The speculative turn the capture stage has not resolved yet."""
        with self._lock:
            return self._speculative

    def number(self, turn: Turn) -> None:
        """Give ``turn`` the next number and count it as unfinished."""
        with self._lock:
            self._count += 1
            turn.number = self._count
            self._unfinished += 1

    def set_speculative(self, turn: Turn | None) -> Turn | None:
        """Make ``turn`` the speculative one; returns the one it replaces."""
        with self._lock:
            previous, self._speculative = self._speculative, turn
            return previous

    def begin(self, turn: Turn) -> None:
        with self._lock:
            self._current = turn

    def end(self, turn: Turn) -> None:
        with self._lock:
            if self._current is turn:
                self._current = None
            self._unfinished -= 1
            self._lock.notify_all()

    def unfinished(self) -> int:
        """Turns submitted and not yet finished (the current one included)."""
        with self._lock:
            return self._unfinished

    def cancel_current(self) -> Turn | None:
        """Cancel the running turn (if any) and return it."""
        with self._lock:
            turn = self._current
        if turn is not None:
            turn.cancel()
        return turn

    def cancel_all(self) -> None:
        """Cancel the running and the speculative turn (stopping the pipeline)."""
        with self._lock:
            turns = [t for t in (self._current, self._speculative) if t is not None]
            self._speculative = None
        for turn in turns:
            turn.cancel()
            turn.playback_done.set()

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until every submitted turn has finished; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._unfinished == 0, timeout)


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
