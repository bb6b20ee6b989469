"""Write PNGs of the desktop app for the README: the main window mid-conversation, the
settings and the model manager. Real engines; a scripted microphone and a simulated
speaker; a throwaway config and history. Run under Xvfb (``make screenshots``) or with
QT_QPA_PLATFORM=offscreen."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/screenshots", help="folder for the PNGs")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="assistant-shots-"))
    for name in ("CONFIG", "DATA", "CACHE"):
        os.environ[f"XDG_{name}_HOME"] = str(home / name.lower())

    from PySide6.QtWidgets import QApplication

    from assistant.audio.playback import Player
    from assistant.config import Config, save_config
    from assistant.pipeline import ScriptedSource, State
    from assistant.tts import synthesize_all
    from gui.app import Services, build_app

    config = Config()
    config.llm.temperature = 0.0
    config.llm.max_tokens = 80
    config_path = home / "config.toml"
    save_config(config, config_path)
    source = ScriptedSource([])
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    app = build_app(
        Services(
            config_path=config_path,
            source=lambda config: source,
            player=lambda rate, config: Player(rate, simulated=True),
            first_run=False,
        )
    )
    window = app.window

    def wait(condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there in time")
            qt.processEvents()
            time.sleep(0.01)

    def pause(seconds: float) -> None:
        end = time.monotonic() + seconds
        wait(lambda: time.monotonic() > end)

    wait(lambda: app.controller.conversation is not None)
    app.controller.send_text("What is the capital of France?")
    wait(lambda: any(t.waterfall for t in window.view.turns.values()))
    wait(lambda: window.state == State.LISTENING)
    voice = app.controller.engines.voice
    question = synthesize_all(voice, "Tell me something about the moon.")
    window.talk.pressed.emit()
    source.play_now(question)
    pause(question.duration + 0.3)
    window.talk.released.emit()
    wait(lambda: window.state == State.SPEAKING)
    pause(0.6)
    window.grab().save(str(out / "main-window.png"))
    wait(lambda: window.state == State.LISTENING, 90)
    settings = app.open_settings()
    pause(0.3)
    settings.grab().save(str(out / "settings.png"))
    settings.close()
    manager = app.open_models()
    pause(0.3)
    manager.grab().save(str(out / "model-manager.png"))
    manager.close()
    app.close()
    for name in ("main-window", "settings", "model-manager"):
        print(out / f"{name}.png", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    # PySide6 6.12 can abort while garbage-collecting at interpreter exit (a refcount
    # bug in shiboken); the PNGs are written by now, so leave without finalizing.
    os._exit(code)
