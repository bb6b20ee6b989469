"""The seam between the document index and the reply path.

The pipeline calls :func:`retrieve` with the user's words. When it returns passages,
:func:`context_message` becomes one more system message before the user's, and
:func:`source_line` is spoken (and shown) after the reply: "From boiler-manual.pdf."
A question nothing relevant answers gets no passages and goes to the model as usual;
"search my documents for ..." always searches and always answers from the index.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import AssistantError
from ..llm.base import Message
from ..reply import ReplyContext, Source
from .search import Passage

__all__ = [
    "MIN_SIMILARITY",
    "Retrieval",
    "context_hook",
    "context_message",
    "forced_query",
    "reply_context",
    "retrieve",
    "source_line",
]

MIN_SIMILARITY = 0.45
"""A question gets passages only if the best one is at least this similar (cosine, with
all-MiniLM-L6-v2: related text is ~0.5-0.8, unrelated ~0.0-0.3)."""

log = logging.getLogger(__name__)

_CONTEXT_CHARS = 2400
"""At most this much passage text goes into the context (small local models)."""

_FORCED = re.compile(
    r"^\s*(?:please\s+)?(?:search|look\s+(?:up|in)|check)\s+(?:in\s+)?my\s+"
    r"(?:documents|docs|files|notes)\s*(?:for|about)?\s*[:,]?\s*(?P<query>.*?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found for one utterance."""

    query: str
    """What was searched (the question, or what followed "search my documents for")."""
    forced: bool
    """True when the user asked to search the documents."""
    passages: tuple[Passage, ...]
    """Empty when nothing was relevant."""


def forced_query(text: str) -> str | None:
    """The query of "search my documents for X" (X), or ``None`` for other utterances."""
    match = _FORCED.match(text)
    if match is None:
        return None
    return match.group("query") or None


def retrieve(
    knowledge: object, text: str, limit: int = 3, min_similarity: float = MIN_SIMILARITY
) -> Retrieval:
    """Search ``knowledge`` (a :class:`~assistant.knowledge.KnowledgeBase`) for ``text``.

    Passages are kept when the best one reaches ``min_similarity`` (always, for a forced
    search); of those, ones far below the best are dropped.
    """
    query = forced_query(text)
    forced = query is not None
    found = knowledge.search(query or text, limit=limit)  # type: ignore[attr-defined]
    if not found:
        return Retrieval(query or text, forced, ())
    best = max(p.similarity for p in found)
    if not forced and best < min_similarity:
        return Retrieval(text, False, ())
    # a forced search keeps its best passage whatever its score, and those close to it
    floor = best - 0.15 if forced else min(min_similarity, best - 0.15)
    kept = tuple(p for p in found if p.similarity >= floor)
    return Retrieval(query or text, forced, kept)


def _note(passages: Sequence[Passage]) -> str:
    parts = []
    budget = _CONTEXT_CHARS
    for number, passage in enumerate(passages, start=1):
        text = passage.text if len(passage.text) <= budget else passage.text[:budget] + "…"
        where = f"{passage.source}" + (f", {passage.heading}" if passage.heading else "")
        parts.append(f"[{number}] ({where})\n{text}")
        budget -= len(text)
        if budget <= 0:
            break
    return (
        "Answer from these passages of the user's own documents when they answer the "
        "question; say so if they do not. Keep it short.\n\n" + "\n\n".join(parts)
    )


def context_message(passages: Sequence[Passage]) -> Message:
    """A system message with the passages and their file names, for the model to answer
    from."""
    return Message("system", _note(passages))


def reply_context(found: Retrieval) -> ReplyContext | None:
    """What the reply path gets for a retrieval (see :mod:`assistant.reply`): the
    passages for the model, the sources to show and the closing to say; ``None`` when
    nothing was relevant. A forced search that found nothing tells the model so."""
    if not found.passages:
        if not found.forced:
            return None
        return ReplyContext(
            f'The user asked to search their documents for "{found.query}"; nothing in '
            "them matched. Say so in one sentence."
        )
    sources = tuple(Source(p.source, str(p.path), p.heading, p.text) for p in found.passages)
    return ReplyContext(_note(found.passages), sources, source_line(found.passages))


def context_hook(knowledge: object) -> Callable[[str], ReplyContext | None]:
    """A :attr:`~assistant.reply.ReplyHooks.context_for` that searches ``knowledge``
    (a :class:`~assistant.knowledge.KnowledgeBase`; its embedder stays loaded).

    A failing search (a damaged database) is logged and the question goes to the model
    without passages: the conversation carries on."""

    def context_for(text: str) -> ReplyContext | None:
        try:
            return reply_context(retrieve(knowledge, text))
        except AssistantError as exc:
            log.warning("document search failed: %s", exc)
            return None

    return context_for


def source_line(passages: Sequence[Passage]) -> str:
    """The spoken source: "From boiler-manual.pdf." (two files: "From a.pdf and b.md.")."""
    names = list(dict.fromkeys(p.source for p in passages))
    if not names:
        return ""
    if len(names) == 1:
        return f"From {names[0]}."
    return "From " + ", ".join(names[:-1]) + f" and {names[-1]}."
