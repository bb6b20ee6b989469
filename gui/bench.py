"""``assistant bench gui``: how soon the window appears, and how long the GUI thread
stalls during a spoken turn.

Measuring code only; ``assistant.cli.bench`` prints the figures. It lives here, not in
``assistant.bench``, because it needs Qt and the runtime never imports Qt at module level.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LAUNCH_GOAL_S",
    "STALL_GOAL_S",
    "VISIBLE_MARK",
    "GuiBenchOptions",
    "GuiReport",
    "Launch",
    "StallTurn",
    "measure_launches",
    "measure_stalls",
    "run_gui_bench",
]

LAUNCH_GOAL_S = 1.5
"""Goal: the window is visible at most this long after the process starts."""
STALL_GOAL_S = 0.050
"""Goal: the GUI thread never stalls longer than this during a turn."""
VISIBLE_MARK = "BENCH-VISIBLE"
"""The line ``assistant gui --bench-visible`` prints once its window is exposed."""


@dataclass
class GuiBenchOptions:
    launches: int = 3
    """Launches of ``python -m assistant gui`` timed (0 for none)."""
    turns: int = 3
    """Spoken turns during which the GUI thread is watched (0 for none)."""
    heartbeat_ms: int = 5
    """The heartbeat timer's interval."""
    max_tokens: int | None = None
    """Longest reply in tokens (default: the config's)."""


@dataclass
class Launch:
    from_spawn_s: float
    """From starting the process (interpreter start and imports included) to the
    window's first expose event."""
    from_run_s: float
    """From just before ``gui.app.run()`` (Qt and the app's modules already imported)
    to the same event."""


@dataclass
class StallTurn:
    question: str
    longest_stall_s: float
    """The longest gap between heartbeats minus the heartbeat interval."""
    ticks: int
    """Heartbeats seen during the turn."""
    turn_s: float
    """From pressing talk to the end of the turn."""
    answered: bool
    """The turn finished with a reply within the time allowed."""


@dataclass
class GuiReport:
    options: GuiBenchOptions
    machine: Any
    launches: list[Launch] = field(default_factory=list)
    launch_errors: list[str] = field(default_factory=list)
    turns: list[StallTurn] = field(default_factory=list)

    def launch_worst(self) -> float | None:
        return max((x.from_spawn_s for x in self.launches), default=None)

    def launch_median(self) -> float | None:
        values = sorted(x.from_spawn_s for x in self.launches)
        return values[len(values) // 2] if values else None

    def stall_worst(self) -> float | None:
        return max((t.longest_stall_s for t in self.turns), default=None)

    def launch_goal_met(self) -> bool | None:
        worst = self.launch_worst()
        return None if worst is None else worst <= LAUNCH_GOAL_S

    def stall_goal_met(self) -> bool | None:
        worst = self.stall_worst()
        return None if worst is None else worst <= STALL_GOAL_S

    def to_dict(self) -> dict[str, Any]:
        return {
            "launch": {
                "median_s": self.launch_median(),
                "worst_s": self.launch_worst(),
                "goal_s": LAUNCH_GOAL_S,
                "goal_met": self.launch_goal_met(),
                "runs": [asdict(x) for x in self.launches],
                "errors": list(self.launch_errors),
            },
            "stall": {
                "worst_s": self.stall_worst(),
                "goal_s": STALL_GOAL_S,
                "goal_met": self.stall_goal_met(),
                "heartbeat_ms": self.options.heartbeat_ms,
                "turns": [asdict(t) for t in self.turns],
            },
            "settings": asdict(self.options),
            "machine": asdict(self.machine) if self.machine is not None else None,
        }


def _ensure_platform(env: MutableMapping[str, str]) -> None:
    """Headless machines get Qt's offscreen platform (a real display is used if any)."""
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")


# ---------------------------------------------------------------------- launch


def measure_launches(
    count: int,
    config_path: Path | None = None,
    *,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Launch], list[str]]:
    """Start ``python -m assistant gui --bench-visible`` ``count`` times; each prints the
    wall-clock time of its window's first expose event and exits."""
    env = dict(os.environ)
    _ensure_platform(env)
    command = [sys.executable, "-m", "assistant"]
    if config_path is not None:
        command += ["--config", str(config_path)]
    command += ["gui", "--bench-visible"]
    launches: list[Launch] = []
    errors: list[str] = []
    for i in range(count):
        started = time.time()
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            errors.append(f"launch {i + 1}: no window within {timeout:.0f} s")
            continue
        line = next((x for x in done.stdout.splitlines() if x.startswith(VISIBLE_MARK)), None)
        if line is None:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            errors.append(f"launch {i + 1}: exit {done.returncode}: {tail}")
            continue
        _, wall, from_run = line.split()
        launch = Launch(from_spawn_s=float(wall) - started, from_run_s=float(from_run))
        launches.append(launch)
        if progress is not None:
            progress(f"launch {i + 1}/{count}: window visible after {launch.from_spawn_s:.2f} s")
    return launches, errors


# ---------------------------------------------------------------------- stalls


class Heartbeat:
    """A precise timer in the GUI thread; ``longest`` is the longest gap between ticks."""

    def __init__(self, interval_ms: int) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.longest = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._timer = QTimer(interval=interval_ms)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.longest, self.ticks = 0.0, 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        """Stop; the longest stall (gap minus interval, seconds)."""
        self._timer.stop()
        self._tick()
        return max(0.0, self.longest - self.interval)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now
        self.ticks += 1


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Run the Qt event loop until ``predicate()`` or ``timeout`` seconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return True
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    check = QTimer(interval=20)
    def tick() -> None:
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    check.timeout.connect(tick)
    check.start()
    loop.exec()
    check.stop()
    return predicate()


def measure_stalls(
    config: Any,
    questions: list[Path],
    options: GuiBenchOptions,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[StallTurn]:
    """Open the app on the real pipeline (a scripted microphone, a simulated speaker,
    a throwaway history), ask ``options.turns`` questions with push-to-talk and watch
    the GUI thread with a heartbeat from pressing talk to the end of each turn."""
    _ensure_platform(os.environ)
    from PySide6.QtWidgets import QApplication

    from assistant.audio import read_audio
    from assistant.audio.playback import Player
    from assistant.config import save_config
    from assistant.pipeline import ScriptedSource, State

    from .app import Services, build_app

    qt = QApplication.instance() or QApplication(sys.argv[:1])
    source = ScriptedSource([])
    turns: list[StallTurn] = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as folder:
        config_path = Path(folder) / "config.toml"
        save_config(config, config_path)
        services = Services(
            config_path=config_path,
            source=lambda _config: source,
            player=lambda rate, _config: Player(rate, simulated=True),
            history_path=Path(folder) / "history.sqlite3",
            first_run=False,
        )
        app = build_app(services)
        controller = app.controller
        try:
            if not wait_until(lambda: controller.conversation is not None, 120):
                raise RuntimeError("the app did not finish loading its engines in 120 s")
            finished: list[int] = []
            controller.bridge.finished.connect(lambda event: finished.append(event.turn))
            heartbeat = Heartbeat(options.heartbeat_ms)
            for i in range(options.turns):
                path = questions[i % len(questions)]
                audio = read_audio(path)
                wait_until(lambda: app.window.state == State.LISTENING, 30)
                seen = len(finished)
                heartbeat.start()
                began = time.perf_counter()
                controller.push_to_talk(True)
                source.play_now(audio)
                wait_until(lambda: False, audio.duration + 0.3)
                controller.push_to_talk(False)
                answered = wait_until(functools.partial(_more_than, finished, seen), 120)
                wait_until(lambda: app.window.state == State.LISTENING, 30)
                turn_s = time.perf_counter() - began
                stall = heartbeat.stop()
                turns.append(StallTurn(path.name, stall, heartbeat.ticks, turn_s, answered))
                if progress is not None:
                    progress(
                        f"turn {i + 1}/{options.turns} ({path.name}): longest stall "
                        f"{1000 * stall:.0f} ms over {turn_s:.1f} s"
                    )
        finally:
            app.close()
            app.window.deleteLater()
            qt.processEvents()
    return turns


def run_gui_bench(
    config: Any,
    config_path: Path | None,
    questions: list[Path],
    options: GuiBenchOptions,
    *,
    progress: Callable[[str], None] | None = None,
) -> GuiReport:
    """Both measurements: launches in subprocesses, then the turns in this process."""
    from assistant.bench import machine_info

    if options.max_tokens is not None:
        config.llm.max_tokens = options.max_tokens
    report = GuiReport(options, machine_info())
    if options.launches:
        report.launches, report.launch_errors = measure_launches(
            options.launches, config_path, progress=progress
        )
    if options.turns:
        report.turns = measure_stalls(config, questions, options, progress=progress)
    return report


def _more_than(items: Sized, count: int) -> bool:
    return len(items) > count
