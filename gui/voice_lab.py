"""The voice lab: record the prompt list one sentence at a time (level meter, re-record),
see the dataset's size, train a voice and watch its progress and loss, listen to the
latest checkpoint, export the voice and switch the assistant to it.

Training runs in child processes (``assistant train voice ...``): the app itself never
loads torch, and a training crash cannot take the window down. The lab watches the run's
``progress.json``.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QProcess, QTimer, Signal
from PySide6.QtWidgets import QWidget

from assistant.audio import Audio, write_wav
from assistant.config import data_dir
from assistant.fsutil import atomic_write_text

from .loss_plot import LossPlot
from .voice_lab_guard import ask, data_problem, declined_estimate, has_checkpoint
from .voice_lab_view import VoiceLabView

if TYPE_CHECKING:
    from .controller import Controller

__all__ = ["LossPlot", "VoiceLab", "load_prompts"]

_BUSY = ("training", "listening", "exporting")

log = logging.getLogger(__name__)


def load_prompts() -> list[str]:
    """The prompt list shipped with the training package (empty when it is absent)."""
    from importlib import resources

    try:
        text = resources.files("training.voice").joinpath("prompts_en.txt").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return []
    return [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]


def scores_text(eval_dir: Path) -> str:
    """The eval's scores in a line: WER and speaker similarity, base beside fine-tuned."""
    try:
        scores = json.loads((eval_dir / "eval.json").read_text(encoding="utf-8"))["scores"]
    except (OSError, ValueError, KeyError):
        return ""
    parts = []
    for s in scores:
        sim = s.get("similarity")
        like = f", sounds like you {sim:.2f}" if sim is not None else ""
        parts.append(
            f"{'base voice' if s['name'] == 'base' else 'yours'}: WER {s['wer']:.2f}{like}"
        )
    return "; ".join(parts)


def _base_voices(controller: Controller) -> list[str]:
    """Installed Piper voices, the one in use first."""
    try:
        store = getattr(controller, "store", None)
        if store is None:
            from assistant.store import ModelStore

            store = ModelStore.from_config(controller.config.models)
        voices = [m.id for m in store.installed() if m.kind == "voice"]
    except Exception:  # a broken store must not stop the lab from opening
        log.exception("cannot list the installed voices")
        return []
    current = controller.config.tts.voice
    return sorted(voices, key=lambda v: v != current)


class VoiceLab(VoiceLabView):
    """Non-modal dialog; every slow step runs in a worker thread or a child process.

    Args:
        controller: the app's controller (config, player, applying a new voice).
        folder: the lab's folder (recordings, dataset, run); default in the data dir.
        prompts: sentences to record (default: the shipped prompt list).
    """

    state_changed = Signal(str)

    def __init__(
        self,
        controller: Controller,
        parent: QWidget | None = None,
        *,
        folder: Path | None = None,
        prompts: list[str] | None = None,
    ) -> None:
        super().__init__(controller, parent, _base_voices(controller))
        self.controller = controller
        self.folder = Path(folder) if folder else data_dir() / "voice-lab"
        self.recordings = self.folder / "recordings"
        self.run_dir = self.folder / "run"
        self.prompts = prompts if prompts is not None else load_prompts()
        self.index = 0
        self.state = "idle"
        self.takes: dict[str, str] = self._read_takes()
        self._process: QProcess | None = None
        self._stopping = False
        self._closing = False
        self.question: Any = None
        """The question shown now (a non-blocking message box), for tests."""
        self._queue: list[tuple[list[str], Callable[[], None] | None]] = []
        self._step = ""
        """The first word of the step that runs (check, prepare, fit...)."""
        self.wake_lab: Any = None
        """The wake-word page once opened (gui.voice_lab_wake)."""
        self._connect()
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self._poll_progress)
        self._show_prompt()

    # ------------------------------------------------------------------ wiring

    def _connect(self) -> None:
        self.prev_button.clicked.connect(lambda: self.go(self.index - 1))
        self.next_button.clicked.connect(lambda: self.go(self.index + 1))
        self.recorder.recorded.connect(self._on_recorded)
        self.recorder.failed.connect(self._on_failed)
        self.play_button.clicked.connect(self.play_take)
        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.listen_button.clicked.connect(self.listen)
        self.export_button.clicked.connect(self.export_and_use)
        self.wake_button.clicked.connect(self.open_wake_lab)
        if not self.prompts:
            self.status.setText(
                "Training is not part of this installation: install the assistant with the "
                "train extra (pip install -e '.[train]') to record and train voices."
            )
            for b in (self.record_button, self.train_button, self.export_button):
                b.setEnabled(False)
        self._enable_results()

    def _enable_results(self) -> None:
        """Listen and Export need a checkpoint: off (saying so) until one exists."""
        ready = has_checkpoint(self.run_dir) and self.state not in _BUSY
        for button in (self.listen_button, self.export_button):
            button.setEnabled(ready)
            button.setToolTip("" if ready else "Train a voice first")

    # ------------------------------------------------------------------ recording

    def _take_id(self, index: int) -> str:
        return f"prompt-{index + 1:03d}"

    def _read_takes(self) -> dict[str, str]:
        meta = self.recordings / "metadata.csv"
        if not meta.is_file():
            return {}
        with open(meta, encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE)
            return {r[0]: r[1] for r in rows if len(r) >= 2}

    def go(self, index: int) -> None:
        """Show prompt ``index`` (clamped to the list)."""
        if self.prompts:
            self.index = max(0, min(len(self.prompts) - 1, index))
        self._show_prompt()

    def _show_prompt(self) -> None:
        if self.prompts:
            done = self._take_id(self.index) in self.takes
            self.prompt.setText(self.prompts[self.index])
            self.counter.setText(
                f"Prompt {self.index + 1} of {len(self.prompts)}"
                + (" — recorded (record again to replace it)" if done else "")
            )
            self.play_button.setEnabled(done)
        self._show_stats()

    def _show_stats(self) -> None:
        seconds = 0.0
        for uid in self.takes:
            path = self.recordings / f"{uid}.wav"
            if path.is_file():
                import soundfile as sf

                seconds += sf.info(str(path)).duration
        self.stats.setText(
            f"{len(self.takes)} of {len(self.prompts)} prompts recorded, "
            f"{seconds / 60:.1f} minutes (the standard preset needs 60 from scratch, 10–20 "
            "when fine-tuning a base voice)"
        )

    def _on_recorded(self, audio: Audio) -> None:
        self.save_take(self.index, audio)

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Recording failed: {message}")

    def save_take(self, index: int, audio: Audio) -> Path:
        """Keep ``audio`` as the take of prompt ``index`` (replacing an earlier one)."""
        uid = self._take_id(index)
        path = self.recordings / f"{uid}.wav"
        write_wav(path, audio)
        self.takes[uid] = self.prompts[index]
        buf = io.StringIO()
        for key in sorted(self.takes):
            buf.write(f"{key}|{self.takes[key]}\n")
        atomic_write_text(self.recordings / "metadata.csv", buf.getvalue())
        self.status.setText(f"Saved {path.name} ({audio.duration:.1f} s).")
        self._show_prompt()
        return path

    def play_take(self) -> None:
        """Play the current prompt's take."""
        self._play(self.recordings / f"{self._take_id(self.index)}.wav")

    def _play(self, path: Path) -> None:
        from assistant.audio import read_audio

        audio = read_audio(path, rate=None)
        config = self.controller.config
        services = self.controller.services
        self._close_player()  # one sample at a time; the last one's device is released
        player: Any
        if services.player is not None:
            player = services.player(audio.sample_rate, config)
        else:
            from assistant.audio.playback import Player

            player = Player(audio.sample_rate, config.audio.output_device)
        player.play(audio)
        self._sample_player = player
        self.last_played = path

    def _close_player(self) -> None:
        player = getattr(self, "_sample_player", None)
        if player is not None:
            self._sample_player = None
            player.close()

    # ------------------------------------------------------------------ training

    def _cli(self) -> list[str]:
        base = ["-m", "assistant"]
        if self.controller.services.config_path is not None:
            base += ["--config", str(self.controller.services.config_path)]
        return [*base, "train", "voice"]

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status.setText(text)
        self.train_button.setEnabled(state not in _BUSY and bool(self.prompts))
        self.stop_button.setEnabled(state == "training")
        self._enable_results()
        self.state_changed.emit(state)

    def _run_steps(self, steps: list[tuple[list[str], Callable[[], None] | None]]) -> None:
        self._queue = list(steps)
        self._next_step()

    def _next_step(self) -> None:
        if not self._queue:
            return
        args, self._after = self._queue.pop(0)
        self._step = args[0]
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.finished.connect(self._step_finished)
        self._process = process
        process.start(sys.executable, [*self._cli(), *args])

    def _step_finished(self, code: int, _status: Any) -> None:
        process = self._process
        output = bytes(process.readAll().data()).decode(errors="replace") if process else ""
        if self._stopping:
            self._stopping = False
            self._queue = []
            self._timer.stop()
            self._poll_progress()
            self._set_state("stopped", "Training stopped. Train goes on from its last "
                            "checkpoint.")  # fmt: skip
            return
        estimate = declined_estimate(output) if code != 0 else None
        if estimate is not None:  # the fit timed a few steps: the run takes hours
            self._timer.stop()
            self._queue = []
            self._ask_long_run(estimate)
            return
        problem = data_problem(output) if code != 0 and self._step == "check" else None
        if problem is not None:  # too few recordings: nothing was started
            self._queue = []
            self._set_state("idle", problem)
            return
        if code != 0:
            self._timer.stop()
            self._queue = []
            last = [ln for ln in output.splitlines() if ln.strip()][-1:] or ["(no output)"]
            self._set_state("failed", f"Failed: {last[0]}")
            return
        if self._after is not None:
            self._after()
        self._next_step()

    def start_training(self, *, confirmed: bool = False) -> None:
        """Prepare the recordings, then fit (resuming an earlier run of the lab); refused
        with too few recordings, asked first when it would take hours."""
        if self.state in _BUSY:
            return  # one training at a time
        preset = self.preset.currentText()
        dataset = self.folder / "dataset"
        fit = [
            "fit",
            str(dataset),
            "--output",
            str(self.run_dir),
            "--steps",
            str(self.steps.value()),
        ] + (["--yes"] if confirmed else [])
        base = self.base.currentData()
        fit += ["--base", base] if base else ["--preset", preset]
        self._set_state("training", "Checking the recordings…")
        # The check refuses too few recordings (a voice from scratch needs the most
        # speech) and says how much more to record.
        check = ["check", str(self.recordings), "--preset", preset]
        check += ["--fine-tune"] if base else []
        self._run_steps(
            [
                (check, None),
                (["prepare", str(self.recordings), "--output", str(dataset)], self._started_fit),
                (fit, self._trained),
            ]
        )

    def stop_training(self) -> None:
        """Stop the running training (the last checkpoint stays; Train resumes it)."""
        process = self._process
        if self.state != "training" or process is None:
            return
        self._stopping = True
        self._queue = []
        process.terminate()
        if not process.waitForFinished(10_000):
            process.kill()

    def _ask_long_run(self, estimate: str) -> None:
        self._set_state("idle", f"Training would take about {estimate} on this machine.")

        def answered(answer: str) -> None:
            self.question = None
            if answer == "train":
                self.start_training(confirmed=True)
            else:
                self._set_state("idle", f"Not started: it would take about {estimate}. "
                                "Try fewer steps or the tiny preset.")  # fmt: skip

        self.question = ask(
            self,
            "A long training",
            f"Training this voice would take about {estimate} on this machine, and the "
            "computer will be busy all that time. Train anyway?",
            [("Train anyway", "train"), ("Cancel", "cancel")],
            answered,
        )

    def _started_fit(self) -> None:
        self.status.setText("Training…")
        self._timer.start()

    def _trained(self) -> None:
        self._timer.stop()
        self._poll_progress()
        self._set_state("trained", "Training done. Listen to it, or export it.")

    def _poll_progress(self) -> None:
        path = self.run_dir / "progress.json"
        try:
            progress = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        step, total = int(progress["step"]), max(1, int(progress["total"]))
        self.progress.setValue(int(100 * step / total))
        eta = float(progress["eta_s"])
        mel = progress["losses"].get("mel", 0.0)
        self.eta.setText(f"step {step}/{total}, about {eta / 60:.0f} min left, mel loss {mel:.2f}")
        self.loss.set_points([(float(s), float(v)) for s, v in progress["curve"]])

    def listen(self) -> None:
        """Synthesize a held-out sentence with the latest checkpoint and play it."""
        out = self.run_dir / "eval"
        self._set_state("listening", "Making a sample with the latest checkpoint…")

        def play() -> None:
            samples = sorted(out.glob("samples/*/00.wav"), key=lambda p: p.stat().st_mtime)
            if samples:
                self._play(samples[-1])
            self._set_state("trained", "Played the latest checkpoint's sample. " + scores_text(out))

        self._run_steps(
            [(["eval", str(self.run_dir), "--sentences", "1", "--output", str(out)], play)]
        )

    def export_and_use(self) -> None:
        """Export the latest checkpoint as voice ``name`` and make it the assistant's."""
        name = self.name.text().strip()
        self._set_state("exporting", f"Exporting {name}…")

        def use() -> None:
            config = copy.deepcopy(self.controller.config)
            config.tts.voice = name
            self.controller.apply_config(config)
            self._set_state("exported", f"The assistant now speaks with {name}.")

        self._run_steps([(["export", str(self.run_dir), "--name", name], use)])

    def closeEvent(self, event: Any) -> None:
        if self.state == "training" and not self._closing:
            # Ask: stop it, or keep it training in the background (the lab shows it
            # again when reopened).
            event.ignore()
            self._ask_close()
            return
        self._closing = False
        self._close_player()
        self.recorder.stop()
        super().closeEvent(event)

    def _ask_close(self) -> None:
        def answered(answer: str) -> None:
            self.question = None
            if answer == "cancel":
                return
            if answer == "stop":
                self.stop_training()
            self._closing = True
            self.close()

        self.question = ask(
            self,
            "Training is running",
            "A voice is training. Stop the training, or keep it training in the background "
            "(open the voice lab again to see it)?",
            [("Stop training", "stop"), ("Keep training", "keep"), ("Cancel", "cancel")],
            answered,
        )

    def open_wake_lab(self) -> Any:  # -> WakeLab
        """Show the wake-word page (one per lab: a training there goes on while hidden)."""
        from .voice_lab_wake import WakeLab

        if self.wake_lab is None:
            self.wake_lab = WakeLab(self.controller, self, folder=self.folder.parent / "wake-lab")
        self.wake_lab.show()
        self.wake_lab.raise_()
        return self.wake_lab

    def shutdown(self) -> None:
        """The app quits: stop a training that was kept in the background."""
        if self.wake_lab is not None:
            self.wake_lab.shutdown()
        if self.state == "training":
            self.stop_training()
        self._close_player()
