"""The knowledge database file: one SQLite file with the folders, files, passages, their
keyword index (FTS5) and their vectors (sqlite-vec).

Python's own ``sqlite3`` module may be built without extension loading (pyenv's is), so
the file is opened with ``sqlean`` (the ``sqlean.py`` package: the same DB-API, its own
SQLite with extensions allowed) and the ``sqlite-vec`` extension is loaded into it.
Transactions are explicit (``BEGIN IMMEDIATE``); the schema version is in
``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec

from ..errors import AssistantError

__all__ = ["SCHEMA_VERSION", "DatabaseError", "KnowledgeError", "open_knowledge_db"]

log = logging.getLogger(__name__)


class KnowledgeError(AssistantError):
    """The document index cannot be used as asked."""


def _schema(dimensions: int) -> str:
    return f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            added_at REAL NOT NULL,
            synced_at REAL,
            error TEXT
        );
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            passages INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX files_by_folder ON files(folder_id);
        CREATE INDEX files_by_hash ON files(sha256);
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            heading TEXT NOT NULL,
            text TEXT NOT NULL,
            digest TEXT NOT NULL
        );
        CREATE INDEX passages_by_file ON passages(file_id, ordinal);
        CREATE INDEX passages_by_digest ON passages(digest);
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            heading, text, content='passages', content_rowid='id',
            tokenize='porter unicode61'
        );
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, heading, text)
            VALUES (new.id, new.heading, new.text);
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, heading, text)
            VALUES ('delete', old.id, old.heading, old.text);
            DELETE FROM vectors WHERE rowid = old.id;
        END;
        CREATE VIRTUAL TABLE vectors USING vec0(
            embedding float[{dimensions}] distance_metric=cosine
        );
        """


SCHEMA_VERSION = 1
"""The schema version this release writes."""

DatabaseError = sqlean.DatabaseError
"""What the database raises (sqlean's classes, not the standard library's)."""


def _connect(path: Path) -> Any:
    conn = sqlean.connect(str(path), timeout=10.0, check_same_thread=False, isolation_level=None)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    return conn


def open_knowledge_db(path: Path, model_id: str, dimensions: int) -> Any:
    """Open (creating if needed) the knowledge file at ``path`` for vectors of
    ``model_id`` (``dimensions`` long).

    Raises:
        KnowledgeError: the file cannot be opened, is from a newer release, or holds
            vectors of another model (``assistant docs reindex --model`` rebuilds it).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise KnowledgeError(
                f"the document index {path} is from a newer release (schema {version})",
                hint="update the assistant, or move the file away to start a new index",
            )
        if version == 0:
            quoted = model_id.replace("'", "''")
            try:
                conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + _schema(dimensions)
                    + f"INSERT INTO meta (key, value) VALUES ('model', '{quoted}'), "
                    f"('dimensions', '{dimensions}');"
                    f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    except sqlean.Error as exc:
        raise KnowledgeError(
            f"cannot open the document index {path}: {exc}",
            hint="check the data directory's permissions and free space (`assistant doctor`)",
        ) from exc
    except OSError as exc:
        raise KnowledgeError(f"cannot create the folder of {path}: {exc}") from exc
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("model") != model_id or int(meta.get("dimensions", 0)) != dimensions:
        conn.close()
        raise KnowledgeError(
            f"the document index {path} holds vectors of the model {meta.get('model')!r}, "
            f"not {model_id!r}",
            hint=f"move {path} away and add the folders again to index with {model_id}",
        )
    return conn
