"""The training data loader: recordings read with soundfile (no FFmpeg, no torchcodec),
resampled once to the voice's rate, held in memory, batched in Coqui's batch layout.

Coqui's own ``VitsDataset`` reads every clip through ``torchaudio.load`` on every epoch,
which needs torchcodec and FFmpeg at run time and keeps a GPU waiting on file reads.
A voice dataset is small (20 minutes at 22 kHz is about 100 MB of float32), so every clip
is decoded once here and each batch is only a copy into padded tensors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError

__all__ = ["Clip", "ClipDataset", "collate", "make_loader", "read_clip"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """One training example."""

    id: str
    text: str
    token_ids: list[int]
    wav: Path


def read_clip(path: Path, rate: int) -> tuple[np.ndarray, int]:
    """(mono float32 samples at ``rate``, the file's own rate)."""
    import soundfile as sf

    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AssistantError(f"{path} is not readable audio ({exc})") from exc
    samples = data.mean(axis=1)
    if file_rate != rate:
        from scipy.signal import resample_poly

        g = gcd(int(file_rate), int(rate))
        samples = resample_poly(samples, rate // g, file_rate // g).astype(np.float32)
    return np.clip(samples, -1.0, 1.0), int(file_rate)


class ClipDataset:
    """Clips decoded once (``torch.utils.data.Dataset`` protocol)."""

    def __init__(self, clips: Sequence[Clip], rate: int) -> None:
        self.clips = list(clips)
        self.rate = rate
        self.audio: list[np.ndarray] = []
        resampled: set[int] = set()
        for clip in self.clips:
            samples, file_rate = read_clip(clip.wav, rate)
            if file_rate != rate:
                resampled.add(file_rate)
            self.audio.append(samples)
        if resampled:
            log.warning(
                "recordings at %s Hz resampled to the voice's %d Hz",
                ", ".join(str(r) for r in sorted(resampled)),
                rate,
            )
        self.resampled_from = sorted(resampled)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        clip = self.clips[idx]
        return {"clip": clip, "wav": self.audio[idx]}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Coqui ``VitsDataset.collate_fn``'s batch layout (tokens padded with 0)."""
    import torch

    n = len(items)
    tokens = [it["clip"].token_ids for it in items]
    token_lens = torch.tensor([len(t) for t in tokens], dtype=torch.long)
    wav_lens = torch.tensor([len(it["wav"]) for it in items], dtype=torch.long)
    token_pad = torch.zeros(n, int(token_lens.max()), dtype=torch.long)
    wav_pad = torch.zeros(n, 1, int(wav_lens.max()), dtype=torch.float32)
    for i, it in enumerate(items):
        token_pad[i, : len(tokens[i])] = torch.tensor(tokens[i], dtype=torch.long)
        wav_pad[i, 0, : len(it["wav"])] = torch.from_numpy(it["wav"])
    return {
        "tokens": token_pad,
        "token_lens": token_lens,
        "token_rel_lens": token_lens / token_lens.max(),
        "waveform": wav_pad,
        "waveform_lens": wav_lens,
        "waveform_rel_lens": wav_lens / wav_lens.max(),
        "speaker_names": ["speaker"] * n,
        "language_names": [None] * n,
        "audio_files": [it["clip"].wav.name for it in items],
        "raw_text": [it["clip"].text for it in items],
        "audio_unique_names": [it["clip"].id for it in items],
    }


def make_loader(
    dataset: ClipDataset,
    batch_size: int,
    *,
    seed: int,
    world: int = 1,
    rank: int = 0,
    workers: int = 0,
    pin_memory: bool = False,
    collate_fn: Callable[[list[dict[str, Any]]], dict[str, Any]] = collate,
) -> Any:
    """A shuffling loader; under several processes each reads its own shard."""
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    generator = torch.Generator().manual_seed(seed)
    sampler: Any = (
        DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)  # type: ignore[arg-type]
        if world > 1
        else None
    )
    return DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        collate_fn=collate_fn,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        drop_last=False,
    )
