"""The voice lab's window: its widgets and their layout. What they do is
:class:`gui.voice_lab.VoiceLab`'s, which builds on this class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .loss_plot import LossPlot
from .take_recorder import TakeRecorder

if TYPE_CHECKING:
    from .controller import Controller

__all__ = ["VoiceLabView"]


class VoiceLabView(QDialog):
    """The prompt with its recording controls, the training controls and their progress,
    the results' actions and a status line.

    Args:
        controller: the app's controller (for the take recorder).
        parent: the main window.
        base_voices: the voices a training can start from, the default first.
    """

    def __init__(
        self, controller: Controller, parent: QWidget | None, base_voices: list[str]
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Voice lab")
        self.resize(720, 520)
        self.recorder = TakeRecorder(controller, self, record_text="Record", stop_text="Stop")
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        self.prompt.setStyleSheet("font-size: 16pt;")
        self.counter = QLabel()
        self.meter = self.recorder.meter
        self.prev_button = QPushButton("◀ Previous")
        self.record_button = self.recorder.button
        self.play_button = QPushButton("Play take")
        self.next_button = QPushButton("Next ▶")
        row = QHBoxLayout()
        for b in (self.prev_button, self.record_button, self.play_button, self.next_button):
            row.addWidget(b)
        self.stats = QLabel()

        self.base = QComboBox()
        self.base.setToolTip(
            "The voice to start from: fine-tuning a trained voice needs 15-20 minutes of "
            "recordings; from scratch needs hours of them and a GPU"
        )
        for voice_id in base_voices:
            self.base.addItem(voice_id, voice_id)
        self.base.addItem("(none: from scratch)", "")
        self.preset = QComboBox()
        self.preset.addItems(["standard", "tiny"])
        self.base.currentIndexChanged.connect(
            lambda _i: self.preset.setEnabled(not self.base.currentData())
        )
        self.preset.setEnabled(not self.base.currentData())
        self.recipe = QLabel(
            "Recipe: the base voice's own sizes; on a CPU an evening (batch 4, 2000 steps), "
            "on a GPU the full run (batch 16). Record 15-20 minutes first."
        )
        self.recipe.setWordWrap(True)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(20000)
        self.name = QLineEdit("my-voice")
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop training")
        self.stop_button.setEnabled(False)
        self.listen_button = QPushButton("Listen to latest checkpoint")
        self.export_button = QPushButton("Export and use this voice")
        train_row = QHBoxLayout()
        for label, widget in (
            ("Start from", self.base),
            ("Preset", self.preset),
            ("Steps", self.steps),
            ("Name", self.name),
        ):
            train_row.addWidget(QLabel(label))
            train_row.addWidget(widget)
        train_row.addWidget(self.train_button)
        train_row.addWidget(self.stop_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.eta = QLabel()
        self.loss = LossPlot()
        actions = QHBoxLayout()
        actions.addWidget(self.listen_button)
        actions.addWidget(self.export_button)
        self.wake_button = QPushButton("Wake word…")
        self.wake_button.setToolTip("Train a wake phrase of your own (its own page)")
        actions.addWidget(self.wake_button)
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        for shown in (self.counter, self.prompt, self.meter):
            layout.addWidget(shown)
        layout.addLayout(row)
        layout.addWidget(self.stats)
        layout.addSpacing(12)
        layout.addLayout(train_row)
        layout.addWidget(self.recipe)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta)
        layout.addWidget(self.loss, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
