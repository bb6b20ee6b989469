"""Conversations and their turns, kept in SQLite in the user's data directory.

One :class:`ConversationStore` may be shared by threads (the pipeline writes from a
worker, the GUI reads from its own thread): it holds one connection behind a lock.
Several processes (the app and ``assistant history``) may open the same file; WAL mode
lets readers go on while one writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ..config import data_dir
from ..fsutil import atomic_open
from ..llm.base import Message
from .db import HistoryCorruptError, HistoryError, open_database
from .records import ConversationSummary, Turn, conversation_title, training_example

__all__ = ["ConversationStore", "default_history_path", "open_history"]

log = logging.getLogger(__name__)

_CUT_SHORT = "…"


def default_history_path() -> Path:
    """``history.sqlite3`` in the platform's data directory."""
    return data_dir() / "history.sqlite3"


class ConversationStore:
    """The conversation history.

    Args:
        path: the SQLite file; ``None`` for :func:`default_history_path`.

    Raises:
        HistoryCorruptError: the file was damaged; it was moved aside and a fresh one
            started, so constructing the store again succeeds.
        HistoryError: the file cannot be opened.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        """The SQLite file."""
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = open_database(self.path)

    # -- conversations -----------------------------------------------------------------

    def new_conversation(self, title: str | None = None) -> int:
        """Start a conversation; it becomes the latest one. Returns its id."""
        now = time.time()
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, started_at, updated_at) VALUES (?, ?, ?)",
                (title, now, now),
            )
        assert cursor.lastrowid is not None
        log.debug("started conversation %d", cursor.lastrowid)
        return cursor.lastrowid

    def latest_conversation(self) -> int | None:
        """The conversation most recently started or added to, or ``None`` if none."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    def conversations(self, limit: int = 50) -> list[ConversationSummary]:
        """The ``limit`` most recently updated conversations, newest first."""
        return self._summaries("ORDER BY c.updated_at DESC, c.id DESC LIMIT ?", (limit,))

    def conversation(self, conversation_id: int) -> ConversationSummary:
        """One conversation's summary."""
        found = self._summaries("WHERE c.id = ?", (conversation_id,))
        if not found:
            raise self._missing(conversation_id)
        return found[0]

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and all its turns."""
        with self._transaction() as conn:
            self._check_exists(conn, conversation_id)
            conn.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        log.info("deleted conversation %d", conversation_id)

    # -- turns -------------------------------------------------------------------------

    def add_turn(
        self,
        conversation_id: int,
        user_text: str,
        assistant_text: str,
        *,
        interrupted: bool = False,
        metrics: Mapping[str, float | None] | None = None,
        started_at: float | None = None,
    ) -> int:
        """Append a turn to a conversation; returns the turn's id.

        ``metrics`` entries that are ``None`` (steps not reached) are left out, so a
        ``dataclasses.asdict(TurnTimings)`` can be passed as it is.
        """
        now = time.time()
        clean = {k: float(v) for k, v in (metrics or {}).items() if v is not None}
        encoded = json.dumps(clean) if clean else None
        with self._transaction() as conn:
            self._check_exists(conn, conversation_id)
            cursor = conn.execute(
                "INSERT INTO turns (conversation_id, user_text, assistant_text, interrupted,"
                " metrics, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    user_text,
                    assistant_text,
                    int(interrupted),
                    encoded,
                    now if started_at is None else started_at,
                ),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = MAX(updated_at, ?) WHERE id = ?",
                (now, conversation_id),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def turns(self, conversation_id: int) -> list[Turn]:
        """A conversation's turns, oldest first."""
        return self._turns(conversation_id, None)

    def history(self, conversation_id: int, context_size: int) -> list[Message]:
        """The newest turns that can fit a ``context_size``-token window at all (every
        turn takes at least 8 tokens with any chat template); trim exactly with
        ``llm.fit_to_context``."""
        return self.messages(conversation_id, last=context_size // 8)

    def messages(self, conversation_id: int, *, last: int | None = None) -> list[Message]:
        """The conversation as chat messages, user and assistant alternating, oldest
        first, for the model's history (trim it with ``llm.fit_to_context``).

        ``last`` keeps only that many of the newest turns: a cheap bound for very long
        conversations before the exact, token-counting trim.
        """
        messages: list[Message] = []
        for turn in self._turns(conversation_id, last):
            # A reply cut before its first word reads as "…": the roles still alternate
            # (chat templates require it) and the model sees that the user cut in.
            reply = turn.assistant_text or _CUT_SHORT
            messages += [Message("user", turn.user_text), Message("assistant", reply)]
        return messages

    # -- export ------------------------------------------------------------------------

    def export_jsonl(
        self,
        path: Path,
        conversation_ids: Sequence[int] | None = None,
        *,
        system_prompt: str | None = None,
    ) -> int:
        """Write conversations as chat-training JSONL, one conversation per line:
        ``{"messages": [{"role": ..., "content": ...}, ...]}``, starting with a system
        message when ``system_prompt`` is given. The file is replaced atomically.

        ``conversation_ids`` picks conversations (all of them, oldest first, when
        ``None``). Interrupted replies are kept as far as they were spoken; turns whose
        reply is empty are left out (an empty answer is no example to learn from), and
        so are conversations left with no turns. Returns how many were written.
        """
        with self._reading() as conn:
            if conversation_ids is None:
                ids = [row[0] for row in conn.execute("SELECT id FROM conversations ORDER BY id")]
            else:
                ids = list(dict.fromkeys(conversation_ids))
                for cid in ids:
                    self._check_exists(conn, cid)
            conversations = [self._turns_locked(conn, cid, None) for cid in ids]
        written = 0
        try:
            with atomic_open(Path(path), "wb") as handle:
                for turns in conversations:
                    example = training_example(turns, system_prompt)
                    if example is not None:
                        handle.write(json.dumps(example, ensure_ascii=False).encode() + b"\n")
                        written += 1
        except OSError as exc:
            raise HistoryError(
                f"cannot write the export {path}: {exc}",
                hint="choose a file in a folder you can write to",
            ) from exc
        log.info("exported %d conversation(s) to %s", written, path)
        return written

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; the store cannot be used afterwards. Closing twice is fine."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _turns(self, conversation_id: int, last: int | None) -> list[Turn]:
        with self._reading() as conn:
            self._check_exists(conn, conversation_id)
            return self._turns_locked(conn, conversation_id, last)

    @staticmethod
    def _turns_locked(
        conn: sqlite3.Connection, conversation_id: int, last: int | None
    ) -> list[Turn]:
        rows = conn.execute(
            "SELECT id, user_text, assistant_text, interrupted, metrics, started_at FROM turns"
            " WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            (conversation_id, -1 if last is None else max(last, 0)),
        ).fetchall()
        return [
            Turn(
                id=tid,
                user_text=user,
                assistant_text=reply,
                interrupted=bool(interrupted),
                metrics=_decode_metrics(metrics, tid),
                started_at=started,
            )
            for tid, user, reply, interrupted, metrics, started in reversed(rows)
        ]

    def _summaries(self, where: str, params: tuple[int, ...]) -> list[ConversationSummary]:
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT c.id, c.title, c.started_at, c.updated_at,
                       (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id),
                       (SELECT user_text FROM turns t WHERE t.conversation_id = c.id
                        ORDER BY t.id LIMIT 1)
                FROM conversations c
                """
                + where,
                params,
            ).fetchall()
        return [
            ConversationSummary(
                id=cid,
                title=title or conversation_title(first or ""),
                started_at=started,
                updated_at=updated,
                turn_count=count,
            )
            for cid, title, started, updated, count, first in rows
        ]

    def _check_exists(self, conn: sqlite3.Connection, conversation_id: int) -> None:
        row = conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise self._missing(conversation_id)

    def _missing(self, conversation_id: int) -> HistoryError:
        return HistoryError(
            f"there is no conversation {conversation_id} in {self.path}",
            hint="`assistant history list` shows the conversations and their ids",
        )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HistoryError(f"the conversation history {self.path} is closed")
        return self._conn

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        return HistoryError(
            f"cannot use the conversation history {self.path}: {exc}",
            hint="if this persists, quit the assistant and move the file away to start a "
            "fresh history (the old one can be recovered with the sqlite3 tool)",
        )


def _decode_metrics(raw: str | None, turn_id: int) -> dict[str, float]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {str(k): float(v) for k, v in data.items()}
    except (ValueError, TypeError, AttributeError):
        log.warning("turn %d has unreadable metrics %r; ignoring them", turn_id, raw)
        return {}


def open_history(path: Path | None = None) -> tuple[ConversationStore, str | None]:
    """Open the history; a corrupt file is moved aside and a fresh one started.

    Returns the store and, when that happened, the message saying where the old file went
    (for the caller to show).
    """
    try:
        return ConversationStore(path), None
    except HistoryCorruptError as exc:
        return ConversationStore(path), str(exc)
