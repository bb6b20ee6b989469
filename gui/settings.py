"""Settings, saved to the config TOML and applied without a restart (engines reload in
the background only when a model or an engine device changed)."""

from __future__ import annotations

import copy
import logging
import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.config import DEVICES, TURN_MODES, Config
from assistant.errors import AssistantError

from .device_tests import play_sample, record_and_play
from .workers import run_in_background

if TYPE_CHECKING:
    from .controller import Controller

__all__ = ["SettingsDialog"]

log = logging.getLogger(__name__)

_LANGUAGES = ("en", "auto", "de", "es", "fr", "it", "nl", "pt")


class _Recording(QObject):
    started = Signal()  # the microphone test began recording (from its worker thread)


class SettingsDialog(QDialog):
    """Audio, models, voice, conversation and listening settings."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Settings")
        self.setModal(False)
        self.resize(560, 460)
        config = controller.config
        tabs = QTabWidget()
        tabs.addTab(self._audio_tab(config), "Audio")
        tabs.addTab(self._models_tab(config), "Models")
        tabs.addTab(self._conversation_tab(config), "Conversation")
        tabs.addTab(self._listening_tab(config), "Listening")
        tabs.addTab(self._server_tab(config), "Server")
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._recording = _Recording(self)
        self._recording.started.connect(lambda: self.status.setText("Recording 3 s… speak now"))
        self._list_devices()

    # ------------------------------------------------------------------ tabs

    def _audio_tab(self, config: Config) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.input_device = QComboBox(editable=True)
        self.output_device = QComboBox(editable=True)
        for combo, value in ((self.input_device, config.audio.input_device),
                             (self.output_device, config.audio.output_device)):  # fmt: skip
            combo.addItem("(system default)", "")
            combo.setCurrentText(value or "(system default)")
        self.test_input = QPushButton("Test: record 3 s and play back")
        self.test_output = QPushButton("Test: say a sentence")
        self.test_input.clicked.connect(self._test_input)
        self.test_output.clicked.connect(self._test_output)
        self.echo = QComboBox()
        self.echo.addItems(["auto", "webrtc", "gate", "off"])
        self.echo.setCurrentText(config.audio.echo_cancellation)
        self.minimise = QCheckBox("Closing the window keeps the assistant in the tray")
        self.minimise.setChecked(config.gui.close_to_tray)
        form.addRow("Microphone", _row(self.input_device, self.test_input))
        form.addRow("Speakers", _row(self.output_device, self.test_output))
        form.addRow("Echo cancellation", self.echo)
        form.addRow("", self.minimise)
        return page

    def _models_tab(self, config: Config) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        installed = self._installed()
        self.asr_model = _model_combo(installed, "asr", config.asr.model)
        self.llm_model = _model_combo(installed, "llm", config.llm.model)
        self.voice_model = _model_combo(installed, "voice", config.tts.voice)
        self.asr_device = _choice(DEVICES, config.asr.device)
        self.llm_device = _choice(DEVICES, config.llm.device)
        self.tts_device = _choice(DEVICES, config.tts.device)
        form.addRow("Speech recognition", _row(self.asr_model, self.asr_device))
        form.addRow("Language model", _row(self.llm_model, self.llm_device))
        form.addRow("Voice", _row(self.voice_model, self.tts_device))
        return page

    def _conversation_tab(self, config: Config) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.rate = QDoubleSpinBox(minimum=0.5, maximum=2.0, singleStep=0.05, decimals=2)
        self.rate.setValue(config.tts.speaking_rate)
        self.language = _choice(_LANGUAGES, config.asr.language)
        self.language.setEditable(True)
        self.prompt = QPlainTextEdit(config.llm.system_prompt)
        self.max_tokens = QSpinBox(minimum=16, maximum=2000)
        self.max_tokens.setValue(config.llm.max_tokens)
        form.addRow("Speaking rate", self.rate)
        form.addRow("Language", self.language)
        form.addRow("Longest reply (tokens)", self.max_tokens)
        form.addRow("System prompt", self.prompt)
        return page

    def _listening_tab(self, config: Config) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.threshold = QDoubleSpinBox(minimum=0.1, maximum=0.95, singleStep=0.05, decimals=2)
        self.threshold.setValue(config.vad.threshold)
        self.threshold.setToolTip("Lower hears quieter speech; higher ignores more noise")
        self.silence = QSpinBox(minimum=200, maximum=3000, singleStep=50, suffix=" ms")
        self.silence.setValue(config.vad.min_silence_ms)
        self.turn_mode = _choice(TURN_MODES, config.turn.mode)
        self.turn_mode.setToolTip(
            "How soon a pause ends your turn when the end-of-turn model thinks you have "
            "finished: eager answers sooner and cuts in more often, patient waits longer"
        )
        form.addRow("Speech sensitivity (VAD threshold)", self.threshold)
        form.addRow("Silence that ends what you say", self.silence)
        form.addRow("Answer after a pause", self.turn_mode)
        return page

    def _server_tab(self, config: Config) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.serve = QCheckBox("Serve the models to other programs while the app is open")
        self.serve.setChecked(config.serve.enabled)
        self.serve_port = QSpinBox(minimum=1024, maximum=65535)
        self.serve_port.setValue(config.serve.port or 8080)
        note = QLabel(
            f"An OpenAI-compatible API (chat, transcription, speech) on "
            f"http://{config.serve.host}:PORT/v1, for editors, scripts and home "
            "automation. Only this computer can reach it unless [serve] host and api_key "
            "are set in the config file (see the README)."
        )
        note.setWordWrap(True)
        form.addRow(self.serve)
        form.addRow("Port", self.serve_port)
        form.addRow(note)
        return page

    # ------------------------------------------------------------------ reading back

    def to_config(self) -> Config:
        """The config as the dialog shows it."""
        config = copy.deepcopy(self.controller.config)
        config.audio.input_device = self.input_device.currentData() or _typed(self.input_device)
        config.audio.output_device = self.output_device.currentData() or _typed(self.output_device)
        config.audio.echo_cancellation = self.echo.currentText()
        config.asr.model = self.asr_model.currentText()
        config.llm.model = self.llm_model.currentText()
        config.tts.voice = self.voice_model.currentText()
        config.asr.device = self.asr_device.currentText()
        config.llm.device = self.llm_device.currentText()
        config.tts.device = self.tts_device.currentText()
        config.tts.speaking_rate = round(self.rate.value(), 2)
        config.asr.language = self.language.currentText().strip() or "en"
        config.llm.system_prompt = self.prompt.toPlainText().strip()
        config.llm.max_tokens = self.max_tokens.value()
        config.vad.threshold = round(self.threshold.value(), 2)
        config.vad.neg_threshold = round(min(config.vad.neg_threshold, config.vad.threshold), 2)
        config.vad.min_silence_ms = self.silence.value()
        config.turn.mode = self.turn_mode.currentText()
        config.gui.close_to_tray = self.minimise.isChecked()
        config.serve.enabled = self.serve.isChecked()
        config.serve.port = self.serve_port.value()
        return config

    def save(self) -> None:
        try:
            config = self.to_config()
            self.controller.apply_config(config)
        except AssistantError as exc:
            self.status.setText(f"<span style='color:#a33'>{exc.message}</span>")
            return
        window = self.parent()
        if window is not None and hasattr(window, "minimise_to_tray"):
            window.minimise_to_tray = self.minimise.isChecked()
        self.accept()

    # ------------------------------------------------------------------ helpers

    def _installed(self) -> list:
        store = self.controller.store
        if store is None:
            try:
                from assistant.store import ModelStore

                store = ModelStore.from_config(self.controller.config.models)
            except AssistantError:
                return []
        return store.installed()

    def _list_devices(self) -> None:
        """The sound server's devices by description (a headset, a webcam), then
        PortAudio's; the configured one is selected, even when it is unplugged now."""
        audio = self.controller.config.audio

        def done(found: tuple[list, list]) -> None:
            from shiboken6 import isValid

            if not isValid(self.input_device) or not isValid(self.output_device):
                return  # the dialog was closed before the devices were listed
            server, portaudio = found
            for combo, kind, pa_kind, value in (
                (self.input_device, "source", "inputs", audio.input_device),
                (self.output_device, "sink", "outputs", audio.output_device),
            ):
                for device in server:
                    if device.kind == kind and not device.is_monitor:
                        combo.addItem(device.description, device.name)
                for device in portaudio:
                    if getattr(device, pa_kind):
                        combo.addItem(device.name, device.name)
                _select(combo, value)

        def work() -> tuple[list, list]:
            from assistant.audio import list_devices
            from assistant.audio.pulse import pulse_devices

            server = pulse_devices()
            try:
                return server, list_devices()
            except AssistantError:
                return server, []

        run_in_background(work, on_done=done, on_error=lambda e: None, what="device list")

    def _test_input(self) -> None:
        self.status.setText("Opening the microphone…")
        self.test_input.setEnabled(False)
        config = self.to_config()
        recording = self._recording.started

        run_in_background(
            lambda: record_and_play(
                config.audio.input_device, config.audio.output_device, started=recording.emit
            ),
            on_done=self._heard,
            on_error=self._test_failed,
            what="microphone test",
        )

    def _test_output(self) -> None:
        self.status.setText("Playing a sample sentence…")
        self.test_output.setEnabled(False)
        voice = self.controller.engines.voice if self.controller.engines else None
        device = self.to_config().audio.output_device
        run_in_background(
            lambda: play_sample(voice, device),
            on_done=lambda _: self._tested("Played the sample sentence."),
            on_error=self._test_failed,
            what="speaker test",
        )

    def _heard(self, peak: float) -> None:
        level = 20 * math.log10(peak) if peak > 1e-6 else -120.0
        if peak < 0.01:
            self._tested(
                f"<span style='color:#a33'>The microphone heard only silence (peak {level:.0f} "
                "dBFS).</span><br>Check that it is plugged in, not muted, and chosen above."
            )
        else:
            self._tested(f"Played back what the microphone heard (peak {level:.0f} dBFS).")

    def _tested(self, text: str) -> None:
        self.status.setText(text)
        self.test_input.setEnabled(True)
        self.test_output.setEnabled(True)

    def _test_failed(self, error) -> None:
        hint = f"<br>{error.hint}" if error.hint else ""
        self._tested(f"<span style='color:#a33'>{error.message}</span>{hint}")


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _choice(values: tuple[str, ...] | list[str], current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(values))
    combo.setCurrentText(current)
    return combo


def _model_combo(installed: list, kind: str, current: str) -> QComboBox:
    ids = [m.id for m in installed if m.kind == kind]
    if current not in ids:
        ids.append(current)
    return _choice(ids, current)


def _select(combo: QComboBox, value: str) -> None:
    """Select the item whose name or label is ``value`` (else keep the typed text)."""
    if not value:
        return
    for index in range(combo.count()):
        if value in (combo.itemData(index), combo.itemText(index)):
            combo.setCurrentIndex(index)
            return


def _typed(combo: QComboBox) -> str:
    text = combo.currentText().strip()
    return "" if text == "(system default)" else text
