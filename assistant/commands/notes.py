"""Notes ("remember that ...") in the conversation database: a ``notes`` table beside the
conversations, searchable by words."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Note", "NotesStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_STOP = {
    "the", "a", "an", "my", "i", "me", "about", "of", "to", "is", "it", "what", "where",
    "did", "do", "and", "on", "in", "at", "for", "that", "this", "your", "you",
}  # fmt: skip


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    created_at: float


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class NotesStore:
    """Notes in the SQLite file at ``path`` (the conversation history by default)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from ..memory.store import default_history_path

            path = default_history_path()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        with self._lock, self._conn:
            self._conn.execute(_SCHEMA)

    def add(self, text: str) -> Note:
        now = time.time()
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO notes (text, created_at) VALUES (?, ?)", (text, now)
            )
        return Note(int(cursor.lastrowid or 0), text, now)

    def all(self) -> list[Note]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, text, created_at FROM notes ORDER BY id"
            ).fetchall()
        return [Note(*row) for row in rows]

    def search(self, topic: str) -> list[Note]:
        """Notes sharing a word (or its stem) with ``topic``, best first."""
        wanted = {_stem(w) for w in re.findall(r"[\w']+", topic.lower()) if w not in _STOP}
        if not wanted:
            return []
        scored = []
        for note in self.all():
            words = {_stem(w) for w in re.findall(r"[\w']+", note.text.lower())}
            score = len(wanted & words)
            if score:
                scored.append((-score, -note.id, note))
        return [note for *_, note in sorted(scored, key=lambda s: (s[0], s[1]))]

    def delete_last(self) -> Note | None:
        notes = self.all()
        if not notes:
            return None
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM notes WHERE id = ?", (notes[-1].id,))
        return notes[-1]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
