"""``eval``: how intelligible a voice is, by ASR word error rate on held-out sentences,
and how much it sounds like the person recorded, by speaker similarity to their held-out
recordings (:mod:`.similarity`), for one or several checkpoints, the base voice a
fine-tune started from, and optionally the exported ONNX voice."""

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
    similarity: float | None = None
    """Mean cosine of speaker embeddings to the recorded speaker's held-out recordings
    (``None`` when no recordings were given)."""


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


def torch_synthesize(
    model: Any, text: str, language: str, state: dict[str, Any] | None = None
) -> np.ndarray:
    """Speech for ``text`` from a Coqui ``Vits`` in eval mode (float32, ``(n,)``); a
    fine-tune of a Piper voice (``state`` of its checkpoint) reads Piper's ids."""
    import torch

    if state is not None and state.get("piper"):
        from .infer import synthesize_ids
        from .piper_tokens import PiperTokenizer

        inf = state["piper"].get("inference", {})
        ids = PiperTokenizer(state["piper"]).ids(text)
        sid = torch.tensor([state["speaker"]]) if state.get("speaker") is not None else None
        scales = [inf.get("noise_scale", 0.667), inf.get("length_scale", 1.0)]
        with torch.inference_mode():
            out = synthesize_ids(
                model,
                torch.tensor([ids]),
                torch.tensor([len(ids)]),
                torch.tensor([*scales, inf.get("noise_w", 0.8)]),
                sid,
            )
        return out.reshape(-1).float().cpu().numpy()
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
    references: list[Path] | None = None,
    base: Path | None = None,
) -> EvalReport:
    """Synthesize ``sentences`` with each checkpoint (and the base Piper voice, and the
    ONNX voice), transcribe them and score; with ``references`` (the speaker's own
    recordings) also speaker similarity. Writes ``eval.json``, ``eval.png`` and the
    samples under ``output_dir``."""
    from .model import load_model

    output_dir = Path(output_dir)
    report = EvalReport(list(sentences))
    sim: tuple[Any, np.ndarray] | None = None
    if references:
        from .similarity import SpeakerEncoder

        encoder = SpeakerEncoder()
        sim = (encoder, encoder.centroid(references))
    if base is not None:
        import piper

        voice_b = piper.PiperVoice.load(str(base))
        report.scores.append(
            _score(
                "base",
                0,
                sentences,
                transcriber,
                output_dir,
                voice_b.config.sample_rate,
                lambda text: np.concatenate(
                    [c.audio_float_array for c in voice_b.synthesize(text)]
                ),
                sim,
            )
        )
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
                lambda text, m=model, lang=language, st=state: torch_synthesize(m, text, lang, st),
                sim,
            )
        )
    if onnx is not None:
        from assistant.tts.vits import VitsVoice, is_vits_config

        config = json.loads(Path(f"{onnx}.json").read_text(encoding="utf-8"))
        if is_vits_config(Path(f"{onnx}.json")):
            voice = VitsVoice(onnx, device="cpu")
            rate = voice.sample_rate
            synth: Any = lambda text: voice.synthesize_ids(voice.token_ids(text))  # noqa: E731
        else:
            import piper

            voice_p = piper.PiperVoice.load(str(onnx))
            rate = voice_p.config.sample_rate
            synth = lambda text: np.concatenate(  # noqa: E731
                [c.audio_float_array for c in voice_p.synthesize(text)]
            )
        report.scores.append(
            _score(
                "onnx",
                int(config.get("training", {}).get("step", 0)),
                sentences,
                transcriber,
                output_dir,
                rate,
                synth,
                sim,
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
    sim: tuple[Any, np.ndarray] | None = None,
) -> CheckpointScore:
    heard, wers, sims = [], [], []
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
        if sim is not None:
            sims.append(sim[0].similarity(audio.samples, rate, sim[1]))
    return CheckpointScore(
        name=name,
        step=step,
        wer=float(np.mean(wers)) if wers else 1.0,
        real_time_factor=took / produced if produced else 0.0,
        seconds=produced,
        heard=heard,
        similarity=float(np.mean(sims)) if sims else None,
    )


def _plot(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_sim = any(s.similarity is not None for s in report.scores)
    width = max(4, 1.2 * len(report.scores) + 2)
    fig, axes = plt.subplots(1, 2 if with_sim else 1, figsize=(width * (2 if with_sim else 1), 3.5))
    ax = axes[0] if with_sim else axes
    names = [f"{s.name}\n(step {s.step})" for s in report.scores]
    ax.bar(names, [s.wer for s in report.scores], color="#4a7ebb")
    ax.set_ylabel("word error rate (ASR)")
    ax.set_ylim(0, max(1.0, *(s.wer for s in report.scores)) if report.scores else 1.0)
    ax.set_title(f"Intelligibility on {len(report.sentences)} held-out sentences")
    if with_sim:
        ax2 = axes[1]
        ax2.bar(names, [s.similarity or 0.0 for s in report.scores], color="#bb7e4a")
        ax2.set_ylabel("speaker similarity (cosine)")
        ax2.set_ylim(0, 1)
        ax2.set_title("Like the recorded speaker (GE2E)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
