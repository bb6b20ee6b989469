"""``assistant train voice bench``: training speed of a preset and the exported ONNX
voice's real-time factor beside the PyTorch model's, measured in the same run on a small
dataset spoken by the configured voice."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BenchOptions", "run_bench"]

_RTF_SENTENCES = (
    "The weather forecast promised sunshine, but it rained all afternoon.",
    "Please remind me to call the doctor at half past nine tomorrow.",
    "Light travels much faster than sound.",
)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure."""

    steps: int = 6
    """Training steps timed (after one warm-up step)."""
    preset: str = "tiny"
    """Preset trained."""
    utterances: int = 12
    """Clips generated for the dataset."""
    device: str = "auto"
    """Training device."""


def run_bench(options: BenchOptions, config: Any, store: Any) -> dict[str, Any]:
    """Run the benchmark; returns the figures as plain data."""
    import torch

    from assistant.audio import write_wav
    from assistant.engines import load_vad, load_voice
    from assistant.tts import synthesize_all
    from assistant.tts.vits import VitsVoice

    from .evaluate import torch_synthesize
    from .export import export_voice
    from .fit import StepReport, VoiceFitOptions, fit
    from .model import load_model
    from .phonemes import prompt_list
    from .prepare import PrepareOptions, prepare

    with tempfile.TemporaryDirectory(prefix="voice-bench-") as tmp:
        root = Path(tmp)
        voice = load_voice(config, store)
        rows = []
        for i, text in enumerate(prompt_list()[: options.utterances]):
            write_wav(root / "rec" / f"p{i:03d}.wav", synthesize_all(voice, text))
            rows.append(f"p{i:03d}|{text}")
        (root / "rec" / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        prepare(
            PrepareOptions(root / "rec", root / "data", asr_check=False),
            load_vad(config, store),
            None,
        )

        times: list[float] = []

        def on_step(report: StepReport) -> None:
            times.append(time.perf_counter())

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        result = fit(
            VoiceFitOptions(
                root / "data",
                root / "run",
                preset=options.preset,
                steps=options.steps + 1,
                checkpoint_every=options.steps + 1,
                device=options.device,
            ),
            on_step=on_step,
        )
        timed = times[1:]  # the first step pays for allocation and warm-up
        steps_per_s = (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else 0.0
        gpu_mem = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None

        exported = export_voice(result.checkpoint, root / "voice", "bench-voice")
        model, state = load_model(result.checkpoint)
        onnx_voice = VitsVoice(exported.onnx, device="cpu")
        language = str(state.get("language", "en-us"))
        torch_rtf = _rtf(
            lambda t: torch_synthesize(model, t, language), model.config.audio.sample_rate
        )
        onnx_rtf = _rtf(
            lambda t: onnx_voice.synthesize_ids(onnx_voice.token_ids(t)), onnx_voice.sample_rate
        )
    return {
        "preset": options.preset,
        "device": "cuda" if torch.cuda.is_available() and options.device != "cpu" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "train_steps_timed": max(0, len(timed) - 1),
        "train_steps_per_s": round(steps_per_s, 4),
        "train_s_per_step": round(1 / steps_per_s, 3) if steps_per_s else None,
        "gpu_peak_memory_gib": round(gpu_mem, 3) if gpu_mem is not None else None,
        "pytorch_rtf": round(torch_rtf, 4),
        "onnx_rtf": round(onnx_rtf, 4),
        "onnx_speedup": round(torch_rtf / onnx_rtf, 2) if onnx_rtf else None,
    }


def _rtf(synth: Any, rate: int, rounds: int = 3) -> float:
    """Best-of-``rounds`` synthesis seconds per second of audio over the sentences."""
    synth(_RTF_SENTENCES[0])  # warm-up
    best = float("inf")
    for _ in range(rounds):
        took = produced = 0.0
        for text in _RTF_SENTENCES:
            began = time.perf_counter()
            samples = np.asarray(synth(text))
            took += time.perf_counter() - began
            produced += len(samples) / rate
        best = min(best, took / produced if produced else float("inf"))
    return best
