"""The scheduler: timers ring on time, also after a restart, and repeat until stopped;
a damaged file is moved aside."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import pytest

from assistant.commands import Announcement, Scheduler


def _wait(
    announcements: queue.Queue[tuple[float, Announcement]], timeout: float
) -> tuple[float, Announcement]:
    return announcements.get(timeout=timeout)


def test_a_5_second_timer_rings_on_time_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    heard: queue.Queue[tuple[float, Announcement]] = queue.Queue()
    first = Scheduler(path, lambda a: heard.put((time.time(), a)))
    first.start()
    item = first.add("timer", name="tea", seconds=5.0)
    time.sleep(1.0)
    first.close()  # the app quits
    assert heard.empty()
    second = Scheduler(path, lambda a: heard.put((time.time(), a)), repeat_s=1.0)
    second.start()  # and starts again
    try:
        rang_at, announcement = _wait(heard, 10)
        assert announcement.item.id == item.id and announcement.repeat == 0
        assert "tea timer" in announcement.text
        assert item.due_at is not None and abs(rang_at - item.due_at) < 0.1, rang_at - item.due_at
        _, again = _wait(heard, 3)  # not acknowledged: said again
        assert again.repeat == 1
        from assistant.commands import CommandContext, CommandRouter

        router = CommandRouter(CommandContext(scheduler=second))
        stopped = router.handle("Thanks.")  # "thanks" while it rings: heard, silenced
        assert stopped is not None and stopped.data["acknowledged"] == [item.id]
        assert router.handle("Thanks.") is None  # nothing rings: conversation, for the model
        with pytest.raises(queue.Empty):
            _wait(heard, 1.5)
        assert second.items() == []
    finally:
        second.close()


def test_paused_timer_does_not_ring_and_keeps_its_time(tmp_path: Path) -> None:
    heard: queue.Queue[tuple[float, Announcement]] = queue.Queue()
    with Scheduler(tmp_path / "s.json", lambda a: heard.put((time.time(), a))) as scheduler:
        item = scheduler.add("timer", seconds=0.5)
        assert scheduler.pause(item.id)
        time.sleep(0.8)
        assert heard.empty()
        left = scheduler.items()[0].left(time.time())
        assert 0.3 < left <= 0.5
        scheduler.resume(item.id)
        _wait(heard, 3)


def test_a_damaged_file_is_moved_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedule.json"
    path.write_text("{not json")
    scheduler = Scheduler(path)
    assert scheduler.items() == []
    moved = scheduler.store.moved_aside
    assert moved is not None and moved.read_text() == "{not json"
    assert "damaged" in caplog.text and str(moved) in caplog.text
    scheduler.add("timer", seconds=60)
    assert len(json.loads(path.read_text())["items"]) == 1


def test_the_chime_is_a_short_audible_sound() -> None:
    import numpy as np

    from assistant.commands.chime import chime

    sound = chime(22050)
    assert sound.dtype == np.float32 and len(sound) == 2 * int(0.25 * 22050)
    assert 0.1 < float(np.abs(sound).max()) <= 0.3
