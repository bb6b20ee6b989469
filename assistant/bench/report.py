"""The figures ``assistant bench engines`` and ``assistant bench latency`` report, and the
machine they were taken on (``bench latency``'s own in :mod:`.latency_report`)."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from .latency_report import (
    BARGE_IN_GOAL_S,
    CONVERSATION_P50_GOAL_S,
    CONVERSATION_RATIO_GOAL,
    LATENCY_METHOD,
    RATIO_GOAL,
    LatencyOptions,
    LatencyReport,
    LatencyTurn,
    MemoryUse,
    percentile,
)

__all__ = [
    "BARGE_IN_GOAL_S",
    "CONVERSATION_P50_GOAL_S",
    "CONVERSATION_RATIO_GOAL",
    "LATENCY_METHOD",
    "RATIO_GOAL",
    "BenchOptions",
    "EngineBench",
    "EnginesReport",
    "LatencyOptions",
    "LatencyReport",
    "LatencyTurn",
    "MachineInfo",
    "MemoryUse",
    "Metric",
    "machine_info",
    "percentile",
]

DEFAULT_SPEECH_TEXT = (
    "The quick brown fox jumps over the lazy dog, then runs back home across the wide "
    "green field before the sun goes down."
)
DEFAULT_VOICE_TEXT = (
    "Rainbows form when sunlight passes through falling raindrops. Each drop bends the "
    "light and splits it into its colours. That is why you often see one after a storm."
)
DEFAULT_PROMPT = "Explain in a few sentences how a rainbow forms."

_PACKAGES = (
    "offline-voice-assistant",
    "faster-whisper",
    "ctranslate2",
    "llama_cpp_python",
    "piper-tts",
    "onnxruntime",
    "numpy",
)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how often."""

    repeats: int = 5
    """Timed rounds per side, after one warm-up each; figures are medians."""
    llm_tokens: int = 128
    """Longest LLM reply (``max_tokens``); decoding is greedy, so both sides agree."""
    prompt: str = DEFAULT_PROMPT
    """The user message sent to the LLM (after the config's system prompt)."""
    speech_text: str = DEFAULT_SPEECH_TEXT
    """Spoken by the voice to make the ASR input (about 7 s of speech)."""
    voice_text: str = DEFAULT_VOICE_TEXT
    """What the TTS benchmark synthesizes (three sentences)."""
    seed: int = 0
    """LLM sampling seed (irrelevant at temperature 0, passed for completeness)."""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, not {self.repeats}")
        if self.llm_tokens < 2:
            raise ValueError(f"llm_tokens must be at least 2, not {self.llm_tokens}")


@dataclass(frozen=True)
class Metric:
    """One figure of one engine: every round of ours and of the raw call."""

    name: str
    """Short machine name, e.g. ``rtf`` or ``tokens_per_s``."""
    unit: str
    """``s``, ``x`` (a ratio of seconds to seconds) or ``tok/s``."""
    higher_is_better: bool
    """True for rates (tokens/s), False for times and real-time factors."""
    ours_runs: tuple[float, ...]
    """Each round through our wrapper."""
    raw_runs: tuple[float, ...]
    """Each round of the raw library call."""

    @property
    def ours(self) -> float:
        """Median over the rounds through our wrapper."""
        return statistics.median(self.ours_runs)

    @property
    def raw(self) -> float:
        """Median over the rounds of the raw library call."""
        return statistics.median(self.raw_runs)

    @property
    def ratio(self) -> float:
        """How much slower ours is: ours/raw for times, raw/ours for rates, so that
        above 1 always means our wrapper is slower."""
        num, den = (self.raw, self.ours) if self.higher_is_better else (self.ours, self.raw)
        return num / den if den > 0 else math.inf

    @property
    def spread(self) -> float:
        """Slowest over fastest round of the noisier side, minus 1: how much the rounds
        varied (0.1 = 10%). A busy machine shows here before it shows in the ratio."""
        return max(max(runs) / min(runs) for runs in (self.ours_runs, self.raw_runs)) - 1.0


@dataclass(frozen=True)
class EngineBench:
    """The figures of one engine."""

    engine: str
    """``asr``, ``llm`` or ``tts``."""
    model: str
    """Model id (or file name) that was measured."""
    workload: str
    """What was processed, in words."""
    metrics: tuple[Metric, ...]
    """The figures."""
    same_output: bool | None
    """Whether ours and raw produced the same text (``None`` where the output is
    random by design, as VITS audio is)."""


@dataclass(frozen=True)
class MachineInfo:
    """Where the figures were taken."""

    cpu_count: int
    """Logical CPUs."""
    cpu: str
    """CPU model name, where the OS tells it."""
    python: str
    """Python version."""
    platform: str
    """OS and architecture."""
    versions: dict[str, str] = field(default_factory=dict)
    """Versions of this package and the engine libraries."""


@dataclass(frozen=True)
class EnginesReport:
    """Everything ``assistant bench engines`` measured."""

    engines: tuple[EngineBench, ...]
    """One entry per engine."""
    machine: MachineInfo
    """The machine."""
    options: BenchOptions
    """How it was measured."""

    def worst_ratio(self) -> float:
        """The largest ours/raw ratio over every figure."""
        return max(m.ratio for e in self.engines for m in e.metrics)

    def within(self, limit: float = 1.05) -> bool:
        """Whether every ratio is at most ``limit``."""
        return self.worst_ratio() <= limit

    def to_dict(self) -> dict[str, Any]:
        """``{engine: {metric: {ours, raw, ratio, ...}}, "machine": {...},
        "settings": {...}}``; each metric also has its ``spread`` and every round."""
        out: dict[str, Any] = {
            e.engine: {
                m.name: {
                    "ours": m.ours,
                    "raw": m.raw,
                    "ratio": m.ratio,
                    "spread": m.spread,
                    "ours_runs": list(m.ours_runs),
                    "raw_runs": list(m.raw_runs),
                }
                for m in e.metrics
            }
            for e in self.engines
        }
        out["machine"] = {
            "cpu_count": self.machine.cpu_count,
            "cpu": self.machine.cpu,
            "python": self.machine.python,
            "platform": self.machine.platform,
            "versions": dict(self.machine.versions),
        }
        out["settings"] = {
            "repeats": self.options.repeats,
            "llm_tokens": self.options.llm_tokens,
            "models": {e.engine: e.model for e in self.engines},
        }
        return out


def machine_info() -> MachineInfo:
    """This machine and the installed engine libraries."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return MachineInfo(
        cpu_count=os.cpu_count() or 1,
        cpu=_cpu_name(),
        python=sys.version.split()[0],
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        versions=versions,
    )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
