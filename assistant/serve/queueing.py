"""Bounded concurrency per engine, and running blocking engine calls off the event loop.

Each engine is loaded once and shared. A :class:`Slots` lets ``capacity`` calls run at
once and ``max_queue`` more wait; beyond that a request is refused with 429 at once
rather than queued without end. A slot is given back when the engine's thread has
really finished, not when the client went away, so a cancelled generation never
overlaps the next one on the same model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .errors import ApiError

__all__ = ["Slots", "call_in_thread", "iterate_in_thread"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="serve-engine")
"""Engine calls run here; slots bound how many of them run per engine."""


class Slots:
    """``capacity`` concurrent calls on one engine, ``max_queue`` waiting."""

    def __init__(self, name: str, capacity: int = 1, max_queue: int = 64) -> None:
        self.name = name
        self.capacity = capacity
        self.max_queue = max_queue
        self.waiting = 0
        self.running = 0
        self._sem: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.capacity)
        return self._sem

    async def acquire(self) -> None:
        """Wait for a slot; 429 when the queue is full."""
        if self.waiting >= self.max_queue:
            raise ApiError(
                429,
                f"the {self.name} engine is busy ({self.waiting} requests waiting); "
                "try again shortly",
                "engine_busy",
            )
        self.waiting += 1
        try:
            await self._semaphore().acquire()
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        self.running -= 1
        self._semaphore().release()


def _post(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], item: object) -> None:
    # A closed loop (RuntimeError) means nobody is listening any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(queue.put_nowait, item)


class _Done:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error


async def iterate_in_thread(
    slots: Slots,
    make: Callable[[threading.Event], Iterator[T]],
    cancel: threading.Event,
    timeout_s: float | None = None,
) -> AsyncGenerator[T, None]:
    """Run ``make(cancel)`` in a worker thread once a slot is free and yield its items.

    Leaving the loop early (the client disconnected, the request timed out) sets
    ``cancel``; the engine stops at its next step and only then frees the slot.
    """
    await slots.acquire()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def work() -> None:
        error: BaseException | None = None
        iterator = make(cancel)
        try:
            for item in iterator:
                _post(loop, queue, item)
                if cancel.is_set():
                    break
        except BaseException as exc:
            error = exc
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        _post(loop, queue, _Done(error))

    timer = loop.call_later(timeout_s, cancel.set) if timeout_s else None
    future = loop.run_in_executor(_EXECUTOR, work)
    future.add_done_callback(lambda _f: slots.release())
    try:
        while True:
            item = await queue.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item  # type: ignore[misc]
    finally:
        cancel.set()
        if timer is not None:
            timer.cancel()


async def call_in_thread(slots: Slots, fn: Callable[[], T]) -> T:
    """``fn()`` in a worker thread once a slot is free."""
    await slots.acquire()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_EXECUTOR, fn)
    future.add_done_callback(lambda _f: slots.release())
    return await future
