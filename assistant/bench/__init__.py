"""Benchmarks: how fast the engines run on this machine, and what our wrappers cost."""

from .engines import (
    BenchOptions,
    EngineBench,
    EnginesReport,
    MachineInfo,
    Metric,
    bench_asr,
    bench_llm,
    bench_tts,
    machine_info,
    make_speech,
    run_engines_bench,
)

__all__ = [
    "BenchOptions",
    "EngineBench",
    "EnginesReport",
    "MachineInfo",
    "Metric",
    "bench_asr",
    "bench_llm",
    "bench_tts",
    "machine_info",
    "make_speech",
    "run_engines_bench",
]
