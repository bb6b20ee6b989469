"""The voice lab's wake-word page: type a phrase, optionally record a few takes of it,
train a detector for it and make it the assistant's wake word.

Training runs as a child process (``assistant train wakeword ...``): the app never
imports the training package nor torch. The page follows the progress lines the trainer
writes (``[clips] 120/1800 (6%), 14 s, ETA 190 s``) and, when it is done, the id it
registered in the model store, which "Use this wake word" puts in ``[wake] words``.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from assistant.audio import Audio, write_wav
from assistant.config import data_dir

from .take_recorder import TakeRecorder

if TYPE_CHECKING:
    from .controller import Controller

__all__ = ["MIN_TAKES", "WakeLab", "parse_progress", "word_id"]

log = logging.getLogger(__name__)

MIN_TAKES = 3
"""Own takes, when any are recorded, must number at least this many (the trainer's
own rule; checked here too so nothing starts in vain)."""

_PROGRESS = re.compile(r"\[(clips|train)\] (\d+)/(\d+) \((\d+)%\)(?:, .*ETA (\d+) s)?")
_SHARE = {"clips": (0, 85), "train": (85, 100)}
"""Each stage's part of the progress bar (making the clips is most of the time)."""
_REGISTERED = re.compile(r"^registered (\S+) -> ", re.M)


def word_id(phrase: str) -> str:
    """The model id the trainer gives a phrase (``hey computer`` -> ``hey_computer``)."""
    return re.sub(r"[^a-z0-9]+", "_", " ".join(phrase.lower().split())).strip("_")


def parse_progress(line: str) -> tuple[int, str] | None:
    """A trainer's progress line as (percent of the whole run, text to show)."""
    m = _PROGRESS.search(line)
    if m is None:
        return None
    stage, done, total, _pct, eta = m.groups()
    lo, hi = _SHARE[stage]
    percent = lo + (hi - lo) * int(done) // max(int(total), 1)
    what = "making clips" if stage == "clips" else "training"
    text = f"{what}: {done}/{total}" + (f", about {eta} s left" if eta else "")
    return percent, text


class WakeLab(QDialog):
    """Non-modal dialog: phrase, own takes, training in a child process, use.

    Args:
        controller: the app's controller (config, microphone, applying the word).
        folder: where takes and the training's work folder go (default in the data dir).
    """

    def __init__(
        self, controller: Controller, parent: QWidget | None = None, *, folder: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.folder = Path(folder) if folder else data_dir() / "wake-lab"
        self.takes_dir = self.folder / "takes"
        self.state = "idle"
        self.trained: str | None = None
        """The id of the word trained last (registered in the model store)."""
        self.output = ""
        """Everything the last training printed."""
        self._process: QProcess | None = None
        self.recorder = TakeRecorder(
            controller, self, record_text="Record a take", stop_text="Stop recording"
        )
        self.recorder.recorded.connect(self._on_recorded)
        self.recorder.failed.connect(self._on_record_failed)
        self.setWindowTitle("Voice lab: wake word")
        self.resize(560, 300)
        self._build()
        self._show_takes()

    def _build(self) -> None:
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText('the wake phrase, e.g. "hey computer"')
        self.preset = QComboBox()
        self.preset.addItems(["standard", "tiny"])
        self.preset.setToolTip("standard: 5-10 minutes on a CPU; tiny: a minute, for trying")
        self.record_button = self.recorder.button
        self.record_button.setToolTip(
            f"Optional: say the phrase, then stop; {MIN_TAKES} or more takes of your own "
            "voice make the word wake for you more reliably"
        )
        self.clear_button = QPushButton("Clear takes")
        self.meter = self.recorder.meter
        self.meter.setFixedHeight(8)
        self.takes_label = QLabel()
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.use_button = QPushButton("Use this wake word")
        self.use_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel()
        self.status.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(QLabel("Phrase"))
        row.addWidget(self.phrase, 1)
        row.addWidget(QLabel("Preset"))
        row.addWidget(self.preset)
        takes = QHBoxLayout()
        takes.addWidget(self.record_button)
        takes.addWidget(self.clear_button)
        takes.addWidget(self.takes_label, 1)
        actions = QHBoxLayout()
        for button in (self.train_button, self.stop_button, self.use_button):
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(takes)
        layout.addWidget(self.meter)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.clear_button.clicked.connect(self.clear_takes)
        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.use_button.clicked.connect(self.use)

    # ------------------------------------------------------------------ takes

    def take_files(self) -> list[Path]:
        return sorted(self.takes_dir.glob("take-*.wav")) if self.takes_dir.is_dir() else []

    def _show_takes(self) -> None:
        n = len(self.take_files())
        if n == 0:
            text = "No takes of your own (optional): the installed voices say the phrase."
        elif n < MIN_TAKES:
            text = f"{n} take(s): record at least {MIN_TAKES}, or clear them."
        else:
            text = f"{n} takes of your own voice."
        self.takes_label.setText(text)
        self.clear_button.setEnabled(n > 0 and self.state != "training")

    def save_take(self, audio: Audio) -> Path:
        """Keep ``audio`` as one more take of the phrase."""
        numbers = [int(p.stem.split("-")[1]) for p in self.take_files()]
        path = self.takes_dir / f"take-{max(numbers, default=0) + 1:03d}.wav"
        write_wav(path, audio)
        self._show_takes()
        return path

    def clear_takes(self) -> None:
        for path in self.take_files():
            path.unlink()
        self._show_takes()

    def _on_recorded(self, audio: Audio) -> None:
        if audio.duration < 0.3:
            self.status.setText("That take was too short; say the phrase, then stop.")
            return
        path = self.save_take(audio)
        self.status.setText(f"Saved {path.name} ({audio.duration:.1f} s).")

    def _on_record_failed(self, message: str) -> None:
        self.status.setText(f"Recording failed: {message}")

    # ------------------------------------------------------------------ training

    def _command(self, phrase: str) -> list[str]:
        args = ["-m", "assistant"]
        if self.controller.services.config_path is not None:
            args += ["--config", str(self.controller.services.config_path)]
        args += ["train", "wakeword", phrase, "--preset", self.preset.currentText(), "--replace",
                 "--output", str(self.folder / "work" / word_id(phrase))]  # fmt: skip
        if self.take_files():
            args += ["--takes", str(self.takes_dir)]
        return args

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status.setText(text)
        training = state == "training"
        self.train_button.setEnabled(not training)
        self.stop_button.setEnabled(training)
        self.phrase.setEnabled(not training)
        self.record_button.setEnabled(not training)
        self.use_button.setEnabled(state == "trained" and self.trained is not None)
        self._show_takes()

    def start_training(self) -> None:
        """Run ``assistant train wakeword`` on the phrase (refused here when the phrase is
        empty or the takes are too few; the trainer checks the rest and says why)."""
        if self.state == "training":
            return
        phrase = " ".join(self.phrase.text().split())
        if not word_id(phrase):
            self._set_state("idle", 'Type the wake phrase first, e.g. "hey computer".')
            return
        takes = len(self.take_files())
        if 0 < takes < MIN_TAKES:
            self._set_state("idle", f"{takes} take(s) recorded: record at least {MIN_TAKES}, "
                            "or clear them to train on the installed voices only.")  # fmt: skip
            return
        self.output = ""
        self.trained = None
        self.progress.setValue(0)
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyRead.connect(self._on_output)
        process.finished.connect(self._on_finished)
        self._process = process
        self._set_state("training", f"Training “{phrase}”…")
        process.start(sys.executable, self._command(phrase))

    def _on_output(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAll().data()).decode(errors="replace")
        self.output += text
        for line in text.splitlines():
            parsed = parse_progress(line)
            if parsed is not None:
                self.progress.setValue(parsed[0])
                self.status.setText(parsed[1])

    def _on_finished(self, code: int, _status: Any) -> None:
        self._on_output()
        self._process = None
        if self.state == "stopping":
            self._set_state("stopped", "Training stopped; nothing was changed.")
            return
        registered = _REGISTERED.search(self.output)
        if code != 0 or registered is None:
            lines = [ln for ln in self.output.splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("error:")]
            why = (errors or lines or ["(no output)"])[-1]
            self._set_state("failed", f"Failed: {why}")
            return
        self.trained = registered.group(1)
        self.progress.setValue(100)
        self._set_state("trained", f"Trained and installed as {self.trained}. “Use this wake "
                        "word” makes the assistant sleep until it hears it.")  # fmt: skip

    def stop_training(self) -> None:
        if self._process is not None and self.state == "training":
            self._set_state("stopping", "Stopping…")
            self._process.terminate()

    def use(self) -> None:
        """Make the trained word the wake word and switch wake mode on."""
        if self.trained is None:
            return
        self.controller.set_wake(True, words=[self.trained])
        self.status.setText(f"The assistant now wakes on {self.trained}.")

    def closeEvent(self, event: Any) -> None:
        self.recorder.stop()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """The app quits: a training still running is stopped."""
        if self._process is not None:
            self._process.terminate()
            self._process.waitForFinished(3000)
