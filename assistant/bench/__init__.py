"""Benchmarks: how fast the engines run on this machine, what our wrappers cost, and how
soon the live pipeline answers compared with a sequential one."""

from .engine_speed import bench_asr, bench_llm, bench_tts, make_speech, run_engines_bench
from .latency import find_questions, run_latency_bench
from .report import (
    BenchOptions,
    EngineBench,
    EnginesReport,
    LatencyOptions,
    LatencyReport,
    LatencyTurn,
    MachineInfo,
    MemoryUse,
    Metric,
    machine_info,
)

__all__ = [
    "BenchOptions",
    "EngineBench",
    "EnginesReport",
    "LatencyOptions",
    "LatencyReport",
    "LatencyTurn",
    "MachineInfo",
    "MemoryUse",
    "Metric",
    "bench_asr",
    "bench_llm",
    "bench_tts",
    "find_questions",
    "machine_info",
    "make_speech",
    "run_engines_bench",
    "run_latency_bench",
]
