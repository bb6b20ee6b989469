"""``eval``: how intelligible a voice is, by ASR word error rate on held-out sentences,
for one or several checkpoints (and optionally the exported ONNX voice)."""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import Audio, write_wav
from assistant.fsutil import atomic_write_bytes, atomic_write_text
from assistant.text.wer import word_error_rate
from assistant.tts.vits import phonemize

__all__ = ["CheckpointScore", "EvalReport", "evaluate", "torch_synthesize"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointScore:
    """One voice's scores on the sentences."""

    name: str
    """Checkpoint file name (or ``onnx``)."""
    step: int
    """Training step of the checkpoint."""
    wer: float
    """Mean word error rate over the sentences (0 = every word understood)."""
    real_time_factor: float
    """Synthesis seconds per second of audio."""
    seconds: float
    """Audio produced in all."""
    heard: list[str] = field(default_factory=list)
    """What ASR heard, sentence by sentence."""


@dataclass
class EvalReport:
    """Scores of every voice evaluated."""

    sentences: list[str]
    scores: list[CheckpointScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (eval.json)."""
        return {"sentences": self.sentences, "scores": [asdict(s) for s in self.scores]}

    @property
    def best(self) -> CheckpointScore | None:
        """The voice with the lowest WER."""
        return min(self.scores, key=lambda s: s.wer) if self.scores else None


def torch_synthesize(model: Any, text: str, language: str) -> np.ndarray:
    """Speech for ``text`` from a Coqui ``Vits`` in eval mode (float32, ``(n,)``)."""
    import torch

    ids = model.tokenizer.text_to_ids(phonemize(text, language))
    tokens = torch.tensor([ids], dtype=torch.long)  # (1, T)
    with torch.inference_mode():
        out = model.inference(tokens, aux_input={"x_lengths": torch.tensor([tokens.shape[1]])})
    return out["model_outputs"].reshape(-1).float().cpu().numpy()  # (1, 1, n) -> (n,)


def evaluate(
    checkpoints: list[Path],
    sentences: list[str],
    transcriber: Any,
    output_dir: Path,
    *,
    onnx: Path | None = None,
) -> EvalReport:
    """Synthesize ``sentences`` with each checkpoint (and the ONNX voice), transcribe them
    and score; writes ``eval.json``, ``eval.png`` and the samples under ``output_dir``."""
    from .model import load_model

    output_dir = Path(output_dir)
    report = EvalReport(list(sentences))
    for checkpoint in checkpoints:
        model, state = load_model(checkpoint)
        language = str(state.get("language", "en-us"))
        rate = int(model.config.audio.sample_rate)
        name = Path(checkpoint).stem
        report.scores.append(
            _score(
                name,
                int(state.get("step", 0)),
                sentences,
                transcriber,
                output_dir,
                rate,
                lambda text, m=model, lang=language: torch_synthesize(m, text, lang),
            )
        )
    if onnx is not None:
        from assistant.tts.vits import VitsVoice

        voice = VitsVoice(onnx, device="cpu")
        config = json.loads(Path(f"{onnx}.json").read_text(encoding="utf-8"))
        report.scores.append(
            _score(
                "onnx",
                int(config.get("training", {}).get("step", 0)),
                sentences,
                transcriber,
                output_dir,
                voice.sample_rate,
                lambda text: voice.synthesize_ids(voice.token_ids(text)),
            )
        )
    atomic_write_text(output_dir / "eval.json", json.dumps(report.to_dict(), indent=2))
    _plot(report, output_dir / "eval.png")
    return report


def _score(
    name: str,
    step: int,
    sentences: list[str],
    transcriber: Any,
    output_dir: Path,
    rate: int,
    synth: Any,
) -> CheckpointScore:
    heard, wers = [], []
    took = produced = 0.0
    if sentences:
        synth(sentences[0])  # warm-up: the first call pays for allocations, not synthesis
    for i, text in enumerate(sentences):
        began = time.perf_counter()
        samples = np.asarray(synth(text), dtype=np.float32)
        took += time.perf_counter() - began
        audio = Audio(np.clip(samples, -1, 1), rate)
        produced += audio.duration
        write_wav(output_dir / "samples" / name / f"{i:02d}.wav", audio)
        said = transcriber.transcribe(audio).text
        heard.append(said)
        wers.append(word_error_rate(text, said))
    return CheckpointScore(
        name=name,
        step=step,
        wer=float(np.mean(wers)) if wers else 1.0,
        real_time_factor=took / produced if produced else 0.0,
        seconds=produced,
        heard=heard,
    )


def _plot(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(report.scores) + 2), 3.5))
    names = [f"{s.name}\n(step {s.step})" for s in report.scores]
    ax.bar(names, [s.wer for s in report.scores], color="#4a7ebb")
    ax.set_ylabel("word error rate (ASR)")
    ax.set_ylim(0, max(1.0, *(s.wer for s in report.scores)) if report.scores else 1.0)
    ax.set_title(f"Intelligibility on {len(report.sentences)} held-out sentences")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
