"""Reading any audio file into float32 mono at the rate an engine wants, and writing WAVs.

Every engine takes float32 samples in [-1, 1], shape ``(n,)``; the rate travels with
the samples in :class:`Audio`, so nothing has to guess it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AudioFormatError
from ..fsutil import atomic_open

__all__ = ["ASR_RATE", "Audio", "read_audio", "resample", "to_mono", "write_wav"]

log = logging.getLogger(__name__)

ASR_RATE = 16_000
"""Sample rate of the VAD and speech recognition (Hz)."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples with their rate."""

    samples: np.ndarray
    """Shape ``(n,)``, float32, nominally in [-1, 1]."""
    sample_rate: int
    """Samples per second."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def at_rate(self, rate: int) -> Audio:
        """The same sound at another sample rate."""
        if rate == self.sample_rate:
            return self
        return Audio(resample(self.samples, self.sample_rate, rate), rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of ``(n, channels)`` audio; ``(n,)`` passes through."""
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise AudioFormatError(f"audio must be 1-D or 2-D, got shape {samples.shape}")
    return samples.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """High-quality resampling (libsoxr) of mono float32 audio."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or len(samples) == 0:
        return samples
    import soxr

    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def read_audio(path: Path | str, rate: int | None = ASR_RATE) -> Audio:
    """Read WAV/FLAC/OGG/MP3 at any rate and channel count as mono float32.

    Args:
        path: the file.
        rate: the rate to convert to, or ``None`` to keep the file's own.

    Raises:
        AudioFormatError: the file is missing, unreadable or not audio.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"audio file {path} does not exist")
    _check_looks_like_audio(path)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        why = str(exc)
        if "possibly a pipe" in why:  # libsndfile's words for "no format matched"
            why = "its content is in no audio format this program reads"
        raise AudioFormatError(
            f"{path} is not a readable audio file ({why})",
            hint="use WAV, FLAC, OGG or MP3",
        ) from exc
    samples = to_mono(data)
    if rate is not None and file_rate != rate:
        log.info("resampling %s from %d Hz to %d Hz", path, file_rate, rate)
        samples = resample(samples, file_rate, rate)
        file_rate = rate
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(file_rate))


_AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"caff")


def _check_looks_like_audio(path: Path) -> None:
    """Refuse a text file (a renamed note, an HTML error page) before any decoder runs:
    the MP3 decoder would print noise and libsndfile blame a pipe."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        raise AudioFormatError(f"{path} is empty", hint="use a WAV, FLAC, OGG or MP3 recording")
    if head.startswith(_AUDIO_MAGIC) or (head[0] == 0xFF and head[1:2] and head[1] >= 0xE0):
        return
    # (A multi-byte character may be cut at the end of the 512 bytes: ignore that.)
    text = head.decode("utf-8", errors="ignore")
    if len(text) >= len(head) // 2 and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        raise AudioFormatError(
            f"{path} is not an audio file: it holds text, not sound",
            hint="use a WAV, FLAC, OGG or MP3 recording",
        )


def write_wav(path: Path | str | io.BytesIO, audio: Audio) -> None:
    """Write 16-bit PCM WAV; files are written atomically (temp file + rename)."""
    import soundfile as sf

    pcm = np.clip(audio.samples, -1.0, 1.0)
    if isinstance(path, io.BytesIO):
        sf.write(path, pcm, audio.sample_rate, subtype="PCM_16", format="WAV")
        return
    with atomic_open(Path(path), "wb") as handle:
        sf.write(handle, pcm, audio.sample_rate, subtype="PCM_16", format="WAV")
