"""The model manager: installed models (size, kind, verified state, which are in use),
import, pull from the catalog with progress and cancel, remove, disk usage."""

from __future__ import annotations

import shutil
import threading
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.store import KINDS, ModelStore, human_size

from .workers import run_in_background

if TYPE_CHECKING:
    from assistant.pipeline.events import ErrorEvent

    from .controller import Controller

__all__ = ["COLUMNS", "ModelManager"]

COLUMNS = ("Model", "Kind", "Size", "Source", "Verified", "In use")


class _Progress(QObject):
    changed = Signal(object, object)  # bytes done, total (None: unknown)


class ModelManager(QDialog):
    """Non-modal; every slow step (verify, import, pull, remove) runs in a worker."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Models")
        self.resize(760, 480)
        self.store = controller.store or ModelStore.from_config(controller.config.models)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.disk = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.verify = QPushButton("Verify")
        self.import_file = QPushButton("Import file…")
        self.import_folder = QPushButton("Import folder…")
        self.remove = QPushButton("Remove")
        actions = QHBoxLayout()
        for button in (self.verify, self.import_file, self.import_folder, self.remove):
            actions.addWidget(button)
        actions.addStretch(1)

        self.catalog = QComboBox()
        self.pull = QPushButton("Pull")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        pulling = QHBoxLayout()
        pulling.addWidget(QLabel("From the catalog:"))
        pulling.addWidget(self.catalog, 1)
        pulling.addWidget(self.pull)
        pulling.addWidget(self.cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addLayout(pulling)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.disk)

        self._cancel: threading.Event | None = None
        self._progress = _Progress(self)
        self._progress.changed.connect(self._on_progress)
        self.verify.clicked.connect(self._verify)
        self.import_file.clicked.connect(lambda: self._import(folder=False))
        self.import_folder.clicked.connect(lambda: self._import(folder=True))
        self.remove.clicked.connect(self._remove)
        self.pull.clicked.connect(self._pull)
        self.cancel.clicked.connect(self._cancel_pull)
        self.refresh()

    # ------------------------------------------------------------------ listing

    def refresh(self) -> None:
        config = self.controller.config
        active = {config.asr.model, config.llm.model, config.tts.voice, config.vad.model}
        models = self.store.installed()
        self.table.setRowCount(len(models))
        for row, model in enumerate(models):
            state = self.store.verified_state(model)
            cells = (model.id, model.kind, human_size(model.size), model.source, state,
                     "●" if model.id in active else "")  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setToolTip(f"{model.name}\n{model.path}\nlicence: {model.licence}")
                    item.setData(Qt.ItemDataRole.UserRole, model.id)
                self.table.setItem(row, column, item)
        installed = {m.id for m in models}
        self.catalog.clear()
        for entry in self.store.catalog:
            if entry.id not in installed and not entry.embedded:
                self.catalog.addItem(
                    f"{entry.id} ({entry.kind}, {human_size(entry.size)})", entry.id
                )
        self.pull.setEnabled(self.catalog.count() > 0 and self._cancel is None)
        embedded = sum(m.size for m in models if m.source == "embedded")
        stored = sum(m.size for m in models if m.source != "embedded")
        free = _free_space(self.store.root)
        self.disk.setText(
            f"Disk: {human_size(stored)} in {self.store.root}, {human_size(embedded)} embedded "
            f"in packages; {human_size(free)} free"
        )

    def installed_ids(self) -> list[str]:
        return [self._cell(r) for r in range(self.table.rowCount())]

    def _cell(self, row: int) -> str:
        item = self.table.item(row, 0)
        return item.text() if item is not None else ""

    def _selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._cell(rows[0].row()) if rows else None

    # ------------------------------------------------------------------ actions

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _failed(self, error: ErrorEvent) -> None:
        # The store's own message and hint, as `assistant models` prints them.
        hint = f"<br><i>{escape(error.hint)}</i>" if error.hint else ""
        self._say(f"<span style='color:#a33'>{escape(error.message)}</span>{hint}")
        self.refresh()

    def _verify(self) -> None:
        chosen = self._selected()
        ids = [chosen] if chosen else self.installed_ids()
        self._say(f"Verifying {', '.join(ids)}…")

        def done(results: list) -> None:
            # One line per problem, worded as `assistant models verify` words them.
            bad = [
                f"<span style='color:#a33'>{escape(r.id)}: FAILED</span>"
                + "".join(f"<br>&nbsp;&nbsp;{escape(problem)}" for problem in r.problems)
                for r in results
                if not r.ok
            ]
            self._say("All verified." if not bad else "<br>".join(bad))
            self.refresh()

        run_in_background(lambda: [self.store.verify(i) for i in ids], on_done=done,
                          on_error=self._failed, what="verify")  # fmt: skip

    def _import(self, *, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Import a model folder")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import a model file", "", "Models (*.gguf *.onnx *.pt *.pth);;All files (*)"
            )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path, kind: str | None = None) -> None:
        """Import ``path`` (the kind guessed from it, else asked)."""
        kind = kind or _guess_kind(path)
        if kind is None:
            kind, ok = QInputDialog.getItem(self, "Kind", "What kind of model is it?", KINDS)
            if not ok:
                return
        self._say(f"Importing {path.name}…")
        run_in_background(
            lambda: self.store.import_path(path, kind),
            on_done=lambda m: self._done(f"Imported {m.id}."),
            on_error=self._failed,
            what="import",
        )

    def _done(self, message: str) -> None:
        self._say(message)
        self.refresh()

    def _remove(self) -> None:
        chosen = self._selected()
        if chosen is None:
            self._say("Select a model to remove.")
            return
        if not self.confirm_remove(chosen):
            return
        run_in_background(
            lambda: self.store.remove(chosen),
            on_done=lambda _: self._done(f"Removed {chosen}."),
            on_error=self._failed,
            what="remove",
        )

    def confirm_remove(self, model_id: str) -> bool:
        """Ask before deleting a model's files (the active one gets a warning too)."""
        config = self.controller.config
        active = model_id in (config.asr.model, config.llm.model, config.tts.voice)
        warning = "\n\nIt is in use now: choose another one in Settings first." if active else ""
        answer = QMessageBox.question(
            self, "Remove model", f"Delete {model_id} and its files from the disk?{warning}"
        )
        return answer == QMessageBox.StandardButton.Yes

    def _pull(self) -> None:
        model_id = self.catalog.currentData()
        if not model_id:
            return
        self._cancel = cancel = threading.Event()
        self.pull.setEnabled(False)
        self.cancel.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self._say(f"Pulling {model_id}…")

        def finish() -> None:
            self._cancel = None
            self.cancel.setEnabled(False)
            self.progress.hide()

        def done(model) -> None:
            finish()
            self._say(f"Pulled {model.id}.")
            self.refresh()

        def failed(error: ErrorEvent) -> None:
            finish()
            self._failed(error)

        run_in_background(
            lambda: self.store.pull(model_id, progress=self._progress.changed.emit, cancel=cancel),
            on_done=done,
            on_error=failed,
            what="pull",
        )

    def _on_progress(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{human_size(done)} of {human_size(total)}")

    def _cancel_pull(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._say("Cancelling…")


def _guess_kind(path: Path) -> str | None:
    if path.is_dir():
        return "asr"
    if path.suffix == ".gguf":
        return "llm"
    if path.suffix in (".pth", ".pt"):
        return "voice-base"
    if path.suffix == ".onnx":
        config = path.with_name(path.name + ".json")
        if not config.exists():
            return "vad"
        try:
            wake = '"assistant-wake"' in config.read_text(encoding="utf-8", errors="replace")
        except OSError:
            wake = False
        return "wake" if wake else "voice"
    return None


def _free_space(path: Path) -> int:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return 0
