"""Recording a take from the microphone, shared by the voice lab's pages: a Record/Stop
toggle button and a level meter. While a take is recorded the assistant's own listening
is held, so it neither hears nor answers what is being read into the microphone.

The microphone is read in a worker thread at the device's own rate; the finished take
comes back as an :class:`~assistant.audio.Audio` through the ``recorded`` signal.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton

from assistant.audio import Audio

if TYPE_CHECKING:
    from .controller import Controller

__all__ = ["TakeRecorder"]

log = logging.getLogger(__name__)


class _Signals(QObject):
    level = Signal(float)
    recorded = Signal(object)  # Audio
    failed = Signal(str)


class _Recorder:
    """Records the microphone at its own rate until stopped (a worker thread)."""

    def __init__(self, device: str, signals: _Signals) -> None:
        self.device = device
        self.signals = signals
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voice-lab-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from assistant.audio.devices import import_sounddevice, resolve_device
        from assistant.audio.pulse import routed

        try:
            sd = import_sounddevice()
            resolved = resolve_device(self.device, "input")
            device = resolved.portaudio
            rate = int(sd.query_devices(device, "input")["default_samplerate"])
            blocks: list[np.ndarray] = []
            with routed("source", resolved.pulse_name):
                stream = sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=device)
                stream.start()
            try:
                while not self._stop.is_set():
                    block, _ = stream.read(rate // 20)  # 50 ms
                    blocks.append(block[:, 0].copy())
                    self.signals.level.emit(float(np.abs(block).max()))
            finally:
                stream.close()
            samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
            self.signals.recorded.emit(Audio(samples, rate))
        except Exception as exc:  # a worker thread never dies silently
            log.exception("recording failed")
            self.signals.failed.emit(str(exc))


class TakeRecorder(QObject):
    """A checkable ``button`` that records a take while it is down, and a level ``meter``.

    Args:
        controller: the app's controller (the input device; holding its microphone).
        parent: the page that shows the button and the meter.
        record_text: the button's text while idle.
        stop_text: the button's text while it records.
    """

    recorded = Signal(object)
    """A take was recorded (an Audio); the assistant has its microphone back."""
    failed = Signal(str)
    """Recording failed (the message); the button is up again, the microphone given back."""

    def __init__(
        self, controller: Controller, parent: QObject, *, record_text: str, stop_text: str
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.record_text = record_text
        self.stop_text = stop_text
        self.button = QPushButton(record_text)
        self.button.setCheckable(True)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self._recorder: _Recorder | None = None
        self._signals = _Signals()
        self._signals.level.connect(self._on_level)
        self._signals.recorded.connect(self._on_recorded)
        self._signals.failed.connect(self._on_failed)
        self.button.toggled.connect(self._toggle)

    def _toggle(self, on: bool) -> None:
        if on:
            self.button.setText(self.stop_text)
            # One owner of the microphone: the assistant does not listen (nor answer what
            # is being read) while a take is recorded.
            self.controller.hold_microphone(True)
            self._recorder = _Recorder(self.controller.config.audio.input_device, self._signals)
            self._recorder.start()
        elif self._recorder is not None:
            self.button.setText(self.record_text)
            self._recorder.stop()
            self._recorder = None

    def _on_level(self, peak: float) -> None:
        self.meter.setValue(int(100 * min(1.0, peak)))

    def _on_recorded(self, audio: Audio) -> None:
        self.controller.hold_microphone(False)
        self.recorded.emit(audio)

    def _on_failed(self, message: str) -> None:
        self.controller.hold_microphone(False)
        self.button.setChecked(False)
        self.failed.emit(message)

    def stop(self) -> None:
        """The page closes: a take being recorded stops and the microphone is given back."""
        if self._recorder is not None:
            self._recorder.stop()
            self.controller.hold_microphone(False)
