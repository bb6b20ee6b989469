"""Step-0 parity: a Piper voice imported into the training model, before any training
step, speaks like the voice itself.

With the noise scales at zero both are deterministic, so the same phoneme ids must give
the same samples up to float32 rounding (onnxruntime and torch order their sums
differently). Measured per sentence: waveform correlation, the log-mel distance between
them (beside the ONNX voice's own distance to a copy with float32-sized noise, which is
what rounding explains), and, with a transcriber, ASR word error rate of each.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import Audio
from assistant.text.wer import word_error_rate

__all__ = ["PARITY_SENTENCES", "ParityReport", "piper_ids", "step0_parity"]

log = logging.getLogger(__name__)

PARITY_SENTENCES = (
    "The weather forecast promised sunshine, but it rained all afternoon.",
    "Please remind me to call the doctor at half past nine tomorrow.",
    "Light travels much faster than sound.",
    "She sells sea shells by the sea shore.",
    "Turn off the kitchen lights and lock the back door.",
    "How many minutes are left on the timer?",
    "The quick brown fox jumps over the lazy dog.",
    "Our train leaves from platform four at seven fifteen.",
    "Could you read me the first chapter of that book?",
    "Every morning I drink a cup of strong black coffee.",
)
"""Ten fixed sentences (everyday assistant speech, varied phonemes)."""


@dataclass
class ParityReport:
    """Per-sentence and overall figures."""

    voice: str
    correlations: list[float] = field(default_factory=list)
    mel_distances: list[float] = field(default_factory=list)
    rounding_mel_distance: float = 0.0
    """Log-mel distance a float32-sized perturbation of the ONNX audio causes."""
    length_mismatches: int = 0
    wer_onnx: float | None = None
    wer_torch: float | None = None
    seconds: float = 0.0

    @property
    def min_correlation(self) -> float:
        return min(self.correlations) if self.correlations else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["min_correlation"] = self.min_correlation
        return data


def piper_ids(voice: Any, text: str) -> list[int]:
    """Phoneme ids of ``text`` the way Piper speaks it (all its sentences as one)."""
    phonemes: list[str] = []
    for sentence in voice.phonemize(text):
        if phonemes:
            phonemes.append(" ")
        phonemes.extend(sentence)
    return list(voice.phonemes_to_ids(phonemes))


def _log_mel(samples: np.ndarray, rate: int) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples.astype(np.float32), sr=rate, n_fft=1024, hop_length=256, n_mels=80
    )
    return np.log(np.maximum(mel, 1e-5))


def _mel_distance(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    n = min(len(a), len(b))
    return float(np.mean(np.abs(_log_mel(a[:n], rate) - _log_mel(b[:n], rate))))


def step0_parity(
    onnx_path: Path,
    *,
    sentences: tuple[str, ...] | list[str] = PARITY_SENTENCES,
    transcriber: Any = None,
    speaker: int | None = None,
) -> ParityReport:
    """Import the voice at ``onnx_path``, then speak ``sentences`` with both, noise off."""
    import piper
    import torch

    from .infer import synthesize_ids
    from .piper_base import model_from_piper, read_piper_voice

    began = time.monotonic()
    base = read_piper_voice(onnx_path)
    _, _, model = model_from_piper(base, Path(onnx_path).parent, discriminator=False)
    model.eval()
    voice = piper.PiperVoice.load(str(onnx_path), config_path=f"{onnx_path}.json")
    rate = base.sample_rate
    report = ParityReport(voice=Path(onnx_path).name)
    heard_onnx: list[float] = []
    heard_torch: list[float] = []
    rng = np.random.default_rng(0)
    rounding: list[float] = []
    for text in sentences:
        ids = piper_ids(voice, text)
        feeds: dict[str, Any] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
        }
        sid = None
        if base.num_speakers > 1:
            feeds["sid"] = np.array([speaker or 0], dtype=np.int64)
            sid = torch.tensor([speaker or 0])
        ref = voice.session.run(None, feeds)[0].reshape(-1)
        with torch.inference_mode():
            out = synthesize_ids(
                model,
                torch.tensor([ids]),
                torch.tensor([len(ids)]),
                torch.tensor([0.0, 1.0, 0.0]),
                sid,
            )
        got = out.reshape(-1).numpy()
        if len(got) != len(ref):
            report.length_mismatches += 1
        n = min(len(got), len(ref))
        report.correlations.append(float(np.corrcoef(ref[:n], got[:n])[0, 1]))
        report.mel_distances.append(_mel_distance(ref, got, rate))
        eps = np.finfo(np.float32).eps * np.maximum(np.abs(ref), 1e-3)
        rounding.append(_mel_distance(ref, ref + eps * rng.standard_normal(len(ref)), rate))
        if transcriber is not None:
            for samples, bucket in ((ref, heard_onnx), (got, heard_torch)):
                said = transcriber.transcribe(Audio(np.clip(samples, -1, 1), rate)).text
                bucket.append(word_error_rate(text, said))
    report.rounding_mel_distance = float(np.mean(rounding))
    if transcriber is not None:
        report.wer_onnx = float(np.mean(heard_onnx))
        report.wer_torch = float(np.mean(heard_torch))
    report.seconds = time.monotonic() - began
    log.info(
        "step-0 parity of %s: min correlation %.5f, mel distance %.2e (rounding %.2e)",
        report.voice,
        report.min_correlation,
        max(report.mel_distances),
        report.rounding_mel_distance,
    )
    return report
