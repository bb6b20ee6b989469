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
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .errors import ApiError

__all__ = ["ClientGone", "Slots", "call_in_thread", "iterate_in_thread", "unless_disconnected"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="serve-engine")
"""Engine calls run here; slots bound how many of them run per engine."""


class Slots:
    """``capacity`` concurrent calls on one engine, ``max_queue`` waiting, first come
    first served. Thread-safe and not tied to one event loop: servers on different
    loops (the HTTP API of a test, a benchmark's second server) can share an engine."""

    def __init__(self, name: str, capacity: int = 1, max_queue: int = 64) -> None:
        self.name = name
        self.capacity = capacity
        self.max_queue = max_queue
        self.running = 0
        self._free = capacity
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """Wait for a slot; 429 when the queue is full."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                self.running += 1
                return
            if len(self._waiters) >= self.max_queue:
                raise ApiError(
                    429,
                    f"the {self.name} engine is busy ({len(self._waiters)} requests "
                    "waiting); try again shortly",
                    "engine_busy",
                )
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, future))
                    queued = True
                except ValueError:
                    queued = False  # a release handed this request the slot meanwhile
            if not queued and not future.cancelled():
                self.release()  # granted, then cancelled: pass the slot on
            raise

    def release(self) -> None:
        """Free a slot: the longest-waiting request gets it, else it is free."""
        with self._lock:
            if not self._waiters:
                self._free += 1
                self.running -= 1
                return
            loop, future = self._waiters.popleft()

        def grant() -> None:
            if future.cancelled():
                self.release()  # its request went away while the grant travelled
            else:
                future.set_result(None)

        try:
            loop.call_soon_threadsafe(grant)
        except RuntimeError:  # that loop is closed: pass the slot on
            self.release()


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
    # The slot is freed when the thread has finished, whatever happens to this side.
    _EXECUTOR.submit(work).add_done_callback(lambda _f: slots.release())
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
    done = _EXECUTOR.submit(fn)
    # Freed when the thread has finished (or never started), even if this side is
    # cancelled meanwhile: two calls never overlap on one engine.
    done.add_done_callback(lambda _f: slots.release())
    return await asyncio.wrap_future(done)


class ClientGone(Exception):
    """The client closed the connection while its request waited."""


async def _disconnected(receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(
    receive: Callable[[], Awaitable[Mapping[str, Any]]], work: Awaitable[T]
) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled
    (a request waiting in an engine's queue leaves it) and :class:`ClientGone` raised.

    ``receive`` is the request's ASGI receive, its body already read."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        gone.cancel()
    if not task.done() or task.cancelled():
        raise ClientGone
    return task.result()
