"""Examples for the end-of-turn model, built offline from text that installs with pip.

Sources (English):

- the dialogue lines of ``chatterbot-corpus`` (PyPI, BSD-3-Clause; its
  ``chatterbot_corpus/data/english/*.yml`` conversations: greetings, small talk,
  questions and answers on a score of topics), one line = one finished turn;
- requests and questions to an assistant, generated from templates below (timers,
  weather, facts, how-tos, bookings), with the clause boundaries where people pause.

From each finished turn come the positives (as written, without its closing punctuation,
with a full stop instead) and the negatives: the same turn cut after a random word (with
no punctuation, a full stop, a comma, an ellipsis or the turn's own closing mark, as a
recogniser writes a pause: "Can you tell me?"), cut at its clause boundaries and before
the words people pause in front of (a preposition, a conjunction, a question word: "Set
a timer. | for ten minutes", "Do you know? | where it is"), and ended by a filler or a
conjunction ("..., um", "... and"). A cut that reads as a whole sentence ("Turn off the
lights." from "Turn off the lights in the hall.") is a negative: the model learns how
often such words are the end; unless its words are those of a finished turn of the data
(``TurnTrainOptions.whole_cuts``): then it is left out.
Any turn that matches one of the project's bench questions (``tests/bench_questions``)
is left out, so the bench never scores text the model was trained on.
"""

from __future__ import annotations

import logging
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.turnmodel.features import words

__all__ = ["Example", "build_examples", "corpus_turns", "split", "template_turns"]

log = logging.getLogger(__name__)

_FILLERS = ("um", "uh", "erm", "hmm", "like", "you know", "I mean", "well", "so")
_CONJUNCTIONS = ("and", "but", "or", "so", "because", "then", "and then", "which", "if")
_CUT_ENDINGS = ("", "", ".", ".", ",", "...")
_PAUSE_BEFORE = frozenset(
    "to for with about at in on by from of into where what when how who whether if that"  # noqa: SIM905
    " because so and but or which while before after until".split()
)
"""Words people pause in front of inside a sentence ("Set a timer | for ten minutes")."""


@dataclass(frozen=True)
class Example:
    """One transcript so far and whether the turn is finished there."""

    text: str
    finished: bool
    source: str  # the finished turn it came from (for the split)


def _norm(text: str) -> str:
    return " ".join(words(text))


def corpus_turns(exclude: Iterable[str] = ()) -> list[str]:
    """Every English line of chatterbot-corpus, minus those in ``exclude``."""
    import chatterbot_corpus
    import yaml

    banned = {_norm(t) for t in exclude}
    folder = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    turns: list[str] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in data.get("conversations") or []:
            for line in conversation:
                if not isinstance(line, str):
                    continue
                line = " ".join(line.split())
                if 1 <= len(words(line)) <= 40 and _norm(line) not in banned:
                    turns.append(line)
    if not turns:
        raise RuntimeError(f"no English dialogue found under {folder}")
    return turns


_TEMPLATES = (
    "{ask} {topic}?",
    "Can you tell me {wh}?",
    "Do you know {wh}?",
    "Could you find out {wh}?",
    "I'd like to know {wh}.",
    "{task_cap} {extra}.",
    "Could you {task} {extra}?",
    "{want} {act}.",
    "{want} {act}, {tail}.",
    "Could you {task}, please?",
    "Could you {task}?",
    "Would you {task} please?",
    "{task_cap} please.",
    "Can you {task}?",
    "Please {task}.",
    "{task_cap}.",
    "How do I {how}?",
    "What's the best way to {how}?",
    "Remind me to {chore} {when}.",
    "Set a timer for {n} minutes.",
    "Set an alarm for {clock} {when}.",
    "What's the weather like {when}?",
    "Is it going to rain {when}?",
    "Tell me about {topic}.",
    "I was wondering, {ask_low} {topic}?",
    "So, {ask_low} {topic}?",
)
_SLOTS = {
    "ask": (
        "What is",
        "Who was",
        "Where is",
        "When was",
        "Why is",
        "How big is",
        "What do you know about",
    ),
    "topic": (
        "the tallest mountain in Europe",
        "the speed of light",
        "the author of Hamlet",
        "the biggest ocean",
        "the population of Japan",
        "the boiling point of water",
        "the oldest city in the world",
        "the first person on the moon",
        "photosynthesis",
        "the difference between a virus and a bacterium",
        "the longest river in Africa",
        "black holes",
        "the history of the bicycle",
        "my next meeting",
        "the nearest pharmacy",
    ),
    "want": (
        "I'd like to",
        "I want to",
        "I need to",
        "I would like to",
        "We'd like to",
        "I'm trying to",
    ),
    "act": (
        "book a table for two",
        "order a pizza",
        "call my sister",
        "listen to some jazz",
        "learn a few words of Italian",
        "plan a trip to the coast",
        "write a birthday card",
        "find a recipe with lentils",
        "buy a new pair of shoes",
        "practise my presentation",
    ),
    "tail": (
        "for tomorrow evening",
        "if that's possible",
        "before the weekend",
        "at around seven",
        "for my mother",
    ),
    "task": (
        "turn the music down",
        "read me the news",
        "add milk to the shopping list",
        "play the next song",
        "tell me a joke",
        "translate good morning into German",
        "check my calendar for Friday",
        "summarise this article",
        "spell the word necessary",
    ),
    "how": (
        "fix a flat tyre",
        "boil an egg",
        "plant tomatoes",
        "change a light bulb",
        "make bread at home",
        "get rid of hiccups",
    ),
    "chore": (
        "water the plants",
        "call the dentist",
        "take out the bins",
        "pay the rent",
        "pick up the kids",
    ),
    "wh": (
        "what time it is in Tokyo",
        "where the nearest station is",
        "how far it is to the airport",
        "when the library opens",
        "who wrote this song",
        "whether it will snow this week",
        "if the museum is open on Sundays",
        "how many grams are in a pound",
        "why cats purr",
    ),
    "extra": (
        "in the living room",
        "for the next hour",
        "with a bit more detail",
        "about the match last night",
        "at a lower volume",
        "from the beginning",
        "before I leave",
        "and then the weather",
    ),
    "when": ("tomorrow", "tonight", "this afternoon", "on Monday", "next week", "in an hour"),
    "clock": ("six thirty", "seven", "half past eight", "noon"),
    "n": ("five", "ten", "twenty", "three"),
}


def template_turns(rng: random.Random, count: int, exclude: Iterable[str] = ()) -> list[str]:
    """``count`` assistant requests and questions from the templates."""
    banned = {_norm(t) for t in exclude}
    out: list[str] = []
    while len(out) < count:
        template = rng.choice(_TEMPLATES)
        task = rng.choice(_SLOTS["task"])
        ask = rng.choice(_SLOTS["ask"])
        values = {key: rng.choice(options) for key, options in _SLOTS.items()}
        values.update(task=task, task_cap=task[0].upper() + task[1:], ask=ask, ask_low=ask.lower())
        text = template.format(**values)
        if _norm(text) not in banned:
            out.append(text)
    return out


def _strip_end(text: str) -> str:
    return text.rstrip(" .?!,;:\u2026")


def _cut(text: str, n_words: int) -> str:
    """``text`` up to and including its ``n_words``-th word (punctuation inside kept)."""
    matches = list(re.finditer(r"\S+", text))
    return _strip_end(text[: matches[n_words - 1].end()])


def _examples_of(turn: str, rng: random.Random) -> Iterator[Example]:
    body = _strip_end(turn)
    n = len(turn.split())
    closing = turn.rstrip()[-1:] if turn.rstrip()[-1:] in ".?!" else ""
    yield Example(turn, True, turn)
    yield Example(body + rng.choice(("", ".", closing or ".")), True, turn)
    if rng.random() < 0.3:
        yield Example(
            f"{rng.choice(_FILLERS[:4]).capitalize()}, {turn[0].lower()}{turn[1:]}", True, turn
        )
    if n >= 2:
        cuts = rng.sample(range(1, n), min(6, n - 1))
        endings = (*_CUT_ENDINGS, closing or ".", closing or ".")
        for k in cuts:
            yield Example(_cut(turn, k) + rng.choice(endings), False, turn)
        # Before the words people pause in front of, as the recogniser closes it.
        ws = turn.split()
        for k in range(1, n - 1):
            if _norm(ws[k]) in _PAUSE_BEFORE and rng.random() < 0.7:
                yield Example(_cut(turn, k) + rng.choice((closing or ".", ".", "")), False, turn)
    # Clause boundaries: where a speaker pauses naturally and a timer is fooled.
    for match in re.finditer(r"[,;:]\s", turn):
        head = _strip_end(turn[: match.start()])
        # "..., please?" cut at its comma is a finished request as well: not a negative.
        if head and len(words(turn[match.end() :])) > 1:
            yield Example(head + rng.choice(("", ".", ",")), False, turn)
    tail = rng.choice(_FILLERS + _CONJUNCTIONS)
    yield Example(
        f"{body}{rng.choice((',', ''))} {tail}{rng.choice(('', '...', ','))}", False, turn
    )


def build_examples(turns: Iterable[str], seed: int) -> list[Example]:
    """Positives and negatives from each finished turn (deterministic for a seed)."""
    rng = random.Random(seed)
    return [ex for turn in turns for ex in _examples_of(turn, rng)]


def split(examples: list[Example], held_out: float) -> tuple[list[Example], list[Example]]:
    """Train and held-out examples; every example of one turn lands on the same side."""
    train: list[Example] = []
    test: list[Example] = []
    for ex in examples:
        side = zlib.crc32(_norm(ex.source).encode()) % 1000 < held_out * 1000
        (test if side else train).append(ex)
    return train, test
