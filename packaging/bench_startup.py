"""Start-up time of the bundled app beside `python -m assistant` from the source tree.

Two figures, each the median of --runs fresh processes, measured in the same run:
- command: `assistant --help` until it exits (interpreter start plus the CLI's imports);
- window: `assistant gui --bench-visible` until its main window is first exposed (Qt's
  offscreen platform when there is no display; the models load after that, behind the
  window's progress indicator).

    .venv/bin/python packaging/bench_startup.py [--bundle dist/assistant/assistant] [--runs 5]

Each process gets a fresh temporary config and data folder, so both start the same way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
_VISIBLE = "BENCH-VISIBLE"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def time_command(command: list[str]) -> float:
    """Seconds from spawning ``command --help`` to its exit."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([*command, "--help"], env=_env(Path(tmp)), capture_output=True,
                              check=False, cwd=_REPO)  # fmt: skip
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} --help failed: {done.stderr[-500:]!r}")
    return seconds


def time_window(command: list[str], timeout: float = 120.0) -> float:
    """Seconds from spawning ``command gui --bench-visible`` to its window's first expose."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.time()
        done = subprocess.run([*command, "gui", "--bench-visible"], env=_env(Path(tmp)),
                              capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=_REPO)  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith(_VISIBLE)), None)
    if line is None:
        raise SystemExit(f"error: {' '.join(command)} showed no window: {done.stderr[-500:]!r}")
    return float(line.split()[1]) - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=_REPO / "dist" / "assistant" / "assistant")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.bundle.is_file():
        print(f"error: {args.bundle} does not exist; run `make bundle` first", file=sys.stderr)
        return 1
    commands = {
        "source (python -m assistant)": [sys.executable, "-m", "assistant"],
        f"bundle ({args.bundle})": [str(args.bundle)],
    }
    results: dict[str, dict[str, float]] = {}
    for name, command in commands.items():
        time_command(command)  # one warm-up each: the page cache, not the app, is timed else
        results[name] = {
            "command": statistics.median(time_command(command) for _ in range(args.runs)),
            "window": statistics.median(time_window(command) for _ in range(args.runs)),
        }
    source, bundle = results.values()
    print(f"start-up, median of {args.runs} runs each")
    print(f"  {'':34} {'--help exits':>14} {'window visible':>15}")
    for name, figures in results.items():
        print(f"  {name[:34]:34} {figures['command']:13.2f}s {figures['window']:14.2f}s")
    print(f"  {'bundle / source':34} {bundle['command'] / source['command']:13.2f}x "
          f"{bundle['window'] / source['window']:14.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
