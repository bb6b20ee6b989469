"""Finding passages: by meaning (sqlite-vec), by words (FTS5 BM25), or both fused by
reciprocal rank fusion (the vector list gives ``1 / (RRF_K + rank)``, the keyword list
``KEYWORD_WEIGHT / (RRF_K + rank)``, summed). In a hybrid search the keyword query runs on
a helper thread while the question is embedded and the vectors scanned (SQLite and numpy
both let go of the GIL), so a query costs about the longer of the two, not their sum."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .embedder import Embedder

__all__ = [
    "CANDIDATES",
    "KEYWORD_WEIGHT",
    "RRF_K",
    "Passage",
    "SearchMode",
    "VectorMatrix",
    "keyword_query",
    "search",
    "vector_query",
]

SearchMode = Literal["hybrid", "vector", "keyword"]

RRF_K = 5
"""The reciprocal-rank-fusion constant: small, so the first few ranks of each list weigh
most (60, the usual one, let a passage ranked middling by both lists beat one ranked
first by one; bench docs: hybrid recall@5 0.77 -> 0.83 tuning set, 0.73 -> 0.77 held-out)."""
KEYWORD_WEIGHT = 0.7
"""The keyword list's weight in the fusion (the vector list's is 1): questions put in
one's own words share few words with the answer, and BM25 over-rewards common ones."""
CANDIDATES = 40
"""How many hits each of vector and keyword search hands to the fusion."""

_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)


_LEAD_IN = re.compile(
    r"^\s*(?:how\s+(?:do|can|could|should|would|might)\s+(?:i|you|we|one)\s+|how\s+to\s+"
    r"|what\s+(?:is|are|does|do)\s+|what's\s+|is\s+there\s+(?:a\s+way\s+)?(?:to\s+)?"
    r"|can\s+i\s+|which\s+)",
    re.IGNORECASE,
)


def vector_query(text: str) -> str:
    """What the embedder reads of a question: its spoken lead-in ("how do I", "what is",
    "is there a way to", "can I", "which") and the question mark taken off, so the
    vector stands for what is asked about, as a passage's lead does ("how do I read JSON
    from a file?" -> "read JSON from a file"). Text without a lead-in is left as it is."""
    stripped = _LEAD_IN.sub("", text, count=1).strip().rstrip("?").strip()
    return stripped or text


@dataclass(frozen=True)
class Passage:
    """A passage found for a query."""

    id: int
    path: Path
    """The file it comes from."""
    title: str
    heading: str
    text: str
    score: float
    """The ranking score of the mode searched (fused, cosine or BM25); higher is better."""
    similarity: float
    """Cosine similarity of the passage and the query, -1..1: what relevance
    thresholds compare against, whatever the mode."""

    @property
    def source(self) -> str:
        """The file name, as said aloud ("boiler-manual.pdf")."""
        return self.path.name


def keyword_query(text: str) -> str:
    """An FTS5 query matching any of the text's content words (quoted: no syntax)."""
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS]
    if not words:
        words = re.findall(r"\w+", text.lower())
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class VectorMatrix:
    """The index's vectors as one float32 matrix, so a query is one matrix-vector product
    (sqlite-vec's scan of the same vectors took ~80 ms at 100,000 passages; this ~10).

    A copy, never the store: it is read from the database when first needed and read
    again whenever the database changed since (a commit by this connection, or by any
    other, which ``PRAGMA data_version`` shows). 1.5 kB per passage (150 MB at 100,000).
    """

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController

        self._blas = ThreadpoolController()
        self._key: tuple[int, int] | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        """Passage ids, ascending; row ``i`` of :attr:`matrix` is passage ``ids[i]``."""
        self.matrix = np.zeros((0, 0), dtype=np.float32)

    def refresh(self, conn: Any) -> None:
        """Read the vectors again if the database changed since they were read."""
        key = (int(conn.execute("PRAGMA data_version").fetchone()[0]), int(conn.total_changes))
        if key == self._key:
            return
        rows = conn.execute("SELECT rowid, embedding FROM vectors ORDER BY rowid").fetchall()
        self.ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        flat = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype=np.float32)
        self.matrix = flat.reshape(len(rows), -1) if rows else np.zeros((0, 0), np.float32)
        self._key = key

    def similarities(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every passage to the (unit) query vector."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        # One BLAS thread: spinning helper threads cost more than they give here.
        with self._blas.limit(limits=1, user_api="blas"):
            return self.matrix @ query_vector.astype(np.float32)

    def lookup(self, rowids: list[int], query_vector: np.ndarray) -> dict[int, float]:
        """The similarities of these passages (those in the matrix)."""
        where = np.searchsorted(self.ids, rowids)
        out = {}
        for rowid, i in zip(rowids, where, strict=True):
            if i < len(self.ids) and self.ids[i] == rowid:
                out[rowid] = float(self.matrix[i] @ query_vector)
        return out


class _Background:
    """A call run on a short-lived helper thread; :meth:`result` waits for it (and
    raises what it raised)."""

    def __init__(self, call: Callable[[], list[tuple[int, float]]]) -> None:
        self._call = call
        self._value: list[tuple[int, float]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="docs-keyword", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> list[tuple[int, float]]:
        """The call's value, once it has returned (its exception, if it raised)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _vector_hits(
    conn: Any, query_vector: np.ndarray, k: int, vectors: VectorMatrix | None = None
) -> list[tuple[int, float]]:
    if vectors is None:
        rows = conn.execute(
            "SELECT rowid, distance FROM vectors WHERE embedding MATCH ? AND k = ? "
            "ORDER BY distance",
            (query_vector.astype(np.float32).tobytes(), k),
        ).fetchall()
        return [(int(r[0]), 1.0 - float(r[1])) for r in rows]
    vectors.refresh(conn)
    return _matrix_hits(vectors, query_vector, k)


def _matrix_hits(
    vectors: VectorMatrix, query_vector: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """The ``k`` rows of the (up-to-date) matrix most similar to the query, best first."""
    similarity = vectors.similarities(query_vector)
    k = min(k, len(similarity))
    if k <= 0:
        return []
    top = np.argpartition(-similarity, k - 1)[:k]
    top = top[np.argsort(-similarity[top], kind="stable")]
    return [(int(vectors.ids[i]), float(similarity[i])) for i in top]


def _keyword_hits(conn: Any, query: str, k: int) -> list[tuple[int, float]]:
    match = keyword_query(query)
    if not match:
        return []
    rows = conn.execute(
        "SELECT rowid, bm25(passages_fts, 2.0, 1.0) FROM passages_fts "
        "WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, 2.0, 1.0) LIMIT ?",
        (match, k),
    ).fetchall()
    return [(int(r[0]), -float(r[1])) for r in rows]


def search(
    conn: Any,
    embedder: Embedder,
    query: str,
    limit: int = 5,
    mode: SearchMode = "hybrid",
    vectors: VectorMatrix | None = None,
) -> list[Passage]:
    """The ``limit`` best passages for ``query``, best first (``vectors``: the matrix to
    scan instead of asking sqlite-vec)."""
    if not query.strip():
        return []
    depth = max(limit, CANDIDATES)
    scores: dict[int, float] = {}
    lists: tuple[tuple[float, list[tuple[int, float]]], ...]
    if mode == "hybrid" and vectors is not None:
        # The keyword query has the connection to itself meanwhile: the matrix is
        # brought up to date first, and the vector side then touches only numpy.
        vectors.refresh(conn)
        keyword = _Background(lambda: _keyword_hits(conn, query, depth))
        try:
            query_vector = embedder.embed([vector_query(query)])[0]
            vector_hits = _matrix_hits(vectors, query_vector, depth)
        finally:
            keyword_hits = keyword.result()
        lists = ((1.0, vector_hits), (KEYWORD_WEIGHT, keyword_hits))
    else:
        query_vector = embedder.embed([vector_query(query)])[0]
        if mode == "vector":
            lists = ((1.0, _vector_hits(conn, query_vector, limit, vectors)),)
        elif mode == "keyword":
            lists = ((1.0, _keyword_hits(conn, query, limit)),)
        else:
            lists = (
                (1.0, _vector_hits(conn, query_vector, depth, vectors)),
                (KEYWORD_WEIGHT, _keyword_hits(conn, query, depth)),
            )
    if mode == "hybrid":
        for weight, hits in lists:
            for rank, (rowid, _) in enumerate(hits, start=1):
                scores[rowid] = scores.get(rowid, 0.0) + weight / (RRF_K + rank)
    else:
        scores = dict(lists[0][1])
    best = sorted(scores, key=lambda r: -scores[r])[:limit]
    if not best:
        return []
    marks = ",".join("?" * len(best))
    if vectors is not None:
        vectors.refresh(conn)  # a keyword search has not read them yet
        known = vectors.lookup(best, query_vector)
        rows = conn.execute(
            f"SELECT p.id, f.path, f.title, p.heading, p.text FROM passages p "
            f"JOIN files f ON f.id = p.file_id WHERE p.id IN ({marks})",
            best,
        ).fetchall()
        rows = [(*r, known[r[0]]) for r in rows if r[0] in known]
    else:
        rows = conn.execute(
            f"SELECT p.id, f.path, f.title, p.heading, p.text, v.embedding FROM passages p "
            f"JOIN files f ON f.id = p.file_id JOIN vectors v ON v.rowid = p.id "
            f"WHERE p.id IN ({marks})",
            best,
        ).fetchall()
        rows = [(*r[:5], float(np.frombuffer(r[5], dtype=np.float32) @ query_vector)) for r in rows]
    by_id = {int(r[0]): r for r in rows}
    found = []
    for rowid in best:
        row = by_id.get(rowid)
        if row is None:
            continue
        found.append(
            Passage(
                id=rowid,
                path=Path(row[1]),
                title=row[2],
                heading=row[3],
                text=row[4],
                score=scores[rowid],
                similarity=row[5],
            )
        )
    return found
