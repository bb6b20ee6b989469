"""Cutting text, or a stream of tokens, into sentences as soon as each is complete.

A voice can start speaking the first sentence of a reply while the language model is
still writing the second; that is what makes a reply feel immediate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["SentenceChunker", "collapse_repeats", "split_sentences"]

# Words that end in a full stop without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e approx dept est fig inc ltd co corp no vol
    jan feb mar apr jun jul aug sep sept oct nov dec mt ft ave blvd""".split()  # noqa: SIM905
)

# Sentence-ending punctuation, optionally followed by closing quotes or brackets,
# followed by whitespace. The look-behind-free form keeps it simple to scan.
_END = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)")
_CLAUSE = re.compile(r"[,;:]\s")
# Words that open a subordinate clause: a long first sentence with no comma can be cut
# before one ("The sky is blue | because of..."), where a speaker could breathe. Not
# "and"/"or", which join words as often as clauses ("a brave and fearless dragon").
_OPENER = re.compile(
    r"\s(?=(?:because|when|which|who|whose|where|while|although|though|unless|until|"
    r"whereas|but)\s)",
    re.IGNORECASE,
)
_OPENER_MIN_WORDS = 3
# Where else a speaker breaks a long first sentence: after a subject of three words or
# more, before its verb ("The tallest mountain in the world | is Mount Everest"), and
# before a number, which takes long to say ("The moon is about | 384,400 kilometers").
_BREAK = re.compile(r"\s(?=(?:(?:is|are|was|were)\s|[$€£]?\d))", re.IGNORECASE)
# A first piece that is still going after six words may end before a preposition ("I'm a
# helpful voice assistant running | on your computer"); not "of" or "to", which bind
# tighter ("the capital of France", "a way to learn").
_PHRASE = re.compile(
    r"\s(?=(?:in|on|at|for|from|with|about|by|into|over|under|during|between|through|"
    r"around|across|without)\s)",
    re.IGNORECASE,
)
_PHRASE_MIN_WORDS = 6
# The first piece need not wait for the next word to know that a mark after a word ends
# it ("loss," / "Paris."): the mark, last in the text so far, right after a letter.
_END_NOW = re.compile(r"(?<=[^\W\d_])([.!?…]+|[,;:])$")
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


def _is_boundary(text: str, punct_start: int, punct: str) -> bool:
    if punct[0] in "!?…":
        return True
    before = text[:punct_start]
    word = before.rsplit(None, 1)[-1].lower() if before.strip() else ""
    word = word.lstrip("(\"'“‘")
    if word in _ABBREVIATIONS:
        return False
    # A single letter before a full stop is an initial ("J. R. R. Tolkien").
    if len(word) == 1 and word.isalpha():
        return False
    # "3." followed by more text is usually a list number or decimal split by a space.
    return not word.isdigit()


class SentenceChunker:
    """Feed text deltas; get back whole sentences as soon as they are complete.

    A sentence is complete when its closing punctuation is followed by whitespace (so
    "3.14" and "e.g." are not cut), or at a paragraph break or a list item.

    Args:
        first_clause_words: if set, the *first* piece may end at a clause break (comma,
            semicolon, colon) once it has at least this many words, or before a word that
            opens a subordinate clause ("because", "when", "which"...) once it has at
            least three: a voice can start on "Once upon a time," or "The sky is blue"
            while the rest of a long first sentence is written.
    """

    def __init__(self, first_clause_words: int | None = None) -> None:
        self._buffer = ""
        self._first_clause_words = first_clause_words

    def feed(self, delta: str) -> list[str]:
        """Add text; return the sentences it completed (possibly none)."""
        self._buffer += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if sentence:
                out.append(sentence)
                self._first_clause_words = None

    def flush(self) -> list[str]:
        """The rest of the text, at the end of the stream."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _find_cut(self) -> int | None:
        candidates = []
        for match in _END.finditer(self._buffer):
            if _is_boundary(self._buffer, match.start(1), match.group(1)):
                candidates.append(match.end(1))
                break
        for paragraph in _PARAGRAPH.finditer(self._buffer):
            if self._buffer[: paragraph.start()].strip():
                candidates.append(paragraph.start())
                break
        if self._first_clause_words is not None:
            now = _END_NOW.search(self._buffer)
            if now is not None and self._ends_first_piece(now):
                candidates.append(now.end())
            for clause in _CLAUSE.finditer(self._buffer):
                if len(self._buffer[: clause.start()].split()) >= self._first_clause_words:
                    candidates.append(clause.start() + 1)
                    break
            least = max(_OPENER_MIN_WORDS, self._first_clause_words)
            for pattern, words in ((_OPENER, least), (_BREAK, least), (_PHRASE, _PHRASE_MIN_WORDS)):
                for opener in pattern.finditer(self._buffer):
                    if len(self._buffer[: opener.start()].split()) >= words:
                        candidates.append(opener.start())
                        break
        return min(candidates) if candidates else None

    def _ends_first_piece(self, mark: re.Match[str]) -> bool:
        """Whether a mark at the very end of the text ends the first piece now: a
        sentence's end that is not an abbreviation's or an initial's, or a clause break
        after enough words."""
        punct = mark.group(1)
        if punct[0] in ",;:":
            assert self._first_clause_words is not None
            return len(self._buffer[: mark.start()].split()) >= self._first_clause_words
        return _is_boundary(self._buffer, mark.start(), punct)


def split_sentences(text: str | Iterable[str]) -> list[str]:
    """All sentences of a text (or of an iterable of text pieces)."""
    return list(iter_sentences([text] if isinstance(text, str) else text))


def collapse_repeats(text: str) -> str:
    """``text`` with each run of one sentence said over and over kept once ("Stop. Stop.
    Stop." -> "Stop."). Whisper loops on a short utterance it is unsure of (once, "Stop."
    came back 35 times); and a user who repeats a sentence in one breath means it once."""
    sentences = split_sentences(text)
    kept: list[str] = []
    for sentence in sentences:
        if kept and _same_words(kept[-1], sentence):
            continue
        kept.append(sentence)
    return " ".join(kept) if len(kept) < len(sentences) else text


def _same_words(a: str, b: str) -> bool:
    return re.findall(r"\w+", a.lower()) == re.findall(r"\w+", b.lower())


def iter_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Sentences of a stream of text pieces, each yielded once it is complete."""
    chunker = SentenceChunker()
    for piece in pieces:
        yield from chunker.feed(piece)
    yield from chunker.flush()
