"""The Knowledge page: the folders of the document index, their file counts, a progress
bar while indexing, and each file that could not be read with its reason."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .workers import run_in_background

if TYPE_CHECKING:
    from assistant.knowledge import KnowledgeBase, Progress
    from assistant.pipeline.events import ErrorEvent
    from assistant.store import ModelStore

__all__ = ["FILE_COLUMNS", "FOLDER_COLUMNS", "KnowledgePage"]

FOLDER_COLUMNS = ("Folder", "Files", "Passages", "Not readable", "Indexed", "Problem")
FILE_COLUMNS = ("File", "Problem")


class _Progress(QObject):
    changed = Signal(object)  # assistant.knowledge.Progress


def _when(timestamp: float | None) -> str:
    return (
        "never" if timestamp is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
    )


class KnowledgePage(QDialog):
    """Non-modal. The index is opened (and the embedder loaded) in a worker; indexing
    runs in a worker too and reports to the progress bar."""

    def __init__(
        self, store: ModelStore, path: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Knowledge")
        self.resize(820, 520)
        self.store = store
        self.path = path
        self.knowledge: KnowledgeBase | None = None
        self.busy = True
        self.folders = QTableWidget(0, len(FOLDER_COLUMNS))
        self.folders.setHorizontalHeaderLabels(FOLDER_COLUMNS)
        self.folders.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.folders.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.folders.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.errors = QTableWidget(0, len(FILE_COLUMNS))
        self.errors.setHorizontalHeaderLabels(FILE_COLUMNS)
        self.errors.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.errors.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Opening the index…")
        self.add_button = QPushButton("Add folder…")
        self.reindex_button = QPushButton("Re-index")
        self.remove_button = QPushButton("Remove")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.reindex_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folders, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Files that could not be indexed"))
        layout.addWidget(self.errors, 1)
        self._progress = _Progress(self)
        self._progress.changed.connect(self._on_progress)
        self.add_button.clicked.connect(self._choose_folder)
        self.reindex_button.clicked.connect(lambda: self.reindex())
        self.remove_button.clicked.connect(self._remove_selected)
        self._set_busy(True)
        run_in_background(self._open, on_done=self._opened, on_error=self._failed, what="index")

    # -- worker side -------------------------------------------------------------------

    def _open(self) -> KnowledgeBase:
        from assistant.knowledge import open_knowledge

        return open_knowledge(self.store, self.path)

    # -- GUI side ----------------------------------------------------------------------

    def _opened(self, knowledge: KnowledgeBase) -> None:
        self.knowledge = knowledge
        self._set_busy(False)
        self.refresh()
        self.status.setText(f"Index: {knowledge.path}")

    def _failed(self, error: ErrorEvent) -> None:
        self._set_busy(False)
        self.status.setText(error.message + (f" ({error.hint})" if error.hint else ""))
        self.refresh()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in (self.add_button, self.reindex_button, self.remove_button):
            button.setEnabled(
                not busy and (button is self.add_button or self.knowledge is not None)
            )
        if not busy:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if self.knowledge is not None else 0)

    def refresh(self) -> None:
        """Reload the tables from the index."""
        if self.knowledge is None:
            return
        folders = self.knowledge.folders()
        self.folders.setRowCount(len(folders))
        for row, f in enumerate(folders):
            cells = (str(f.path), str(f.files), str(f.passages), str(f.errors),
                     _when(f.synced_at), f.error or "")  # fmt: skip
            for column, text in enumerate(cells):
                self.folders.setItem(row, column, QTableWidgetItem(text))
        failed = self.knowledge.files(errors_only=True)
        self.errors.setRowCount(len(failed))
        for row, status in enumerate(failed):
            self.errors.setItem(row, 0, QTableWidgetItem(str(status.path)))
            self.errors.setItem(row, 1, QTableWidgetItem(status.error or ""))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of documents to index")
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        """Add ``folder`` and index it in the background."""
        if self.knowledge is None or self.busy:
            return
        try:
            self.knowledge.add_folder(folder)
        except Exception as exc:  # an AssistantError: shown, nothing changed
            self.status.setText(getattr(exc, "message", str(exc)))
            return
        self.refresh()
        self.reindex(folder)

    def reindex(self, folder: Path | None = None) -> None:
        """Bring the index up to date (one folder or all) in the background."""
        knowledge = self.knowledge
        if knowledge is None or self.busy:
            return
        self._set_busy(True)
        self.progress.setRange(0, 0)  # busy until the first file count arrives
        self.status.setText("Indexing…")

        def work() -> Any:
            return knowledge.sync(folder, progress=self._progress.changed.emit)

        run_in_background(work, on_done=self._indexed, on_error=self._failed, what="indexing")

    def _on_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(progress.done)
        name = progress.path.name if progress.path is not None else "done"
        self.status.setText(
            f"Indexing {progress.done} of {progress.total} files ({progress.passages} "
            f"passages so far): {name}"
        )
        if progress.path is None:
            self.refresh()

    def _indexed(self, report: Any) -> None:
        self._set_busy(False)
        self.refresh()
        self.status.setText(
            f"{report.added} new, {report.updated} changed, {report.removed} removed, "
            f"{report.failed} not readable; {report.passages} passages in {report.seconds:.1f} s"
        )

    def _remove_selected(self) -> None:
        row = self.folders.currentRow()
        if self.knowledge is None or self.busy or row < 0:
            return
        item = self.folders.item(row, 0)
        if item is not None:
            self.knowledge.remove_folder(Path(item.text()))
            self.refresh()

    def done(self, result: int) -> None:  # closing the dialog
        if self.knowledge is not None and not self.busy:
            self.knowledge.close()
            self.knowledge = None
        super().done(result)
