"""The server's per-engine slots: order, limits, cancellation and sharing between event
loops (fast tests of the queueing logic beside the real-engine ones in test_serve.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from assistant.serve.errors import ApiError
from assistant.serve.queueing import Slots, iterate_in_thread


def test_first_come_first_served_and_a_full_queue_is_429() -> None:
    slots = Slots("llm", capacity=1, max_queue=2)
    order: list[int] = []

    async def user(n: int) -> None:
        await slots.acquire()
        order.append(n)
        await asyncio.sleep(0.01)
        slots.release()

    async def main() -> None:
        await slots.acquire()
        tasks = [asyncio.create_task(user(n)) for n in range(2)]
        await asyncio.sleep(0.01)
        assert slots.waiting == 2
        with pytest.raises(ApiError) as refused:
            await slots.acquire()
        assert refused.value.status == 429
        slots.release()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == [0, 1]
    assert (slots.running, slots.waiting) == (0, 0)


def test_a_cancelled_waiter_never_keeps_the_slot() -> None:
    slots = Slots("asr", capacity=1)

    async def main() -> None:
        await slots.acquire()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0.01)
        slots.release()  # the grant is on its way ...
        waiter.cancel()  # ... and the waiter goes away before it lands
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.sleep(0.01)
        await asyncio.wait_for(slots.acquire(), 1)  # the slot was passed on
        slots.release()

    asyncio.run(main())
    assert (slots.running, slots.waiting) == (0, 0)


def test_two_event_loops_share_one_engine() -> None:
    slots = Slots("voice", capacity=1)
    inside = 0
    most = 0
    lock = threading.Lock()

    def server() -> None:
        async def main() -> None:
            nonlocal inside, most
            for _ in range(20):
                await slots.acquire()
                with lock:
                    inside += 1
                    most = max(most, inside)
                await asyncio.sleep(0.001)
                with lock:
                    inside -= 1
                slots.release()

        asyncio.run(main())

    threads = [threading.Thread(target=server) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1 and slots.running == 0


def test_leaving_a_stream_early_stops_the_engine_and_then_frees_the_slot() -> None:
    slots = Slots("llm", capacity=1)
    produced: list[int] = []
    engine_done = threading.Event()

    def make(cancel: threading.Event):  # type: ignore[no-untyped-def]
        try:
            for n in range(1000):
                if cancel.is_set():
                    return
                produced.append(n)
                yield n
                cancel.wait(0.005)
        finally:
            engine_done.set()

    async def main() -> None:
        stream = iterate_in_thread(slots, make, threading.Event())
        assert await stream.__anext__() == 0
        await stream.aclose()
        assert await asyncio.to_thread(engine_done.wait, 2)
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert len(produced) < 20 and slots.running == 0
