"""The history database file: opening it, its schema and migrations, and what happens
when the file is damaged.

The schema version lives in SQLite's ``PRAGMA user_version``. Each entry of
``_MIGRATIONS`` takes the file from version ``i`` to ``i + 1``; a file from a newer
release is refused rather than touched. A file SQLite cannot read as a database is
never deleted: it is renamed aside (with its ``-wal``/``-shm`` companions) and a fresh
one is started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

from ..errors import AssistantError

__all__ = ["SCHEMA_VERSION", "HistoryCorruptError", "HistoryError", "open_database"]

log = logging.getLogger(__name__)

_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: conversations and their turns.
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_text TEXT NOT NULL,
        assistant_text TEXT NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0,
        metrics TEXT,
        started_at REAL NOT NULL
    );
    CREATE INDEX turns_by_conversation ON turns(conversation_id, id);
    CREATE INDEX conversations_by_update ON conversations(updated_at, id);
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this release writes."""

# SQLite's result codes for "this is not (or no longer) a database".
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class HistoryError(AssistantError):
    """The conversation history cannot be read or written."""


class HistoryCorruptError(HistoryError):
    """The history file was damaged; it has been moved aside and a fresh one started.

    Opening the store again works (on the fresh, empty file); the old file is kept
    under :attr:`moved_to` for recovery by hand.
    """

    def __init__(self, path: Path, moved_to: Path, reason: str) -> None:
        self.path = path
        """The history file, now fresh and empty."""
        self.moved_to = moved_to
        """Where the damaged file went."""
        super().__init__(
            f"the conversation history {path} was damaged ({reason}); it was moved aside "
            f"to {moved_to} and a fresh, empty history was started",
            hint="earlier conversations are no longer listed; the old file is kept so the "
            "sqlite3 tool's .recover command can rescue them, or delete it to free the space",
        )


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the history file at ``path``, migrated to the current
    schema, in WAL mode, usable from any thread (callers serialise access).

    Raises:
        HistoryCorruptError: the file was not a readable database; it has been moved
            aside and a fresh database created at ``path``.
        HistoryError: the file cannot be opened (permissions, a newer schema, locked).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryError(
            f"cannot create the folder of the history file {path}: {exc}",
            hint="check the permissions of the data directory (see `assistant doctor`)",
        ) from exc
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) not in _CORRUPT_CODES:
            raise _as_history_error(path, exc) from exc
        reason = str(exc)
    moved_to = _move_aside(path)
    log.warning("history file %s is damaged (%s); moved it to %s", path, reason, moved_to)
    try:
        _open(path).close()
    except sqlite3.DatabaseError as exc:
        raise _as_history_error(path, exc) from exc
    raise HistoryCorruptError(path, moved_to, reason)


def _open(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in the store),
    # so a writer takes the lock up front instead of failing half-way with "locked".
    conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"the history file {path} has schema version {version}, newer than this "
                f"release understands ({SCHEMA_VERSION})",
                hint="upgrade the assistant, or move the file away to start a new history",
            )
        for target in range(version, SCHEMA_VERSION):
            log.info("migrating history %s to schema version %d", path, target + 1)
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        os.replace(path, target)
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.replace(companion, target.with_name(target.name + suffix))
    except OSError as exc:
        raise HistoryError(
            f"the conversation history {path} is damaged and cannot be moved aside: {exc}",
            hint=f"move or rename {path} yourself to start a fresh history",
        ) from exc
    return target


def _as_history_error(path: Path, exc: sqlite3.Error) -> HistoryError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        hint = "another program holds it locked; close other assistant windows and retry"
    else:
        hint = "check that the file and its folder are readable and writable"
    return HistoryError(f"cannot open the conversation history {path}: {exc}", hint=hint)
