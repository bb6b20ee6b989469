"""Finding passages: by meaning (sqlite-vec), by words (FTS5 BM25), or both fused by
reciprocal rank fusion (each list gives ``1 / (RRF_K + rank)``, summed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .embedder import Embedder

__all__ = ["CANDIDATES", "RRF_K", "Passage", "SearchMode", "keyword_query", "search"]

SearchMode = Literal["hybrid", "vector", "keyword"]

RRF_K = 60
"""The usual reciprocal-rank-fusion constant."""
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


def _vector_hits(conn: Any, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    rows = conn.execute(
        "SELECT rowid, distance FROM vectors WHERE embedding MATCH ? AND k = ? ORDER BY distance",
        (query_vector.astype(np.float32).tobytes(), k),
    ).fetchall()
    return [(int(r[0]), 1.0 - float(r[1])) for r in rows]


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
    conn: Any, embedder: Embedder, query: str, limit: int = 5, mode: SearchMode = "hybrid"
) -> list[Passage]:
    """The ``limit`` best passages for ``query``, best first."""
    if not query.strip():
        return []
    query_vector = embedder.embed([query])[0]
    depth = max(limit, CANDIDATES)
    scores: dict[int, float] = {}
    if mode == "vector":
        scores = dict(_vector_hits(conn, query_vector, limit))
    elif mode == "keyword":
        scores = dict(_keyword_hits(conn, query, limit))
    else:
        for hits in (_vector_hits(conn, query_vector, depth), _keyword_hits(conn, query, depth)):
            for rank, (rowid, _) in enumerate(hits, start=1):
                scores[rowid] = scores.get(rowid, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda r: -scores[r])[:limit]
    if not best:
        return []
    marks = ",".join("?" * len(best))
    rows = conn.execute(
        f"SELECT p.id, f.path, f.title, p.heading, p.text, v.embedding FROM passages p "
        f"JOIN files f ON f.id = p.file_id JOIN vectors v ON v.rowid = p.id "
        f"WHERE p.id IN ({marks})",
        best,
    ).fetchall()
    by_id = {int(r[0]): r for r in rows}
    found = []
    for rowid in best:
        row = by_id.get(rowid)
        if row is None:
            continue
        vector = np.frombuffer(row[5], dtype=np.float32)
        found.append(
            Passage(
                id=rowid,
                path=Path(row[1]),
                title=row[2],
                heading=row[3],
                text=row[4],
                score=scores[rowid],
                similarity=float(vector @ query_vector),
            )
        )
    return found
