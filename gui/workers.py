"""Running slow work off the GUI thread and getting the result back as a signal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from assistant.errors import AssistantError
from assistant.pipeline.events import ErrorEvent

__all__ = ["as_error", "run_in_background"]

log = logging.getLogger(__name__)

_alive: set[_Relay] = set()  # relays waiting for their thread (kept from the GC)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


def as_error(exc: BaseException, what: str) -> ErrorEvent:
    """An exception as the banner shows it: the runtime's message and hint when it has
    them, else what failed and the exception text."""
    if isinstance(exc, AssistantError):
        return ErrorEvent(exc.message, exc.hint, what)
    log.error("%s failed", what, exc_info=exc)
    return ErrorEvent(f"{what} failed: {exc}", None, what)


def run_in_background(
    fn: Callable[[], Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[ErrorEvent], None] | None = None,
    what: str = "task",
) -> threading.Thread:
    """Run ``fn`` in a daemon thread; ``on_done(result)`` or ``on_error(ErrorEvent)`` run
    later in the GUI thread (call this from the GUI thread)."""
    relay = _Relay()
    _alive.add(relay)

    def release(_: object) -> None:
        _alive.discard(relay)

    if on_done is not None:
        relay.done.connect(on_done)
    if on_error is not None:
        relay.failed.connect(on_error)
    relay.done.connect(release)
    relay.failed.connect(release)

    def work() -> None:
        try:
            result = fn()
        except Exception as exc:  # a worker never dies silently: it becomes a banner
            relay.failed.emit(as_error(exc, what))
            return
        relay.done.emit(result)

    thread = threading.Thread(target=work, name=f"gui-{what}", daemon=True)
    thread.start()
    return thread
