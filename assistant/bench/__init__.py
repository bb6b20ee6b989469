"""Benchmarks: how fast the engines run on this machine, and what our wrappers cost."""

from .engines import bench_asr, bench_llm, bench_tts, make_speech, run_engines_bench
from .report import BenchOptions, EngineBench, EnginesReport, MachineInfo, Metric, machine_info

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
