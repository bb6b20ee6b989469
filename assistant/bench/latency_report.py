"""The figures ``assistant bench latency`` reports: its turns, goals and memory.

Re-exported by :mod:`assistant.bench.report`, which holds the machine they were taken on."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import MachineInfo

__all__ = [
    "BARGE_IN_GOAL_S",
    "CONVERSATION_P50_GOAL_S",
    "CONVERSATION_RATIO_GOAL",
    "LATENCY_METHOD",
    "RATIO_GOAL",
    "LatencyOptions",
    "LatencyReport",
    "LatencyTurn",
    "MemoryUse",
    "percentile",
]


RATIO_GOAL = 0.4
"""Streaming voice-to-voice latency over the sequential baseline's: the most allowed, at
p50 and at p90."""
CONVERSATION_RATIO_GOAL = 0.3
"""The speed of conversation: streaming over baseline at p50, the most allowed."""
CONVERSATION_P50_GOAL_S = 0.65
"""The speed of conversation: streaming voice-to-voice p50, the most allowed."""
BARGE_IN_GOAL_S = 0.1
"""Barge-in stop time at p90: the most allowed, in seconds."""
LATENCY_METHOD = (
    "voice-to-voice = end of the user's speech (the endpointer's estimate) to the first "
    "reply sample handed to the output; both pipelines hear each question in real time "
    "through the same endpointer, so both include its end-of-turn silence wait. streaming: "
    "the live Conversation (speculative turn 60 ms into a pause, which ends sooner than "
    "min_silence_ms when the end-of-turn model finds its transcript finished, later when "
    "it is clearly unfinished; LLM "
    "streamed sentence by sentence into the voice); its reply is stopped once it starts "
    "playing. baseline: after the endpointer's min_silence_ms, transcribe the whole "
    "utterance, generate the whole reply, synthesize all of "
    "it, then play. Same models, temperature 0, same max_tokens and system prompt, no "
    "history. barge-in stop = the VAD's speech onset of the interruption to the output "
    "going silent, as the pipeline measures it (goal); at_output = first loud sample of "
    "the interruption delivered to the end of the last loud block played after it."
)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, interpolating linearly between the
    closest ranks (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class LatencyOptions:
    """How ``assistant bench latency`` measures."""

    repeats: int = 1
    """Rounds over the question set; each round runs both pipelines, the order flipping
    every round."""
    max_tokens: int | None = None
    """Longest reply in tokens; ``None`` keeps the config's ``llm.max_tokens``."""
    barge_ins: int = 5
    """Extra turns in which the user talks over the reply (0: none)."""
    barge_in_after: float = 1.5
    """Seconds after the reply starts playing at which the user barges in."""
    turn_timeout: float = 180.0
    """Longest wait for one step of a turn before the benchmark gives up."""
    documents: Path | None = None
    """A folder of documents: each round also runs the live pipeline answering from an
    index of it (pipeline ``documents``), for the latency retrieval adds."""
    output_device: str | None = None
    """A sound-server sink the barge-in replies play on, its monitor recorded for the
    time to silence at the output (``None``: a simulated player)."""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, not {self.repeats}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {self.max_tokens}")
        if self.barge_ins < 0:
            raise ValueError(f"barge_ins must be 0 or more, not {self.barge_ins}")
        if self.barge_in_after <= 0:
            raise ValueError(f"barge_in_after must be above 0, not {self.barge_in_after}")


@dataclass(frozen=True)
class LatencyTurn:
    """One question through one pipeline."""

    pipeline: str
    """``streaming`` or ``baseline``."""
    question: str
    """The question's file name."""
    round: int
    """Which round (from 1)."""
    heard: str
    """The transcript."""
    reply: str
    """What the model wrote (the streaming reply stops soon after it starts playing)."""
    voice_to_voice: float | None
    """Seconds from the end of the user's speech to the first reply sample reaching the
    output (``None``: no reply, e.g. no words were heard)."""
    steps: dict[str, float] = field(default_factory=dict)
    """Where the time went, seconds from the end of speech: streaming ``transcript``,
    ``first_token``, ``first_sentence``; baseline ``transcript``, ``reply_text`` (all
    of it written), ``reply_audio`` (all of it synthesized)."""
    capture_lag: float = 0.0
    """Streaming: the longest the live capture thread was late in taking a block of
    microphone audio during the turn. The pipeline dates the end of speech by when it
    processed it, so its figure is too small by up to this much."""


@dataclass(frozen=True)
class MemoryUse:
    """The process's memory, in MiB (``None`` where the OS does not tell)."""

    rss_start_mb: float | None
    """Resident set before the engines were loaded."""
    rss_loaded_mb: float | None
    """Resident set with the engines loaded, before measuring."""
    rss_end_mb: float | None
    """Resident set at the end."""
    peak_mb: float
    """Peak resident set of the whole run (``ru_maxrss``)."""


@dataclass(frozen=True)
class LatencyReport:
    """Everything ``assistant bench latency`` measured."""

    turns: tuple[LatencyTurn, ...]
    """Every question through both pipelines."""
    barge_in_stops: tuple[float, ...]
    """Seconds from each barge-in's speech onset to the output going silent."""
    barge_in_at_output: tuple[float, ...]
    """The same, seen from outside the pipeline: from the first loud sample of the
    interruption the source delivered to the end of the last loud block the speaker
    played after it (a cross-check; the goal is judged on :attr:`barge_in_stops`)."""
    barge_ins_tried: int
    """Barge-ins attempted (one whose reply ended before it measures nothing)."""
    memory: MemoryUse
    """Memory use."""
    machine: MachineInfo
    """The machine."""
    options: LatencyOptions
    """How it was measured."""
    min_silence_ms: int
    """The endpointer's end-of-speech silence, included in every voice-to-voice figure."""
    max_tokens: int
    """Longest reply, in tokens."""
    models: dict[str, str]
    """Model id per engine (``vad``, ``asr``, ``llm``, ``voice``)."""
    questions: tuple[str, ...]
    """The question files, in order."""

    def latencies(self, pipeline: str) -> list[float]:
        """Voice-to-voice seconds of every answered turn of ``pipeline``."""
        return [
            t.voice_to_voice
            for t in self.turns
            if t.pipeline == pipeline and t.voice_to_voice is not None
        ]

    def latency(self, pipeline: str, q: float) -> float | None:
        """The ``q``-th percentile of ``pipeline``'s voice-to-voice seconds."""
        values = self.latencies(pipeline)
        return percentile(values, q) if values else None

    def retrieval_added(self, q: float = 50) -> float | None:
        """Voice-to-voice seconds the document index adds at the ``q``-th percentile
        (``documents`` minus ``streaming``, same run), or ``None`` without it."""
        documents, streaming = self.latency("documents", q), self.latency("streaming", q)
        if documents is None or streaming is None:
            return None
        return documents - streaming

    def end_of_turn(self, q: float = 50) -> float | None:
        """The ``q``-th percentile of the streaming pipeline's end-of-turn wait (end of
        speech to the turn taken as finished), or ``None`` without one."""
        values = [
            t.steps["end_of_turn"]
            for t in self.turns
            if t.pipeline == "streaming" and "end_of_turn" in t.steps
        ]
        return percentile(values, q) if values else None

    def retrieval_seconds(self, q: float = 50) -> float | None:
        """The ``q``-th percentile of the search itself on the turn thread."""
        values = [t.steps["retrieval"] for t in self.turns if "retrieval" in t.steps]
        return percentile(values, q) if values else None

    def ratio(self, q: float) -> float | None:
        """Streaming over baseline at the ``q``-th percentile (below 1: streaming wins)."""
        streaming, baseline = self.latency("streaming", q), self.latency("baseline", q)
        if streaming is None or baseline is None or baseline <= 0:
            return None
        return streaming / baseline

    def barge_in(self, q: float, *, at_output: bool = False) -> float | None:
        """The ``q``-th percentile of the barge-in stop times (as the pipeline measures
        them, or ``at_output``)."""
        values = self.barge_in_at_output if at_output else self.barge_in_stops
        return percentile(values, q) if values else None

    @property
    def ratio_goal_met(self) -> bool:
        """Both ratios (p50 and p90) at most :data:`RATIO_GOAL`."""
        ratios = (self.ratio(50), self.ratio(90))
        return all(r is not None and r <= RATIO_GOAL for r in ratios)

    @property
    def conversation_goal_met(self) -> bool:
        """The streaming p50 at most :data:`CONVERSATION_P50_GOAL_S` and at most
        :data:`CONVERSATION_RATIO_GOAL` of the baseline's."""
        p50, ratio = self.latency("streaming", 50), self.ratio(50)
        return (
            p50 is not None
            and ratio is not None
            and p50 <= CONVERSATION_P50_GOAL_S
            and ratio <= CONVERSATION_RATIO_GOAL
        )

    def barge_in_goal_met(self, *, at_output: bool = False) -> bool:
        """Barge-in p90 at most :data:`BARGE_IN_GOAL_S` (as the pipeline measures it, or
        ``at_output``)."""
        p90 = self.barge_in(90, at_output=at_output)
        return p90 is not None and p90 <= BARGE_IN_GOAL_S

    def to_dict(self) -> dict[str, Any]:
        """Summary figures (seconds), goals, every turn, memory, settings and machine."""
        out: dict[str, Any] = {}
        for pipeline in ("streaming", "baseline", "documents"):
            turns = [t for t in self.turns if t.pipeline == pipeline]
            if pipeline == "documents" and not turns:
                continue
            out[pipeline] = {
                "p50_s": self.latency(pipeline, 50),
                "p90_s": self.latency(pipeline, 90),
                "answered": len(self.latencies(pipeline)),
                "turns": [
                    {
                        "question": t.question,
                        "round": t.round,
                        "heard": t.heard,
                        "reply": t.reply,
                        "voice_to_voice_s": t.voice_to_voice,
                        "steps_s": dict(t.steps),
                        "capture_lag_s": t.capture_lag,
                    }
                    for t in turns
                ],
            }
        out["ratio"] = {"p50": self.ratio(50), "p90": self.ratio(90)}
        out["end_of_turn"] = {"p50_s": self.end_of_turn(50), "p90_s": self.end_of_turn(90)}
        if self.options.documents is not None:
            out["documents_added"] = {
                "folder": str(self.options.documents),
                "voice_to_voice_p50_s": self.retrieval_added(50),
                "retrieval_p50_s": self.retrieval_seconds(50),
                "retrieval_p90_s": self.retrieval_seconds(90),
            }
        out["barge_in"] = {
            "tried": self.barge_ins_tried,
            "measured": len(self.barge_in_stops),
            "p50_s": self.barge_in(50),
            "p90_s": self.barge_in(90),
            "stops_s": list(self.barge_in_stops),
            "at_output": {
                "measured": len(self.barge_in_at_output),
                "p50_s": self.barge_in(50, at_output=True),
                "p90_s": self.barge_in(90, at_output=True),
                "stops_s": list(self.barge_in_at_output),
            },
        }
        out["goals"] = {
            "ratio_max": RATIO_GOAL,
            "ratio_met": self.ratio_goal_met,
            "conversation_ratio_p50_max": CONVERSATION_RATIO_GOAL,
            "conversation_p50_max_s": CONVERSATION_P50_GOAL_S,
            "conversation_met": self.conversation_goal_met,
            "barge_in_p90_max_s": BARGE_IN_GOAL_S,
            "barge_in_met": self.barge_in_goal_met(),
            "barge_in_at_output_met": self.barge_in_goal_met(at_output=True),
        }
        out["memory"] = {
            "rss_start_mb": self.memory.rss_start_mb,
            "rss_loaded_mb": self.memory.rss_loaded_mb,
            "rss_end_mb": self.memory.rss_end_mb,
            "peak_mb": self.memory.peak_mb,
        }
        out["settings"] = {
            "method": LATENCY_METHOD,
            "min_silence_ms": self.min_silence_ms,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
            "repeats": self.options.repeats,
            "barge_ins": self.options.barge_ins,
            "barge_in_after_s": self.options.barge_in_after,
            "output_device": self.options.output_device,
            "questions": list(self.questions),
            "models": dict(self.models),
        }
        out["machine"] = dataclasses.asdict(self.machine)
        return out
