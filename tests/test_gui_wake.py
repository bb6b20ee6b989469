"""The desktop app's wake toggle and its asleep / listening indicator, on the real
pipeline, the real engines and the real wake-word detector, fed by speech played in real
time (a scripted source) and a simulated speaker."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from gui_setup import GuiApps, load_engines, steady_config
from gui_setup import replies as _replies
from PySide6.QtCore import Qt

from assistant.audio import read_audio
from assistant.audio.playback import Player
from assistant.config import Config, load_config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource, State
from gui.app import App


def _config() -> Config:
    config = steady_config(max_tokens=24)
    config.wake.follow_up_s = 1.0
    return config


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines(_config())


@pytest.fixture
def make_app(gui_apps: GuiApps, tmp_path: Path, engines: Engines):
    """``make_app(config) -> (App, sources)``: each (re)start of the conversation gets a
    new scripted source, the last of ``sources`` is the one playing."""

    def _make(config: Config) -> tuple[App, list[ScriptedSource]]:
        sources: list[ScriptedSource] = []

        def source(config: Config) -> ScriptedSource:
            sources.append(ScriptedSource([]))
            return sources[-1]

        app = gui_apps.build(
            config,
            source=source,
            player=lambda rate, config: Player(rate, simulated=True),
            load_engines=lambda config, store: engines,
            history_path=tmp_path / "history.sqlite3",
            knowledge_path=tmp_path / "no-knowledge.sqlite3",
        )
        return app, sources

    return _make


def test_the_wake_toggle_sleeps_until_the_word_and_the_indicator_follows(
    qtbot, make_app, speak, tmp_path
):
    app, sources = make_app(_config())
    window = app.window
    qtbot.waitUntil(lambda: app.controller.conversation is not None, timeout=60_000)
    assert not window.wake.isChecked() and "Asleep" not in window.state_label.text()

    qtbot.mouseClick(window.wake, Qt.MouseButton.LeftButton)
    assert window.hands_free.isChecked()  # wake mode listens hands-free
    qtbot.waitUntil(lambda: window.state == State.ASLEEP, timeout=60_000)
    assert "Asleep" in window.state_label.text() and "hey jarvis" in window.state_label.text()
    assert window.wake.isChecked()
    assert load_config(tmp_path / "config.toml").wake.enabled  # saved in [wake]

    # Speech without the word: it stays asleep, nothing is heard or answered.
    chatter = read_audio(speak("I think the cat is hungry."))
    sources[-1].play_now(chatter)
    qtbot.wait(int(1000 * chatter.duration) + 1500)
    assert window.state == State.ASLEEP and not window.view.turns

    # The word and a request: "listening", then the request is answered, then asleep.
    seen: list[State] = []
    app.controller.bridge.state_changed.connect(lambda event: seen.append(event.state))
    sources[-1].play_now(read_audio(speak("Hey Jarvis, what is the capital of France?")))
    qtbot.waitUntil(lambda: len(_replies(window)) == 1, timeout=90_000)
    assert seen[0] == State.LISTENING
    turn = _replies(window)[0]
    text = turn.user.text().lower()
    assert "capital of france" in text and "cat" not in text and "jarvis" not in text
    qtbot.waitUntil(lambda: window.state == State.ASLEEP, timeout=30_000)  # follow-up passed

    # Off: it listens to any speech again (hands-free stays on).
    qtbot.mouseClick(window.wake, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=60_000)
    assert "Listening" in window.state_label.text()
    assert not load_config(tmp_path / "config.toml").wake.enabled


def test_a_wake_word_that_cannot_load_is_reported_and_the_toggle_shows_it_off(qtbot, make_app):
    config = _config()
    config.wake.enabled = True
    config.wake.words = ["no_such_word"]
    app, _ = make_app(config)
    window = app.window
    assert window.wake.isChecked() and window.hands_free.isChecked()
    qtbot.waitUntil(lambda: "no_such_word" in window.banner.message(), timeout=60_000)
    qtbot.waitUntil(lambda: not window.wake.isChecked(), timeout=10_000)
    assert window.state == State.LISTENING  # hands-free, without the wake word
