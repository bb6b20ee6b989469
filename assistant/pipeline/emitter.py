"""The one place the pipeline reports from: events to the listeners, the state, errors.

Events of a speculative turn are held back until the turn is confirmed, so a listener
never sees a turn the user did not finish (a dropped speculation leaves no trace).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import AssistantError
from .events import ErrorEvent, Event, State, StateChanged
from .turns import Turn

__all__ = ["Emitter"]

log = logging.getLogger(__name__)


class Emitter:
    """Delivers events to listeners (on the calling stage's thread) and keeps the state."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Event], None]] = []
        self._state = State.IDLE
        self._state_lock = threading.Lock()
        self._hold_lock = threading.Lock()

    @property
    def state(self) -> State:
        return self._state

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the conversation
                log.exception("event listener failed on %s", type(event).__name__)

    def set_state(self, state: State, *, only_from: tuple[State, ...] | None = None) -> bool:
        """Move to ``state`` (if the state is one of ``only_from``, when given); True when
        the state changed."""
        with self._state_lock:
            previous = self._state
            if previous == state or (only_from is not None and previous not in only_from):
                return False
            self._state = state
        self.emit(StateChanged(state, previous))
        return True

    def error(self, exc: BaseException, source: str) -> None:
        """Report a failure of ``source`` (``input``, ``asr``, ``llm``, ``tts``...)."""
        if isinstance(exc, AssistantError):
            self.emit(ErrorEvent(exc.message, exc.hint, source))
        else:
            log.error("%s failed", source, exc_info=exc)
            self.emit(ErrorEvent(f"{source} failed: {exc}", None, source))

    def turn_event(self, turn: Turn, event: Event) -> None:
        """Emit an event of ``turn`` now, or once it is confirmed."""
        with self._hold_lock:
            if not turn.is_confirmed:
                turn.held.append(event)
                return
        self.emit(event)

    def confirm(self, turn: Turn) -> bool:
        """Confirm ``turn``: the assistant is thinking, and its held events go out.
        False (and nothing happens) when the turn was cancelled or dropped first."""
        with self._hold_lock:
            if turn.is_cancelled:
                return False
            turn.confirm()
            held, turn.held = turn.held, []
        self.set_state(State.THINKING)
        for event in held:
            self.emit(event)
        return True

    def drop(self, turn: Turn) -> bool:
        """Cancel ``turn`` unless it is confirmed already (the worker is done with a
        speculation: a later confirmation must not leave the state on "thinking" with no
        turn to end it). True when it was dropped."""
        with self._hold_lock:
            if turn.is_confirmed:
                return False
            turn.cancel()
            turn.held = []
            return True
