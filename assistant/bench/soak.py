"""``assistant bench soak``: many turns through the live pipeline, watching for leaks.

Turns are spoken into the real :class:`~assistant.pipeline.Conversation` (a fed source,
a simulated speaker that plays as fast as it can), every ``barge_in_every``-th one cut
by a typed message while the reply is being written. Resident memory, threads and open
file descriptors are sampled as the turns go; after a warm-up (the first tenth) memory
should stay flat. Each turn's events are checked to be complete and in order.

With the scripted engines (:mod:`assistant.bench.fakes`) a thousand turns take about a
minute and measure the pipeline alone; with the real engines (``real=True``) the
questions of ``tests/bench_questions`` are spoken in turn.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import ASR_RATE, read_audio
from ..audio.playback import Player
from ..config import Config
from ..llm import ChatModel, Message
from ..pipeline import (
    Conversation,
    ErrorEvent,
    Event,
    FinalTranscript,
    ReplyToken,
    SentenceSpoken,
    TurnFinished,
    TurnMetrics,
)
from .fakes import FakeChat, FakeTranscriber, FakeVad, FakeVoice, FeedSource, Phrasebook, silence
from .report import MachineInfo, machine_info

__all__ = ["SoakOptions", "SoakReport", "SoakSample", "run_soak"]

log = logging.getLogger(__name__)

NEW_CONVERSATION_EVERY = 50
"""A conversation's history grows with it by design (the model sees what fits); the soak
starts a new one this often, so growth is what the pipeline leaks, not what it keeps."""

GROWTH_GOAL = 0.05
"""Resident memory may grow at most this much (5 %) from the end of the warm-up."""


@dataclass(frozen=True)
class SoakOptions:
    """What to run."""

    turns: int = 1000
    """Turns to ask (barge-ins included)."""
    barge_in_every: int = 10
    """Every N-th turn is cut by a typed message while its reply is written (0: never)."""
    samples: int = 20
    """About how many times to sample memory, threads and descriptors."""
    turn_timeout: float = 10.0
    """Seconds a turn may take before the soak gives up on it."""


@dataclass(frozen=True)
class SoakSample:
    """The process after ``turn`` turns."""

    turn: int
    rss_mb: float | None
    threads: int
    fds: int | None


@dataclass
class SoakReport:
    """What ``bench soak`` found."""

    engines: str
    """``fake`` or ``real``."""
    turns_asked: int
    turns_completed: int
    """Turns that ended with TurnFinished (cut ones included)."""
    barge_ins: int
    """Turns cut by a typed message (TurnFinished with ``interrupted``)."""
    seconds: float
    samples: list[SoakSample]
    warm_sample: int
    """Index in ``samples`` of the first one after the warm-up."""
    problems: list[str] = field(default_factory=list)
    """Events missing or out of order, errors, timeouts (first 20)."""
    machine: MachineInfo | None = None

    @property
    def rss_start_mb(self) -> float | None:
        return self.samples[0].rss_mb if self.samples else None

    @property
    def rss_warm_mb(self) -> float | None:
        return self.samples[self.warm_sample].rss_mb if self.samples else None

    @property
    def rss_end_mb(self) -> float | None:
        return self.samples[-1].rss_mb if self.samples else None

    @property
    def growth(self) -> float | None:
        """Resident memory growth from the end of the warm-up to the end (0.05 = 5 %)."""
        warm, end = self.rss_warm_mb, self.rss_end_mb
        return None if warm is None or end is None or warm <= 0 else end / warm - 1

    @property
    def thread_growth(self) -> int:
        return self.samples[-1].threads - self.samples[self.warm_sample].threads

    @property
    def fd_growth(self) -> int | None:
        start, end = self.samples[self.warm_sample].fds, self.samples[-1].fds
        return None if start is None or end is None else end - start

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            rss_start_mb=self.rss_start_mb,
            rss_warm_mb=self.rss_warm_mb,
            rss_end_mb=self.rss_end_mb,
            growth=self.growth,
            growth_goal=GROWTH_GOAL,
            thread_growth=self.thread_growth,
            fd_growth=self.fd_growth,
        )
        return data


def rss_mb() -> float | None:
    """This process's resident set in MiB (``None`` where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _sample(turn: int) -> SoakSample:
    gc.collect()
    return SoakSample(turn, rss_mb(), threading.active_count(), _fds())


_ORDER = (FinalTranscript, TurnFinished, TurnMetrics)


class _TurnChecker:
    """Listens to a conversation; keeps per-turn event kinds only until the turn ends."""

    def __init__(self) -> None:
        self._open: dict[int, list[type]] = {}
        self._changed = threading.Condition()
        self.finished = 0
        self.interrupted = 0
        self.replying = threading.Event()
        """Set at each reply token (the soak clears it before a turn it will cut)."""
        self.problems: list[str] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, ErrorEvent):
            self._problem(f"error event: {event.message}")
            return
        turn = getattr(event, "turn", None)
        if not isinstance(turn, int) or not isinstance(
            event, (FinalTranscript, ReplyToken, SentenceSpoken, TurnFinished, TurnMetrics)
        ):
            return
        if isinstance(event, ReplyToken):
            self.replying.set()
        kinds = self._open.setdefault(turn, [])
        kinds.append(type(event))
        if isinstance(event, TurnFinished) and event.interrupted:
            self.interrupted += 1
        if isinstance(event, TurnMetrics):
            self._check(turn, self._open.pop(turn))
            with self._changed:
                self.finished += 1
                self._changed.notify_all()

    def _check(self, turn: int, kinds: list[type]) -> None:
        milestones = [k for k in kinds if k in _ORDER]
        if milestones != list(_ORDER):
            names = [k.__name__ for k in milestones]
            self._problem(f"turn {turn}: events {names}, expected FinalTranscript, "
                          "TurnFinished, TurnMetrics")  # fmt: skip
            return
        end = kinds.index(TurnFinished)
        if any(k in (ReplyToken, SentenceSpoken) for k in kinds[end:]):
            self._problem(f"turn {turn}: reply events after TurnFinished")

    def _problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def wait(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.finished >= count, timeout)


@dataclass
class _Rig:
    conversation: Conversation
    source: FeedSource
    player: Player
    utterances: list[np.ndarray]
    chat: Any = None


def _fake_rig(config: Config) -> _Rig:
    phrases = Phrasebook()
    questions = ["What is the capital of France?", "Tell me about the weather",
                 "How far away is the moon?", "Why is the sky blue?"]  # fmt: skip
    utterances = [phrases.audio(q, 0.4) for q in questions]
    chat = FakeChat(reply=["Sure, ", "here is ", "a short ", "answer. ", "And one ",
                           "more sentence ", "to say."], delay=0.002)  # fmt: skip
    voice = FakeVoice(seconds_per_char=0.005)
    transcriber = FakeTranscriber(phrases)
    for engine in (chat, voice, transcriber):
        engine.calls.keep = False  # a soak must not grow its own call logs
    source = FeedSource()
    player = Player(voice.sample_rate, simulated=True, realtime=False, keep=False)
    conversation = Conversation(vad=FakeVad(), transcriber=transcriber, chat=chat,
                                voice=voice, config=config, source=lambda: source,
                                player=player)  # fmt: skip
    return _Rig(conversation, source, player, utterances, chat)


def _real_rig(config: Config, engines: Any, questions: list[Path]) -> _Rig:
    source = FeedSource()
    player = Player(engines.voice.sample_rate, simulated=True, realtime=False, keep=False)
    conversation = Conversation.from_engines(engines, config=config, source=lambda: source,
                                             player=player)  # fmt: skip
    utterances = [read_audio(q).at_rate(ASR_RATE).samples for q in questions]
    return _Rig(conversation, source, player, utterances, engines.chat)


FILL_MARGIN = 200
"""Tokens left free by the warm-up's context-filling message (system prompt, template)."""


def _context_filler(chat: ChatModel, reply_tokens: int) -> str:
    """A message that nearly fills the real model's context window.

    A conversation takes turns to reach the end of the context window; until it does,
    llama.cpp touches KV-cache pages it has never used (SmolLM2-135M at 2,048 tokens:
    ~50 MB, a one-time step about 40 turns in). The warm-up sends one long message, so
    that step falls inside it and what follows measures the pipeline, not the cache."""
    budget = chat.context_size - reply_tokens - FILL_MARGIN
    line = "Here is one more line of the long note I am reading to you. "
    per_line = max(1, chat.count_tokens([Message("user", line * 8)]) // 8)
    lines = max(1, budget // per_line)
    while lines > 1 and chat.count_tokens([Message("user", line * lines)]) > budget:
        lines -= 1
    return line * lines + "Say only: noted."


def run_soak(
    config: Config,
    options: SoakOptions,
    *,
    engines: Any = None,
    questions: list[Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SoakReport:
    """Run the soak: on the scripted engines, or on ``engines`` (loaded
    :class:`~assistant.engines.Engines`) speaking ``questions``."""
    say = progress or (lambda line: None)
    real = engines is not None
    rig = _real_rig(config, engines, questions or []) if real else _fake_rig(config)
    checker = _TurnChecker()
    rig.conversation.subscribe(checker)
    every = max(1, options.turns // max(1, options.samples))
    warm_turns = max(1, options.turns // 10)
    samples: list[SoakSample] = []
    warm_sample = 0
    barge_ins = 0
    fills = 0
    filler = _context_filler(rig.chat, config.llm.max_tokens) if real else None
    started = time.perf_counter()
    rig.conversation.start()
    try:
        samples.append(_sample(0))
        expected = 0
        for i in range(options.turns):
            if i == warm_turns:
                samples.append(_sample(i))
                warm_sample = len(samples) - 1
            # The history grows by design, so conversations are closed now and then; the
            # first close falls inside the warm-up, with the first barge-in, so that every
            # kind of event has happened once before memory is expected to stay flat
            # (then one message fills the context window: see _context_filler).
            if i and (i % NEW_CONVERSATION_EVERY == 0 or i == warm_turns // 2):
                rig.conversation.new_conversation()
            if i == warm_turns // 2 and filler is not None:
                rig.conversation.send_text(filler)
                expected += 1
                fills += 1
                # A whole window to read: let it finish before the next turn barges in.
                checker.wait(expected, options.turn_timeout * 3)
                rig.conversation.wait_idle(options.turn_timeout * 3)
            cut = options.barge_in_every > 0 and (i + 1) % options.barge_in_every == 0
            if cut:
                barge_ins += 1
                checker.replying.clear()
                rig.conversation.send_text("Tell me a long story.")
                checker.replying.wait(options.turn_timeout)  # cut it mid-reply
                rig.conversation.send_text("Stop. What time is it?")
                expected += 2
            else:
                rig.source.feed(rig.utterances[i % len(rig.utterances)], silence(1.0))
                rig.source.settle(options.turn_timeout)
                expected += 1
            if not checker.wait(expected, options.turn_timeout):
                checker.problems.append(f"turn {i + 1}: no TurnMetrics within "
                                        f"{options.turn_timeout:.0f} s")  # fmt: skip
                break
            rig.conversation.wait_idle(options.turn_timeout)
            if (i + 1) % every == 0 and i + 1 != warm_turns:
                samples.append(_sample(i + 1))
                last = samples[-1]
                say(f"{i + 1} turns: rss {last.rss_mb or 0:.0f} MiB, {last.threads} threads, "
                    f"{last.fds} fds")  # fmt: skip
    finally:
        rig.conversation.stop()
        rig.player.close()
    if samples[-1].turn != options.turns:
        samples.append(_sample(checker.finished))
    return SoakReport(
        engines="real" if real else "fake",
        turns_asked=options.turns + barge_ins + fills,
        turns_completed=checker.finished,
        barge_ins=checker.interrupted,
        seconds=time.perf_counter() - started,
        samples=samples,
        warm_sample=warm_sample,
        problems=checker.problems,
        machine=machine_info(),
    )
