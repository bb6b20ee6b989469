"""``assistant bench docs --spoken N``: what answering from the document index adds to a
spoken question's voice-to-voice latency, through the live pipeline.

``N`` of the bench's own questions (spread over the question set) are synthesized at run
time by the configured voice and spoken in real time into the live pipeline, as
``assistant bench latency`` does: once by a conversation without documents ("plain") and
once by one whose turns search the bench's index and put the passages found in the
model's context ("documents"); which goes first alternates from question to question.
Each reply is stopped as soon as it starts playing, and the next question starts a new
conversation.

Reported, p50 over the questions: voice-to-voice latency both ways and the difference;
the search itself (on the turn's thread); the prompt's length in tokens both ways (as the
model's chat template counts it, for what was heard); and the model's start, from the
final transcript to the first reply token with the search taken out, both ways: its
difference is the part of the added latency that the longer prompt costs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .report import percentile

if TYPE_CHECKING:
    from ..config import Config
    from ..knowledge import KnowledgeBase
    from ..store import ModelStore

__all__ = ["SIDES", "SpokenDocsReport", "format_spoken", "pick_questions", "run_spoken_docs"]

log = logging.getLogger(__name__)

SIDES = ("plain", "documents")
"""The live pipeline without, then with the document index."""


@dataclass
class SpokenDocsReport:
    questions: list[str]
    voice: str
    llm: str
    max_tokens: int
    turns: list[dict[str, Any]] = field(default_factory=list)
    """One per question and side: ``side``, ``question``, ``heard``, ``reply``,
    ``voice_to_voice_s``, ``steps_s`` (seconds from the end of speech, and ``retrieval``:
    the search's own seconds), ``prompt_tokens``, ``passages`` (how many were given)."""

    def _values(self, side: str, get: Callable[[dict[str, Any]], float | None]) -> list[float]:
        values = (get(t) for t in self.turns if t["side"] == side)
        return [v for v in values if v is not None]

    def _p50(self, side: str, get: Callable[[dict[str, Any]], float | None]) -> float | None:
        values = self._values(side, get)
        return percentile(values, 50) if values else None

    def figures(self) -> dict[str, Any]:
        """The summary: per side p50 ``voice_to_voice_s``, ``model_start_s`` (final
        transcript to first token, search excluded) and ``prompt_tokens``; then the
        documents side's ``retrieval_p50_s`` and the differences (documents - plain)."""
        out: dict[str, Any] = {}
        for side in SIDES:
            out[side] = {
                "answered": len(self._values(side, lambda t: t["voice_to_voice_s"])),
                "voice_to_voice_p50_s": self._p50(side, lambda t: t["voice_to_voice_s"]),
                "model_start_p50_s": self._p50(side, _model_start),
                "prompt_tokens_p50": self._p50(side, lambda t: t["prompt_tokens"]),
            }
        plain, docs = out["plain"], out["documents"]
        out["with_passages"] = sum(
            1 for t in self.turns if t["side"] == "documents" and t["passages"]
        )
        out["retrieval_p50_s"] = self._p50("documents", lambda t: t["steps_s"].get("retrieval"))

        def added(key: str) -> float | None:
            a, b = docs[key], plain[key]
            return None if a is None or b is None else a - b

        out["added"] = {
            "voice_to_voice_p50_s": added("voice_to_voice_p50_s"),
            "retrieval_p50_s": out["retrieval_p50_s"],
            "longer_prompt_p50_s": added("model_start_p50_s"),
            "prompt_tokens_p50": added("prompt_tokens_p50"),
        }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "questions": list(self.questions),
            "voice": self.voice,
            "llm": self.llm,
            "max_tokens": self.max_tokens,
            **self.figures(),
            "turns": list(self.turns),
        }


def _model_start(turn: dict[str, Any]) -> float | None:
    """From the final transcript to the first reply token, the search taken out."""
    steps = turn["steps_s"]
    if "first_token" not in steps or "transcript" not in steps:
        return None
    return float(steps["first_token"] - steps["transcript"] - steps.get("retrieval", 0.0))


def pick_questions(questions: Sequence[str], count: int) -> list[str]:
    """``count`` questions spread evenly over ``questions`` (all of them when fewer)."""
    if count >= len(questions):
        return list(questions)
    return [questions[i * len(questions) // count] for i in range(count)]


def run_spoken_docs(
    config: Config,
    store: ModelStore,
    knowledge: KnowledgeBase,
    questions: Sequence[str],
    max_tokens: int | None = None,
    out: Callable[[str], None] = print,
    turn_timeout: float = 120.0,
) -> SpokenDocsReport:
    """Speak ``questions`` into the live pipeline without and with ``knowledge``.

    ``config`` is not changed: the run uses a copy at temperature 0 (and ``max_tokens``
    when given).

    Raises:
        ModelError: a model is not installed or cannot be loaded.
        EngineError: the pipeline stopped answering.
    """
    from ..audio import ASR_RATE, resample
    from ..config import Config
    from ..engines import Engines
    from ..knowledge import context_hook
    from ..reply import ReplyContext, ReplyHooks, build_messages
    from ..tts import synthesize_all
    from .latency import _StreamingRound, _warm_up

    config = Config.from_dict(config.to_dict())
    config.llm.temperature = 0.0
    if max_tokens is not None:
        config.llm.max_tokens = max_tokens
    config.validate()
    out("loading the engines for the spoken questions")
    engines = Engines.load(config, store)
    clips = {}
    for text in questions:
        audio = synthesize_all(engines.voice, text)
        clips[text] = resample(audio.samples, audio.sample_rate, ASR_RATE)
    _warm_up(engines, config, clips[questions[0]])
    search = context_hook(knowledge)
    contexts: list[ReplyContext | None] = []

    def context_for(text: str) -> ReplyContext | None:
        found = search(text)
        contexts.append(found)
        return found

    report = SpokenDocsReport(
        questions=list(questions),
        voice=config.tts.voice,
        llm=config.llm.model,
        max_tokens=config.llm.max_tokens,
    )
    for i, text in enumerate(questions):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        for side in order:
            hooks = ReplyHooks(context_for=context_for) if side == "documents" else None
            searched = len(contexts)
            with _StreamingRound(engines, config, turn_timeout, hooks, side) as live:
                turn = live.ask(text, clips[text], 1)
            # The last search is the confirmed turn's (a speculative one may come before).
            context = contexts[-1] if len(contexts) > searched else None
            messages = build_messages(config.llm.system_prompt, (), turn.heard, context=context)
            record = {
                "side": side,
                "question": text,
                "heard": turn.heard,
                "reply": turn.reply,
                "voice_to_voice_s": turn.voice_to_voice,
                "steps_s": dict(turn.steps),
                "prompt_tokens": float(engines.chat.count_tokens(messages)),
                "passages": len(context.sources) if context is not None else 0,
                "capture_lag_s": turn.capture_lag,
            }
            report.turns.append(record)
            shown = "no reply" if turn.voice_to_voice is None else f"{turn.voice_to_voice:.3f} s"
            out(
                f"  {side:<9} {i + 1}/{len(questions)}: {shown}, "
                f"{record['prompt_tokens']:.0f} prompt tokens, {record['passages']} passages "
                f"(heard {turn.heard!r})"
            )
    return report


def _s(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def format_spoken(figures: dict[str, Any]) -> list[str]:
    """The printout's lines for :meth:`SpokenDocsReport.to_dict`'s figures."""
    plain, docs, added = figures["plain"], figures["documents"], figures["added"]
    count = len(figures["questions"])
    lines = [
        f"spoken questions through the live pipeline: {count} ({figures['voice']}, "
        f"{figures['llm']}, {figures['max_tokens']} tokens); {figures['with_passages']} got "
        "passages",
        f"{'p50':24}  {'plain':>7}  {'documents':>9}  {'added':>7}",
        f"{'voice-to-voice (s)':24}  {_s(plain['voice_to_voice_p50_s']):>7}  "
        f"{_s(docs['voice_to_voice_p50_s']):>9}  {_s(added['voice_to_voice_p50_s']):>7}",
        f"{'search (ms)':24}  {'':>7}  {'':>9}  {_s(added['retrieval_p50_s'], 1000, 0):>7}",
        f"{'model start (s)':24}  {_s(plain['model_start_p50_s']):>7}  "
        f"{_s(docs['model_start_p50_s']):>9}  {_s(added['longer_prompt_p50_s']):>7}",
        f"{'prompt tokens':24}  {_s(plain['prompt_tokens_p50'], digits=0):>7}  "
        f"{_s(docs['prompt_tokens_p50'], digits=0):>9}  "
        f"{_s(added['prompt_tokens_p50'], digits=0):>7}",
        "(model start: final transcript to first reply token, the search taken out; its "
        "difference is what the longer prompt costs)",
    ]
    return lines
