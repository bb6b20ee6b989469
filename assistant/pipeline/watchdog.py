"""Reports a stage that stops making progress, naming what it waits for.

A stage wraps each wait whose length it cannot bound itself (an engine call, a device)
in :meth:`Watchdog.waiting`; when one lasts longer than ``stall_after`` seconds the
watchdog emits one :class:`~assistant.pipeline.ErrorEvent` saying which stage waits for
what, so a stall is never silent. Pressing Stop still returns the pipeline to listening.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .emitter import Emitter
from .events import ErrorEvent

__all__ = ["STALL_AFTER", "Watchdog"]

log = logging.getLogger(__name__)

STALL_AFTER = 30.0
"""Seconds a stage may wait for one thing before it is reported as stalled."""


@dataclass
class _Wait:
    stage: str
    what: str
    source: str
    since: float
    progress: Callable[[], object] | None = None
    last: object = None
    reported: bool = False


class Watchdog:
    """One thread that looks at the stages' open waits once a second."""

    def __init__(self, emitter: Emitter, stall_after: float | None = None) -> None:
        self._emitter = emitter
        self.stall_after = STALL_AFTER if stall_after is None else stall_after
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def waiting(
        self, stage: str, what: str, source: str, progress: Callable[[], object] | None = None
    ) -> Iterator[None]:
        """Mark the block as ``stage`` waiting for ``what`` (``source`` names the part
        that would be at fault in the error event: ``llm``, ``tts``, ``output``...).
        With ``progress``, a wait whose value keeps changing is not a stall (audio
        playing: a long reply may take minutes)."""
        key = next(self._ids)
        first = progress() if progress is not None else None
        with self._lock:
            self._waits[key] = _Wait(stage, what, source, time.monotonic(), progress, first)
        try:
            yield
        finally:
            with self._lock:
                self._waits.pop(key, None)

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def check(self) -> None:
        """Report every wait that has lasted too long (once each)."""
        now = time.monotonic()
        with self._lock:
            for wait in self._waits.values():
                if wait.progress is not None:
                    value = wait.progress()
                    if value != wait.last:
                        wait.last, wait.since = value, now
            stalled = [w for w in self._waits.values()
                       if not w.reported and now - w.since >= self.stall_after]  # fmt: skip
            for wait in stalled:
                wait.reported = True
        for wait in stalled:
            message = f"the {wait.stage} stage has waited {now - wait.since:.0f} s for {wait.what}"
            log.warning("%s", message)
            self._emitter.emit(
                ErrorEvent(message, "press Stop to drop this turn and listen again", wait.source)
            )

    def _run(self) -> None:
        period = min(1.0, self.stall_after / 4)
        while not self._stopped.wait(period):
            self.check()
