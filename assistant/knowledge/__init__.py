"""Ask about your own documents: a local index of the user's files.

Folders the user adds are read (text, Markdown, HTML, PDF, DOCX, ODT), split into
passages along headings and paragraphs, embedded with the catalog's ``embed`` model
(all-MiniLM-L6-v2 by default, run with numpy) and kept in one SQLite file beside the
conversation history: sqlite-vec for vectors, FTS5 for words, fused by reciprocal rank.

The reply path uses :func:`context_hook` (typed chat: :func:`retrieve`,
:func:`context_message` and :func:`source_line`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..reply import ReplyHooks
from .answer import (
    MIN_SIMILARITY,
    Retrieval,
    context_hook,
    context_message,
    forced_query,
    reply_context,
    retrieve,
    source_line,
)
from .db import KnowledgeError
from .embedder import Embedder, MiniLMEmbedder, load_embedder
from .index import (
    FileStatus,
    FolderStatus,
    KnowledgeBase,
    Progress,
    SyncReport,
    default_knowledge_path,
)
from .search import Passage

if TYPE_CHECKING:
    from ..store import ModelStore

__all__ = [
    "MIN_SIMILARITY",
    "Embedder",
    "FileStatus",
    "FolderStatus",
    "KnowledgeBase",
    "KnowledgeError",
    "MiniLMEmbedder",
    "Passage",
    "Progress",
    "Retrieval",
    "SyncReport",
    "context_hook",
    "context_message",
    "default_embedder",
    "default_knowledge_path",
    "document_hooks",
    "forced_query",
    "open_if_indexed",
    "open_knowledge",
    "reply_context",
    "retrieve",
    "source_line",
]


def default_embedder(store: ModelStore, model_id: str | None = None) -> Embedder:
    """The ``embed`` model ``model_id`` (the catalog's default if ``None``), loaded once."""
    if model_id is None:
        model_id = store.catalog.default_for("embed").id
    model = store.resolve("embed", model_id)
    return load_embedder(model.path, model.id)


def document_hooks(knowledge: KnowledgeBase | None) -> ReplyHooks | None:
    """The reply hooks that answer from ``knowledge`` (``None`` without an index)."""
    if knowledge is None:
        return None
    return ReplyHooks(context_for=context_hook(knowledge))


def open_if_indexed(store: ModelStore, path: Path | None = None) -> KnowledgeBase | None:
    """The document index if the user has added folders to it, else ``None`` (and no
    embedding model is loaded): what the reply path opens at start."""
    path = Path(path) if path is not None else default_knowledge_path()
    if not path.is_file():
        return None
    knowledge = open_knowledge(store, path)
    if not knowledge.folders():
        knowledge.close()
        return None
    return knowledge


def open_knowledge(
    store: ModelStore, path: Path | None = None, model_id: str | None = None
) -> KnowledgeBase:
    """The document index at ``path`` (default: beside the history) with its embedder."""
    return KnowledgeBase(default_embedder(store, model_id), path)
