"""The reply path, written once: from what the user said to speakable pieces of the reply.

``talk``, ``chat``, the live pipeline and the self-test all answer through this module:

1. :func:`build_messages` - the system prompt, the history, any context passages and the
   user's message;
2. :func:`fit_to_context` - the oldest turns dropped until the prompt fits;
3. :func:`stream_reply` - the model's text deltas, cut into speakable pieces by the
   sentence chunker (the first piece may end at a clause, so the voice starts early),
   with the timing marks (``first_token``, ``first_sentence``) on the way.

Seams where features plug in:

- :attr:`ReplyHooks.answer_locally` runs before the language model: the local command
  router (assistant.commands) returns the reply for a transcript it recognises ("stop
  the timer"), as text or as a :class:`LocalReply` carrying the actions only the host
  can do (stop, volume, speaking rate, new conversation), and the model is not called;
  ``None`` lets the model answer. :attr:`ReplyHooks.acts_on` says, without side effects,
  whether it would answer by changing something (the live pipeline runs such a command
  only once the user has surely finished, never for a speculation that may be dropped;
  the time or a sum are answered, and spoken, early like a model's reply).
- :attr:`ReplyHooks.context_for` finds passages (retrieved from the user's documents)
  for a transcript: a :class:`ReplyContext` whose note goes into the system message
  (after the prompt, so the history that :func:`fit_to_context` trims stays
  well-formed), whose sources a front end shows, and whose closing ("From
  boiler-manual.pdf.") :func:`stream_reply` says after the model's reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .config import Config
from .errors import EngineError
from .llm import ChatModel, GenerationOptions, Message, fit_to_context
from .text import SentenceChunker, speakable

__all__ = [
    "FIRST_CLAUSE_WORDS",
    "Delta",
    "LocalReply",
    "Piece",
    "ReplyContext",
    "ReplyHooks",
    "ReplyPart",
    "Source",
    "build_messages",
    "gather_context",
    "generation_options",
    "speakable_piece",
    "stream_reply",
]

FIRST_CLAUSE_WORDS = 2
"""A reply's first piece may end at a comma once it has this many words ("One day,"), or
before "because", "when", "which"... once it has three, so the voice starts before a long
first sentence is finished."""


@dataclass(frozen=True)
class Delta:
    """A piece of the reply's text as the model wrote it."""

    text: str


@dataclass(frozen=True)
class Piece:
    """A complete sentence (or first clause) of the reply, ready to be made speakable."""

    text: str


ReplyPart = Delta | Piece
"""What :func:`stream_reply` yields: every delta, and each piece once it is complete."""


@dataclass(frozen=True)
class LocalReply:
    """A reply made without the language model (a local command)."""

    text: str
    """What to say and show; may be empty (a silent "stop")."""
    actions: tuple[Any, ...] = ()
    """What the host should also do (:class:`assistant.commands.Action`)."""
    intent: str = ""
    """What was recognised, e.g. ``HassStartTimer``."""
    handler: str = ""
    """The handler family that answered (timers, clock, calc...)."""
    match_ms: float = 0.0
    handle_ms: float = 0.0
    question: bool = False
    """The reply asks something (an ambiguous request); the next transcript may answer."""


@dataclass(frozen=True)
class Source:
    """A passage the reply was given, as a front end shows it (and opens its file)."""

    name: str
    """The file name, as said aloud ("boiler-manual.pdf")."""
    path: str
    """The file's absolute path."""
    heading: str
    text: str


@dataclass(frozen=True)
class ReplyContext:
    """What a transcript's reply is given besides the conversation."""

    note: str
    """Text for the model (the passages with their file names), after the system prompt."""
    sources: tuple[Source, ...] = ()
    closing: str = ""
    """Said after the model's reply (the source: "From boiler-manual.pdf."); may be empty."""


@dataclass
class ReplyHooks:
    """Where features plug in around the language model (all optional)."""

    answer_locally: Callable[[str], str | LocalReply | None] | None = None
    """The reply to a transcript answered without the model (a local command), or None."""
    acts_on: Callable[[str], bool] | None = None
    """Whether ``answer_locally`` would answer this transcript by changing something (a
    timer started): not to be done for a speculation (cheap to ask, changes nothing)."""
    is_command: Callable[[str], bool] | None = None
    """Whether this transcript is a whole local command ("set a timer for 5 minutes"):
    a strong sign that the user has finished, so the turn may end after a short pause."""
    context_for: Callable[[str], ReplyContext | None] | None = None
    """Passages to give the model with this transcript (retrieved documents), or None."""
    rehear: Callable[[str, Callable[[str], str | None]], str] | None = None
    """The transcript to use for a turn, given the first one and a way to transcribe the
    same audio again with a prompt (a command nearly heard is listened to again)."""


def gather_context(hooks: ReplyHooks | None, user_text: str) -> ReplyContext | None:
    """``hooks.context_for(user_text)``; ``None`` without the hook, or when it finds
    nothing. (A reply a local command gives ignores it: no closing is said.)"""
    if hooks is None or hooks.context_for is None:
        return None
    return hooks.context_for(user_text)


def generation_options(config: Config) -> GenerationOptions:
    """The ``[llm]`` section's sampling settings."""
    llm = config.llm
    return GenerationOptions(
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        top_p=llm.top_p,
        seed=llm.seed if llm.seed >= 0 else None,
    )


def build_messages(
    system_prompt: str,
    history: Sequence[Message],
    user_text: str,
    *,
    hooks: ReplyHooks | None = None,
    context: ReplyContext | None = None,
) -> list[Message]:
    """The messages for one reply: the system prompt, the context's note (``context``,
    else from ``hooks.context_for``), the history so far and the user's message."""
    if context is None:
        context = gather_context(hooks, user_text)
    system = f"{system_prompt}\n\n{context.note}" if context and context.note else system_prompt
    return [Message("system", system), *history, Message("user", user_text)]


def speakable_piece(text: str, language: str) -> str | None:
    """``text`` as a voice should read it, or ``None`` when nothing is left to say."""
    spoken = speakable(text, language)
    return spoken if any(ch.isalnum() for ch in spoken) else None


def stream_reply(
    chat: ChatModel,
    messages: Sequence[Message],
    options: GenerationOptions,
    *,
    cancel: threading.Event | None = None,
    mark: Callable[[str], None] | None = None,
    hooks: ReplyHooks | None = None,
    next_delta: Callable[[Iterator[str]], str | None] | None = None,
    on_local: Callable[[LocalReply], None] | None = None,
    context: ReplyContext | None = None,
) -> Iterator[ReplyPart]:
    """Answer ``messages`` (whose last is the user's): every text delta, and each
    speakable piece once complete. ``mark`` gets ``first_token`` and ``first_sentence``
    as they happen; a set ``cancel`` stops the model and drops the unfinished piece.
    ``next_delta`` pulls the next delta from the model's stream (a stage wraps it to
    watch for stalls); by default ``next(stream, None)``. A reply answered locally is
    marked ``matched`` and given to ``on_local`` before its text is yielded.
    ``context``'s closing (the source) follows the model's reply as one more delta
    and piece, unless cancelled or answered locally.

    Raises:
        EngineError: the model failed (after the pieces written before the failure,
            the unfinished last one included).
    """
    note = mark or (lambda name: None)
    hooks = hooks or ReplyHooks()
    chunker = SentenceChunker(first_clause_words=FIRST_CLAUSE_WORDS)
    local = hooks.answer_locally(messages[-1].content) if hooks.answer_locally else None
    if local is not None:
        reply = local if isinstance(local, LocalReply) else LocalReply(local)
        note("matched")
        if on_local is not None:
            on_local(reply)
        deltas: Iterator[str] = iter([reply.text] if reply.text else [])
    else:
        fitted = fit_to_context(chat, messages, options.max_tokens)
        deltas = iter(chat.stream(fitted, options, cancel))
    pull = next_delta or (lambda it: next(it, None))
    failure: EngineError | None = None
    try:
        while (delta := pull(deltas)) is not None:
            note("first_token")
            yield Delta(delta)
            for sentence in chunker.feed(delta):
                note("first_sentence")
                yield Piece(sentence)
    except EngineError as exc:
        failure = exc  # what was written before the failure is still said
    if cancel is None or not cancel.is_set():
        for sentence in chunker.flush():
            note("first_sentence")
            yield Piece(sentence)
        if failure is None and local is None and context is not None and context.closing:
            yield Delta(f" {context.closing}")
            yield Piece(context.closing)
    if failure is not None:
        raise failure
