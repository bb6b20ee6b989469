"""The thread every stage runs its loop on: started and joined in one place, and never
dying silently (an exception that escapes the loop becomes an error event)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .emitter import Emitter

__all__ = ["StageThread"]

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 5.0
"""Seconds ``join`` waits for a stage's loop to return before it logs a warning."""


class StageThread:
    """One stage's thread.

    Args:
        name: the thread's name (``capture``, ``turns``...).
        run: the stage's loop; it returns when the stage has been told to stop.
        emitter: where an exception that escapes ``run`` is reported.
        source: what the error event names as failing (``capture``, ``asr``...).
    """

    def __init__(self, name: str, run: Callable[[], None], emitter: Emitter, source: str) -> None:
        self._name = name
        self._run = run
        self._emitter = emitter
        self._source = source
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded, name=self._name, daemon=True)
        self._thread.start()

    def join(self, stuck: str | None = None) -> None:
        """Wait for the loop to return (told to stop by the stage beforehand); ``stuck``
        says in the warning what holds it up when it does not return in time (no warning
        when ``None``)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout=JOIN_TIMEOUT)
        if thread.is_alive() and stuck is not None:
            log.warning("the %s thread did not stop within %.0f s (%s)", self._name,
                        JOIN_TIMEOUT, stuck)  # fmt: skip

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a stage never dies silently
            self._emitter.error(exc, self._source)
