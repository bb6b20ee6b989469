"""The real system tray: the app on an X server (Xvfb) with a tray host (trayer), its
icon clicked with real X events (xdotool). Offscreen Qt has no tray, so this runs the app
in a subprocess on the xcb platform."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from assistant.config import Config, save_config
    from assistant.errors import AssistantError
    from gui.app import Services, build_app

    def no_engines(config, store):
        raise AssistantError("no engines in this test")

    qt = QApplication([])
    qt.setQuitOnLastWindowClosed(False)
    path = Path(sys.argv[1])
    config = Config()
    config.gui.close_to_tray = True
    save_config(config, path)
    app = build_app(Services(config_path=path, load_engines=no_engines, first_run=False))
    qt.aboutToQuit.connect(app.close)

    def pump(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            qt.processEvents()
            time.sleep(0.02)

    def click(button):
        centre = app.tray.geometry().center()
        subprocess.run(["xdotool", "mousemove", str(centre.x()), str(centre.y()),
                        "click", str(button)], check=True)
        pump(0.6)

    pump(1.0)
    seen = {"tray": app.tray is not None}
    if app.tray is not None:
        geometry = app.tray.geometry()
        seen["icon_size"] = [geometry.width(), geometry.height()]
        seen["menu"] = [a.text() for a in app.tray.contextMenu().actions()]
        app.window.close()  # close-to-tray: hides, keeps running
        pump(0.3)
        seen["visible_after_close"] = app.window.isVisible()
        click(1)
        seen["visible_after_click"] = app.window.isVisible()
        click(1)
        seen["visible_after_second_click"] = app.window.isVisible()
        before = app.tray.icon().pixmap(16, 16).toImage()
        app.tray.contextMenu().actions()[1].trigger()  # mute
        pump(0.2)
        seen["muted"] = app.controller.muted
        seen["icon_changed"] = app.tray.icon().pixmap(16, 16).toImage() != before
        # Quit from the tray menu, once the event loop runs (quit() needs a running loop).
        QTimer.singleShot(0, app.tray.contextMenu().actions()[2].trigger)
    else:
        QTimer.singleShot(0, qt.quit)
    print("TRAY " + json.dumps(seen), flush=True)
    sys.exit(qt.exec())
    """
)


def _wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def display_with_tray() -> Iterator[str]:
    """A virtual X display with a system tray host on it (at the bottom: with no window
    manager the window opens at the top left and would cover it)."""
    # Xvfb picks a free display number itself and writes it to the pipe once it is
    # ready: a number of our own could belong to a server, or a stale lock, already there.
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24",
         "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,),
    )  # fmt: skip
    os.close(write_end)
    tray = None
    try:
        ready, _, _ = select.select([read_end], [], [], 20)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number.isdigit():
            raise AssertionError("Xvfb did not start")
        display = f":{number}"
        env = {**os.environ, "DISPLAY": display}
        tray = subprocess.Popen(
            ["trayer", "--edge", "bottom", "--widthtype", "pixel", "--width", "200",
             "--height", "32"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # The tray host owns the _NET_SYSTEM_TRAY_S0 selection once its window exists.
        _wait_for(
            lambda: subprocess.run(["xdotool", "search", "--class", "trayer"], env=env,
                                   capture_output=True).returncode == 0,
            10, "trayer",
        )  # fmt: skip
        yield display
    finally:
        os.close(read_end)
        for proc in (tray, xvfb):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


def test_the_tray_icon_shows_hides_mutes_and_quits(display_with_tray: str, tmp_path: Path):
    env = {**os.environ, "DISPLAY": display_with_tray, "QT_QPA_PLATFORM": "xcb"}
    script = tmp_path / "tray_app.py"
    script.write_text(_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "config.toml")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next((x for x in result.stdout.splitlines() if x.startswith("TRAY ")), None)
    assert line is not None, result.stdout + result.stderr
    seen = json.loads(line[5:])
    assert seen["tray"] is True
    assert min(seen["icon_size"]) > 0
    assert seen["menu"] == ["Show / hide", "Mute microphone", "Quit"]
    assert seen["visible_after_close"] is False  # closing kept it in the tray
    assert seen["visible_after_click"] is True  # a click on the icon brings it back
    assert seen["visible_after_second_click"] is False
    assert seen["muted"] is True and seen["icon_changed"] is True
    assert result.returncode == 0, result.stderr  # Quit in the tray menu ended the app
