"""The main window: the conversation, the state, the microphone level and the controls."""

from __future__ import annotations

import datetime
import logging

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from assistant.compute import cpu_fallbacks
from assistant.pipeline.events import ErrorEvent, State, StateChanged

from .banner import Banner
from .controller import Controller
from .conversation_view import ConversationView
from .schedule_panel import SchedulePanel
from .sound_settings import open_sound_settings

__all__ = ["PTT_KEY", "MainWindow", "qt_app"]

log = logging.getLogger(__name__)

PTT_KEY = Qt.Key.Key_F2
"""Hold to talk (Space works too while the text box is not focused)."""

_STATE_STYLE = {
    State.IDLE: ("Starting…", "#8a8a8a"),
    State.ASLEEP: ("Asleep: say the wake word", "#5a5a7a"),
    State.LISTENING: ("Listening", "#3a7bd5"),
    State.HEARING: ("Hearing you", "#2e9d5b"),
    State.THINKING: ("Thinking", "#d98a3a"),
    State.SPEAKING: ("Speaking", "#9b6bd6"),
}

_WAKE_TIP = ("Sleep until you say the wake word (Settings: [wake] words), then listen for "
             "one request; a follow-up needs no wake word")  # fmt: skip


class MainWindow(QMainWindow):
    """A view of the :class:`Controller`; every slot runs in the GUI thread."""

    settings_requested = Signal()
    models_requested = Signal()
    voice_lab_requested = Signal()
    knowledge_requested = Signal()

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.minimise_to_tray = False
        self.quitting = False
        self.mic_problem = ""
        """Why there is no microphone now ('' while there is one)."""
        self.output_problem = ""
        """Why there is no sound output now ('' while there is one)."""
        self.setWindowTitle("Offline Voice Assistant")
        self.resize(900, 640)
        self._build()
        self._connect()
        self._show_state(State.IDLE)
        self.set_controls_enabled(False)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        toolbar = self.addToolBar("main")
        toolbar.setMovable(False)
        self.new_action = QAction("New conversation", self)
        self.settings_action = QAction("Settings", self)
        self.models_action = QAction("Models", self)
        self.voice_lab_action = QAction("Voice lab", self)
        self.knowledge_action = QAction("Knowledge", self)
        for action in (
            self.new_action,
            self.settings_action,
            self.models_action,
            self.voice_lab_action,
            self.knowledge_action,
        ):
            toolbar.addAction(action)

        self.history = QListWidget()
        self.history.setMinimumWidth(180)
        self.banner = Banner()
        self.view = ConversationView()
        self.schedule = SchedulePanel(self.controller.cancel_scheduled)

        self.state_label = QLabel()
        self.state_label.setMinimumWidth(120)
        self.level = QProgressBar()
        self.level.setRange(0, 60)
        self.level.setTextVisible(False)
        self.level.setFixedHeight(10)
        self.level.setToolTip("Microphone level")
        status = QHBoxLayout()
        status.addWidget(self.state_label)
        status.addWidget(QLabel("mic"))
        status.addWidget(self.level, 1)

        self.talk = QPushButton("Hold to talk  (F2 / Space)")
        self.talk.setMinimumHeight(40)
        self.hands_free = QCheckBox("Hands-free")
        self.hands_free.setToolTip("Listen all the time; a pause ends what you say")
        self.wake = QCheckBox("Wake word")
        self.wake.setToolTip(_WAKE_TIP)
        self.wake.setChecked(self.controller.wake_enabled)
        if self.wake.isChecked():  # wake mode listens hands-free
            self.hands_free.setChecked(True)
            self.controller.set_hands_free(True)
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Interrupt the reply (Esc)")
        self.stop.setShortcut(Qt.Key.Key_Escape)
        controls = QHBoxLayout()
        controls.addWidget(self.talk, 1)
        controls.addWidget(self.hands_free)
        controls.addWidget(self.wake)
        controls.addWidget(self.stop)

        self.text = QLineEdit()
        self.text.setPlaceholderText("Type instead of speaking, then Enter")
        self.send = QPushButton("Send")
        typed = QHBoxLayout()
        typed.addWidget(self.text, 1)
        typed.addWidget(self.send)

        centre = QWidget()
        column = QVBoxLayout(centre)
        column.addWidget(self.banner)
        column.addWidget(self.view, 1)
        column.addLayout(status)
        column.addLayout(controls)
        column.addLayout(typed)

        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(QLabel("Conversations"))
        left_column.addWidget(self.history, 1)
        left_column.addWidget(self.schedule)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 700])
        self.setCentralWidget(splitter)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy indicator
        self.progress.setMaximumWidth(160)
        self.progress_label = QLabel()
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.progress.hide()

    def _connect(self) -> None:
        c, bridge = self.controller, self.controller.bridge
        bridge.state_changed.connect(self._on_state)
        bridge.level.connect(self._on_level)
        bridge.partial.connect(self.view.set_partial)
        bridge.final.connect(self.view.add_user)
        bridge.token.connect(self.view.add_token)
        bridge.sources.connect(self.view.add_sources)
        bridge.finished.connect(self.view.finish)
        bridge.metrics.connect(self.view.add_metrics)
        bridge.error.connect(self.show_error)
        bridge.schedule.connect(self.schedule.show_items)
        bridge.announced.connect(self.view.add_announcement)
        c.loading.connect(self._on_loading)
        c.ready.connect(self._on_ready)
        c.failed.connect(self.show_error)
        c.history_changed.connect(self.refresh_history)
        c.output_changed.connect(self._on_output)
        c.conversation_opened.connect(self.view.show_turns)
        self.talk.pressed.connect(lambda: self._talk(True))
        self.talk.released.connect(lambda: self._talk(False))
        self.hands_free.toggled.connect(self._on_hands_free)
        self.wake.toggled.connect(self._on_wake)
        c.wake_changed.connect(self._show_wake)
        self.stop.clicked.connect(c.interrupt)
        self.send.clicked.connect(self._send)
        self.text.returnPressed.connect(self._send)
        self.new_action.triggered.connect(self._new_conversation)
        self.settings_action.triggered.connect(self.settings_requested)
        self.models_action.triggered.connect(self.models_requested)
        self.voice_lab_action.triggered.connect(self.voice_lab_requested)
        bridge.level.connect(self._mic_back)
        self.knowledge_action.triggered.connect(self.knowledge_requested)
        self.history.itemActivated.connect(self._open_item)
        self.history.itemClicked.connect(self._open_item)
        qt_app().installEventFilter(self)

    # ------------------------------------------------------------------ slots

    def set_controls_enabled(self, on: bool) -> None:
        for widget in (self.talk, self.hands_free, self.wake, self.stop, self.text, self.send):
            widget.setEnabled(on)
        if on and self.mic_problem:
            self._mic_controls(False)

    def _mic_controls(self, on: bool) -> None:
        """The microphone's controls, off with the reason while there is no microphone."""
        why = "" if on else f"No microphone: {self.mic_problem}. Typing works."
        self.talk.setEnabled(on and not self.hands_free.isChecked())
        self.hands_free.setEnabled(on)
        self.wake.setEnabled(on)
        self.talk.setToolTip(why or "Hold to talk (F2 / Space)")
        self.hands_free.setToolTip(why or "Listen all the time; a pause ends what you say")
        self.level.setToolTip(why or "Microphone level")

    def _mic_back(self, rms_db: float, probability: float) -> None:
        if self.mic_problem and self.controller.conversation is not None:
            self.mic_problem = ""
            self._mic_controls(True)
            self.progress_label.setText("The microphone is back")

    def _on_output(self, why: str) -> None:
        """No speakers: replies are shown as text and the banner says how to fix sound."""
        self.output_problem = why
        if why:
            self.banner.show_message(
                "No sound output: replies are shown as text",
                f"{why}. Connect speakers or headphones, or choose another output in "
                "Settings → Audio; sound starts by itself when a device appears.",
                ("Open sound settings", self._open_sound_settings),
            )
        else:
            if self.banner.isVisible() and "No sound output" in self.banner.message():
                self.banner.hide()
            self.progress_label.setText("Sound output is back")

    def _open_sound_settings(self) -> None:
        advice = open_sound_settings()
        if advice is not None:
            self.banner.show_message("Cannot open the sound settings", advice)

    def _on_loading(self, text: str) -> None:
        self.set_controls_enabled(False)
        self.progress_label.setText(text)
        self.progress.show()

    def _on_ready(self) -> None:
        self.progress.hide()
        self.progress_label.setText("Ready")
        self.set_controls_enabled(True)
        self.talk.setEnabled(not self.hands_free.isChecked())
        self.banner.hide()
        # The wake words may have failed to load (the banner says why): then the
        # conversation runs without them and the toggle says so.
        self._show_wake(self.controller.wake_gate is not None)
        config = self.controller.config
        fallbacks = cpu_fallbacks(
            {"asr": config.asr.device, "llm": config.llm.device, "tts": config.tts.device}
        )
        if fallbacks:  # the engines are loaded: these probes are cached, no wait here
            self.banner.show_message(
                "Running on the CPU: CUDA cannot be used here",
                "; ".join(fallbacks) + ". Everything works on the CPU, only more slowly.",
                ("Settings", self.settings_requested.emit),
            )

    def _on_state(self, event: StateChanged) -> None:
        self._show_state(event.state)
        if event.previous == State.HEARING and event.state == State.LISTENING:
            self.view.user_gave_up()

    def _show_state(self, state: State) -> None:
        text, colour = _STATE_STYLE[state]
        gate = self.controller.wake_gate
        if state == State.ASLEEP and gate is not None:
            phrases = [getattr(e, "phrase", e.name) for e in gate.detector.engines]
            text = "Asleep: say " + " or ".join(f"“{p}”" for p in phrases)
        if state == State.LISTENING and not self.hands_free.isChecked():
            # Push-to-talk: the microphone is only heard while the key is held.
            text, colour = "Ready: hold to talk or type", "#5a5a5a"
        self.state_label.setText(f"<span style='color:{colour}; font-size:15px'>●</span> {text}")
        self.state = state

    def _on_level(self, rms_db: float, probability: float) -> None:
        value = int(max(0.0, min(60.0, rms_db + 60.0)))
        if value != self.level.value():  # most blocks are silence: no repaint for those
            self.level.setValue(value)

    def show_error(self, error: ErrorEvent) -> None:
        """A failure as a banner, with the button that fixes it where there is one."""
        self.progress.hide()
        self.progress_label.setText("")
        action = None
        if error.source == "input":
            self.mic_problem = error.message
            self._mic_controls(False)
        if error.source in ("input", "output"):
            action = ("Open sound settings", self._open_sound_settings)
        elif error.source in ("loading", "config") or "model" in error.message.lower():
            action = ("Open the model manager", self.models_requested.emit)
        self.banner.show_message(error.message, error.hint, action)
        if error.source == "loading" and self.controller.engines is not None:
            self.set_controls_enabled(True)

    def _talk(self, pressed: bool) -> None:
        if self.hands_free.isChecked():
            return
        self.controller.push_to_talk(pressed)

    def _on_wake(self, on: bool) -> None:
        if on and not self.hands_free.isChecked():
            self.hands_free.setChecked(True)  # wake mode listens hands-free
        self.controller.set_wake(on)

    def _show_wake(self, on: bool) -> None:
        """The toggle shows whether wake mode runs, without switching it again."""
        if self.wake.isChecked() != on:
            self.wake.blockSignals(True)
            self.wake.setChecked(on)
            self.wake.blockSignals(False)
        if on and not self.hands_free.isChecked():  # switched on elsewhere (the voice lab)
            self.hands_free.blockSignals(True)
            self.hands_free.setChecked(True)
            self.hands_free.blockSignals(False)
            self.talk.setEnabled(False)

    def _on_hands_free(self, on: bool) -> None:
        if not on and self.wake.isChecked():
            self.wake.setChecked(False)  # wake mode is a kind of hands-free
        self.controller.set_hands_free(on)
        self.talk.setEnabled(not on and self.controller.conversation is not None)
        if getattr(self, "state", None) == State.LISTENING:
            self._show_state(State.LISTENING)

    def _send(self) -> None:
        text = self.text.text().strip()
        if text:
            self.text.clear()
            self.view.expect_typed(text)
            self.controller.send_text(text)

    def _new_conversation(self) -> None:
        self.controller.new_conversation()
        self.view.clear()
        self.history.clearSelection()

    def refresh_history(self) -> None:
        self.history.clear()
        for summary in self.controller.conversations():
            when = datetime.datetime.fromtimestamp(summary.updated_at).strftime("%d %b %H:%M")
            title = summary.title or "(empty)"
            item = QListWidgetItem(f"{title}\n{when} · {summary.turn_count} turn(s)")
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            self.history.addItem(item)
            if summary.id == self.controller.conversation_id:
                item.setSelected(True)

    def _open_item(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id != self.controller.conversation_id:
            self.controller.open_conversation(conversation_id)

    # ------------------------------------------------------------------ keys and closing

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.isActiveWindow():
            assert isinstance(event, QKeyEvent)
            key = event.key()
            space = key == Qt.Key.Key_Space and not self.text.hasFocus()
            if (key == PTT_KEY or space) and self.talk.isEnabled():
                if not event.isAutoRepeat():
                    self._talk(kind == QEvent.Type.KeyPress)
                    self.talk.setDown(kind == QEvent.Type.KeyPress)
                return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.minimise_to_tray and not self.quitting:
            event.ignore()
            self.hide()
            return
        qt_app().removeEventFilter(self)
        event.accept()


def qt_app() -> QCoreApplication:
    """The running Qt application (there always is one once a widget exists)."""
    app = QApplication.instance()
    assert app is not None, "no QApplication"
    return app
