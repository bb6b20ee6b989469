"""The Knowledge page on a real index: add a folder, watch it index, see the file that
could not be read, remove the folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from assistant.config import ModelsConfig
from assistant.store import ModelStore
from gui.knowledge import KnowledgePage


def test_knowledge_page_indexes_a_folder_and_shows_bad_files(qtbot, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boiler.md").write_text("# Boiler\n\nKeep the pressure between 1 and 1.5 bar.\n")
    (docs / "tea.txt").write_text("Brew green tea at 80 degrees for two minutes.\n")
    (docs / "broken.txt").write_bytes(b"\x00\x01\x02" * 50)
    page = KnowledgePage(ModelStore.from_config(ModelsConfig()), tmp_path / "k.sqlite3")
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.knowledge is not None, timeout=120_000)
    seen: list[tuple[int, int]] = []
    page._progress.changed.connect(lambda p: seen.append((p.done, p.total)))
    page.add_folder(docs)
    assert page.busy and not page.add_button.isEnabled()
    qtbot.waitUntil(lambda: not page.busy, timeout=120_000)
    assert seen[-1] == (3, 3) and page.progress.value() == page.progress.maximum()
    assert page.folders.rowCount() == 1
    row = [page.folders.item(0, c).text() for c in range(page.folders.columnCount())]
    assert row[:4] == [str(docs), "3", "2", "1"]
    assert page.errors.rowCount() == 1
    assert page.errors.item(0, 0).text().endswith("broken.txt")
    assert "binary" in page.errors.item(0, 1).text()
    assert "2 new" in page.status.text()
    page.folders.selectRow(0)
    page._remove_selected()
    assert page.folders.rowCount() == 0 and page.errors.rowCount() == 0
