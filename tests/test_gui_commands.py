"""The app's local commands on the scripted engines (assistant/bench/fakes.py): a typed
command's turn with its waterfall (matched, no generation), the timers panel with its
countdown and cancel button, and a timer that rings into the conversation view. The
same pipeline on the real engines is in test_pipeline_commands.py / test_listen_commands.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.audio.playback import Player
from assistant.bench.fakes import FakeChat, FakeTranscriber, FakeVad, FakeVoice, Phrasebook
from assistant.commands import CommandHost
from assistant.config import Config, save_config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource
from gui.app import App, Services, build_app


@pytest.fixture
def app(qtbot, tmp_path: Path):
    path = tmp_path / "config.toml"
    save_config(Config(), path)
    chat = FakeChat()
    engines = Engines(FakeVad(), FakeTranscriber(Phrasebook()), chat, FakeVoice())
    services = Services(
        config_path=path,
        source=lambda config: ScriptedSource([]),
        player=lambda rate, config: Player(rate, simulated=True),
        load_engines=lambda config, store: engines,
        history_path=tmp_path / "history.db",
        first_run=False,
        commands=lambda: CommandHost.open(tmp_path / "schedule.json", tmp_path / "notes.db"),
    )
    made: App = build_app(services)
    qtbot.addWidget(made.window)
    qtbot.waitUntil(lambda: made.controller.conversation is not None, timeout=10_000)
    made.chat = chat  # type: ignore[attr-defined]
    yield made
    made.close()


def _send(app: App, text: str) -> None:
    app.window.text.setText(text)
    app.window.send.click()


def test_a_typed_command_is_a_turn_with_a_matched_waterfall(qtbot, app):
    _send(app, "what is 15 percent of 80")
    view = app.window.view
    qtbot.waitUntil(lambda: any(t.waterfall is not None for t in view.turns.values()))
    turn = next(t for t in view.turns.values() if t.waterfall is not None)
    assert turn.reply is not None and "12" in turn.reply.text()
    labels = [label for label, _, _ in turn.waterfall.segments()]
    assert any("command matched" in label for label in labels)
    assert not app.chat.calls.items  # the model was not asked


def test_timers_show_with_a_countdown_and_cancel_from_the_panel(qtbot, app):
    panel = app.window.schedule
    _send(app, "set a pasta timer for 10 minutes")
    qtbot.waitUntil(lambda: len(panel.texts()) == 1)
    assert panel.isVisible() or not app.window.isVisible()
    first = panel.texts()[0]
    assert first.startswith("Timer pasta: 9:5") or first == "Timer pasta: 10:00"
    qtbot.wait(1100)
    assert panel.texts()[0] != "Timer pasta: 10:00"  # it counts down
    panel.cancel_buttons()[0].click()
    qtbot.waitUntil(lambda: panel.texts() == [])
    assert app.controller.commands is not None
    assert app.controller.commands.scheduler.items() == []


def test_a_timer_rings_into_the_view_until_stopped(qtbot, app):
    _send(app, "set a timer for 1 second")
    view = app.window.view
    qtbot.waitUntil(lambda: any("timer" in t and "done" in t for t in view.texts()), timeout=5000)
    panel = app.window.schedule
    qtbot.waitUntil(lambda: any("ringing" in t for t in panel.texts()))
    _send(app, "stop")
    qtbot.waitUntil(lambda: panel.texts() == [])
