"""The document index: folders the user added, their files, passages and vectors.

:class:`KnowledgeBase` is the one object the CLI, the app and the pipeline use. Indexing
(:meth:`KnowledgeBase.sync`) follows the folders incrementally:

* a file whose size and modification time are unchanged is not read again;
* a changed file is read, split and written in one transaction; passages whose content
  hash (heading + text) is already stored keep their vector, so only new text is
  embedded (a moved file, an edited paragraph, a restart);
* files that vanished are dropped; a folder that vanished keeps its passages and shows
  its error until it comes back or is removed;
* each file is committed on its own, so a killed run loses at most the file in hand and
  the next run carries on from there;
* a file that cannot be read is recorded with its reason (shown by ``docs list`` and the
  app) and the rest is indexed; a full disk stops the run with a clear error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ..config import data_dir
from .answer import Retrieval, retrieve
from .db import DatabaseError, KnowledgeError, open_knowledge_db
from .embedder import Embedder
from .readers import SUFFIXES, DocumentError, read_document
from .search import Passage, SearchMode, VectorMatrix, search
from .splitter import Chunk, split_sections

__all__ = [
    "FileStatus",
    "FolderStatus",
    "KnowledgeBase",
    "Progress",
    "SyncReport",
    "default_knowledge_path",
]

log = logging.getLogger(__name__)

_EMBED_BATCH = 32


def default_knowledge_path() -> Path:
    """``knowledge.sqlite3`` in the data directory, beside the conversation history."""
    return data_dir() / "knowledge.sqlite3"


@dataclass(frozen=True)
class FolderStatus:
    """One indexed folder, as ``docs list`` and the app show it."""

    id: int
    path: Path
    files: int
    passages: int
    errors: int
    synced_at: float | None
    error: str | None


@dataclass(frozen=True)
class FileStatus:
    """One file of a folder."""

    path: Path
    title: str
    passages: int
    error: str | None
    indexed_at: float


@dataclass(frozen=True)
class Progress:
    """Where an indexing run is: ``done`` of ``total`` files, the one in hand."""

    done: int
    total: int
    path: Path | None
    passages: int


@dataclass
class SyncReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    passages: int = 0
    """Passages written (new or changed files)."""
    embedded: int = 0
    """Of those, passages that needed the embedder (the rest reused a stored vector)."""
    seconds: float = 0.0


def _scan(folder: Path) -> Iterator[Path]:
    """Readable files under ``folder`` with a known ending, hidden ones left out."""
    for root, dirs, files in os.walk(folder, onerror=lambda exc: log.warning("%s", exc)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                yield Path(root) / name


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class KnowledgeBase:
    """The index of the user's documents in one SQLite file.

    Args:
        embedder: turns passages and questions into vectors.
        path: the database; ``None`` for :func:`default_knowledge_path`.
    """

    def __init__(self, embedder: Embedder, path: Path | None = None) -> None:
        self.embedder = embedder
        self.path = Path(path) if path is not None else default_knowledge_path()
        self._lock = threading.RLock()
        self._conn: Any = open_knowledge_db(self.path, embedder.model_id, embedder.dimensions)
        self._vectors = VectorMatrix()

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise KnowledgeError("the document index is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # SQLite rolls back by itself on some errors (a full disk): then there is
                # no transaction left to end.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def conn(self) -> Any:
        """The open connection (for searches and the benchmark)."""
        if self._conn is None:
            raise KnowledgeError("the document index is closed")
        return self._conn

    # -- folders -----------------------------------------------------------------------

    def add_folder(self, folder: Path) -> int:
        """Remember ``folder`` (indexed by the next :meth:`sync`); returns its id."""
        folder = Path(folder).expanduser().absolute()
        if not folder.is_dir():
            raise KnowledgeError(
                f"{folder} is not a folder", hint="give the path of a folder of documents"
            )
        with self._transaction() as conn:
            for (other,) in conn.execute("SELECT path FROM folders").fetchall():
                if folder.is_relative_to(other) or Path(other).is_relative_to(folder):
                    if Path(other) == folder:
                        row = conn.execute("SELECT id FROM folders WHERE path = ?", (other,))
                        return int(row.fetchone()[0])
                    raise KnowledgeError(
                        f"{folder} overlaps the indexed folder {other}",
                        hint="add either the outer folder or the inner one, not both",
                    )
            cursor = conn.execute(
                "INSERT INTO folders (path, added_at) VALUES (?, ?)", (str(folder), time.time())
            )
        return int(cursor.lastrowid)

    def remove_folder(self, folder: Path) -> int:
        """Forget ``folder`` and everything indexed from it; returns the files dropped."""
        key = str(Path(folder).expanduser().absolute())
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM folders WHERE path = ?", (key,)).fetchone()
            if row is None:
                raise KnowledgeError(
                    f"{key} is not an indexed folder", hint="`assistant docs list` shows them"
                )
            count = conn.execute("SELECT count(*) FROM files WHERE folder_id = ?", row).fetchone()
            conn.execute("DELETE FROM passages WHERE file_id IN "
                         "(SELECT id FROM files WHERE folder_id = ?)", row)  # fmt: skip
            conn.execute("DELETE FROM folders WHERE id = ?", row)
        return int(count[0])

    def folders(self) -> list[FolderStatus]:
        """Every indexed folder with its file, passage and error counts."""
        with self._lock:
            rows = self.conn.execute(
                """SELECT f.id, f.path, f.synced_at, f.error,
                          count(x.id), coalesce(sum(x.passages), 0),
                          coalesce(sum(x.error IS NOT NULL), 0)
                   FROM folders f LEFT JOIN files x ON x.folder_id = f.id
                   GROUP BY f.id ORDER BY f.path"""
            ).fetchall()
        return [
            FolderStatus(
                id=r[0],
                path=Path(r[1]),
                synced_at=r[2],
                error=r[3],
                files=r[4],
                passages=r[5],
                errors=r[6],
            )
            for r in rows
        ]

    def files(self, folder: Path | None = None, errors_only: bool = False) -> list[FileStatus]:
        """Files of one folder (or all), by path."""
        sql = "SELECT x.path, x.title, x.passages, x.error, x.indexed_at FROM files x"
        where, args = [], []
        if folder is not None:
            sql += " JOIN folders f ON f.id = x.folder_id"
            where.append("f.path = ?")
            args.append(str(Path(folder).expanduser().absolute()))
        if errors_only:
            where.append("x.error IS NOT NULL")
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self.conn.execute(sql + " ORDER BY x.path", args).fetchall()
        return [FileStatus(Path(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def passage_count(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM passages").fetchone()[0])

    # -- indexing ----------------------------------------------------------------------

    def sync(
        self,
        folder: Path | None = None,
        progress: Callable[[Progress], None] | None = None,
        force: bool = False,
        stop: threading.Event | None = None,
    ) -> SyncReport:
        """Bring the index up to date with the folders (one, or all).

        Args:
            force: re-read every file, even unchanged ones (vectors are still reused
                by content hash).
            stop: set it to end the run after the file in hand (the rest is done by
                the next run).
        """
        started = time.monotonic()
        report = SyncReport()
        wanted = None if folder is None else Path(folder).expanduser().absolute()
        targets = [f for f in self.folders() if wanted is None or f.path == wanted]
        if folder is not None and not targets:
            raise KnowledgeError(
                f"{folder} is not an indexed folder", hint=f"add it: assistant docs add {folder}"
            )
        for target in targets:
            self._sync_folder(target, report, progress, force, stop)
            if stop is not None and stop.is_set():
                break
        report.seconds = time.monotonic() - started
        return report

    def _sync_folder(
        self,
        folder: FolderStatus,
        report: SyncReport,
        progress: Callable[[Progress], None] | None,
        force: bool,
        stop: threading.Event | None,
    ) -> None:
        if not folder.path.is_dir():
            reason = "folder not found (deleted, renamed or not mounted); its files stay "
            reason += "indexed until it is back or removed"
            with self._transaction() as conn:
                conn.execute("UPDATE folders SET error = ? WHERE id = ?", (reason, folder.id))
            log.warning("%s: %s", folder.path, reason)
            return
        on_disk = list(_scan(folder.path))
        with self._lock:
            known = {
                row[0]: (row[1], row[2], row[3])
                for row in self.conn.execute(
                    "SELECT path, size, mtime_ns, error FROM files WHERE folder_id = ?",
                    (folder.id,),
                )
            }
        for number, path in enumerate(on_disk):
            if stop is not None and stop.is_set():
                return
            if progress is not None:
                progress(Progress(number, len(on_disk), path, report.passages))
            self._sync_file(folder.id, path, known.get(str(path)), report, force)
        # Dropped last, so a moved file's passages were there to lend their vectors.
        gone = set(known) - {str(p) for p in on_disk}
        if gone:
            with self._transaction() as conn:
                for path_text in gone:
                    conn.execute("DELETE FROM passages WHERE file_id = "
                                 "(SELECT id FROM files WHERE path = ?)", (path_text,))  # fmt: skip
                    conn.execute("DELETE FROM files WHERE path = ?", (path_text,))
            report.removed += len(gone)
        with self._transaction() as conn:
            conn.execute("UPDATE folders SET synced_at = ?, error = NULL WHERE id = ?",
                         (time.time(), folder.id))  # fmt: skip
        if progress is not None:
            progress(Progress(len(on_disk), len(on_disk), None, report.passages))

    def _sync_file(
        self,
        folder_id: int,
        path: Path,
        known: tuple[int, int, str | None] | None,
        report: SyncReport,
        force: bool,
    ) -> None:
        try:
            stat = path.stat()
        except OSError as exc:  # vanished between the scan and now
            log.info("skipping %s: %s", path, exc)
            return
        if known is not None and not force and (stat.st_size, stat.st_mtime_ns) == known[:2]:
            report.unchanged += 1
            return
        try:
            digest = _hash(path)
        except OSError as exc:
            self._record_error(folder_id, path, stat, "", f"cannot read: {exc.strerror or exc}")
            report.failed += 1
            return
        with self._lock:
            row = self.conn.execute(
                "SELECT sha256, error FROM files WHERE path = ?", (str(path),)
            ).fetchone()
        if row is not None and row[0] == digest and row[1] is None and not force:
            with self._transaction() as conn:  # touched, not changed
                conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                             (stat.st_size, stat.st_mtime_ns, str(path)))  # fmt: skip
            report.unchanged += 1
            return
        try:
            title, sections = read_document(path)
            chunks = split_sections(sections)
            if not chunks:
                raise DocumentError("no text found")
        except DocumentError as exc:
            self._record_error(folder_id, path, stat, digest, str(exc))
            report.failed += 1
            return
        except Exception as exc:  # a reader bug must not stop the whole folder
            log.exception("reading %s failed", path)
            self._record_error(folder_id, path, stat, digest, f"could not be read ({exc})")
            report.failed += 1
            return
        vectors, embedded = self._vectors_for(chunks)
        self._write_file(folder_id, path, stat, digest, title, chunks, vectors)
        report.passages += len(chunks)
        report.embedded += embedded
        if known is None:
            report.added += 1
        else:
            report.updated += 1

    def _vectors_for(self, chunks: list[Chunk]) -> tuple[list[bytes], int]:
        """A vector per chunk: a stored one where the content hash is known, else new."""
        found: dict[str, bytes] = {}
        with self._lock:
            for chunk in chunks:
                row = self.conn.execute(
                    "SELECT v.embedding FROM passages p JOIN vectors v ON v.rowid = p.id "
                    "WHERE p.digest = ? LIMIT 1",
                    (chunk.digest,),
                ).fetchone()
                if row is not None:
                    found[chunk.digest] = bytes(row[0])
        missing = [c for c in chunks if c.digest not in found]
        unique = list({c.digest: c for c in missing}.values())
        for start in range(0, len(unique), _EMBED_BATCH):
            batch = unique[start : start + _EMBED_BATCH]
            array = self.embedder.embed([c.embed_text for c in batch])
            for chunk, vector in zip(batch, array, strict=True):
                found[chunk.digest] = np.asarray(vector, dtype=np.float32).tobytes()
        return [found[c.digest] for c in chunks], len(unique)

    def _write_file(
        self,
        folder_id: int,
        path: Path,
        stat: os.stat_result,
        digest: str,
        title: str,
        chunks: list[Chunk],
        vectors: list[bytes],
    ) -> None:
        try:
            with self._transaction() as conn:
                file_id = self._replace_file_row(conn, folder_id, path, stat, digest, title,
                                                 len(chunks), None)  # fmt: skip
                for ordinal, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
                    cursor = conn.execute(
                        "INSERT INTO passages (file_id, ordinal, heading, text, digest) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (file_id, ordinal, chunk.heading, chunk.text, chunk.digest),
                    )
                    conn.execute("INSERT INTO vectors (rowid, embedding) VALUES (?, ?)",
                                 (cursor.lastrowid, vector))  # fmt: skip
        except DatabaseError as exc:
            raise self._write_failed(path, exc) from exc

    def _replace_file_row(
        self, conn: Any, folder_id: int, path: Path, stat: os.stat_result, digest: str,
        title: str, passages: int, error: str | None,
    ) -> int:  # fmt: skip
        old = conn.execute("SELECT id FROM files WHERE path = ?", (str(path),)).fetchone()
        if old is not None:
            conn.execute("DELETE FROM passages WHERE file_id = ?", old)
            conn.execute("DELETE FROM files WHERE id = ?", old)
        cursor = conn.execute(
            "INSERT INTO files (folder_id, path, size, mtime_ns, sha256, title, passages, "
            "error, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (folder_id, str(path), stat.st_size, stat.st_mtime_ns, digest, title, passages,
             error, time.time()),
        )  # fmt: skip
        return int(cursor.lastrowid)

    def _record_error(
        self, folder_id: int, path: Path, stat: os.stat_result, digest: str, reason: str
    ) -> None:
        log.warning("not indexed: %s: %s", path, reason)
        try:
            with self._transaction() as conn:
                self._replace_file_row(conn, folder_id, path, stat, digest, "", 0, reason)
        except DatabaseError as exc:
            raise self._write_failed(path, exc) from exc

    def _write_failed(self, path: Path, exc: Exception) -> KnowledgeError:
        # sqlite-vec reports a full disk as its own error, so the hint names both causes.
        return KnowledgeError(
            f"could not write the document index {self.path} while indexing {path}: {exc}",
            hint="if the disk is full, free some space; then run `assistant docs reindex`: "
            "it carries on where this run stopped",
        )

    # -- searching ---------------------------------------------------------------------

    def search(self, query: str, limit: int = 5, mode: SearchMode = "hybrid") -> list[Passage]:
        """The ``limit`` passages that best match ``query``, best first."""
        with self._lock:
            return search(
                self.conn, self.embedder, query, limit=limit, mode=mode, vectors=self._vectors
            )

    def retrieve(self, text: str, limit: int = 3) -> Retrieval:
        """What the reply path asks: passages relevant enough to answer ``text`` from
        (none when nothing is), see :func:`assistant.knowledge.answer.retrieve`."""
        return retrieve(self, text, limit=limit)
