"""Wire formats: subtitles for transcripts, and audio encodings for speech."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

import numpy as np

from ..asr import Segment, Transcript

__all__ = [
    "AUDIO_TYPES",
    "PCM_RATE",
    "FlacStream",
    "pcm16",
    "srt",
    "verbose_json",
    "vtt",
    "wav_stream_header",
]

PCM_RATE = 24_000
"""OpenAI's ``pcm`` is raw 16-bit little-endian mono at 24 kHz."""

AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm"}


def _stamp(seconds: float, sep: str) -> str:
    ms = round(max(0.0, seconds) * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def srt(segments: Sequence[Segment]) -> str:
    """SubRip subtitles, one cue per segment."""
    cues = [
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text}\n"
        for i, s in enumerate(segments, 1)
    ]
    return "\n".join(cues)


def vtt(segments: Sequence[Segment]) -> str:
    """WebVTT subtitles, one cue per segment."""
    cues = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(cues)


def verbose_json(transcript: Transcript) -> dict[str, object]:
    """OpenAI's ``verbose_json``: the text, language, duration and the segments."""
    return {
        "task": "transcribe",
        "language": transcript.language,
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
        "segments": [
            {
                "id": i,
                "seek": 0,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": 0.0,
                "no_speech_prob": s.no_speech_prob,
            }
            for i, s in enumerate(transcript.segments)
        ],
    }


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length (sizes 0xFFFFFFFF, which
    players and ``soundfile`` read as "until the end")."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


class _Outbox:
    """The file libsndfile writes a FLAC stream into: it keeps only what was written
    since the last :meth:`take`. libsndfile seeks back at the end to complete the
    header; those bytes went out long ago and the rewrite is dropped."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._sent = 0  # bytes handed out before _pending starts
        self._pos = 0
        self._end = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        view = memoryview(data)
        if self._pos < self._sent:  # the part that is already out is dropped
            skip = min(self._sent - self._pos, size)
            view, self._pos = view[skip:], self._pos + skip
        if len(view):
            at = self._pos - self._sent
            if at > len(self._pending):
                self._pending.extend(bytes(at - len(self._pending)))
            self._pending[at : at + len(view)] = view
            self._pos += len(view)
        self._end = max(self._end, self._pos)
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = bytes(self._pending)
        self._sent += len(out)
        self._pending.clear()
        return out


class FlacStream:
    """16-bit mono FLAC, encoded as the sound comes (libsndfile's encoder).

    :meth:`add` returns the bytes ready so far (the header first, then a frame per
    4096 samples), :meth:`end` the rest; joined, they are one FLAC stream. Its header
    leaves the length and checksum unknown (zero), as the FLAC format allows for a
    stream: players, browsers and FFmpeg read it; libsndfile (``soundfile``) 1.2
    fails at its end-of-file seek, so its users ask for WAV.
    """

    def __init__(self, sample_rate: int) -> None:
        import soundfile as sf

        self._out = _Outbox()
        self._file = sf.SoundFile(self._out, "w", sample_rate, 1, "PCM_16", format="FLAC")

    def add(self, samples: np.ndarray) -> bytes:
        """Encode float samples in [-1, 1]."""
        pcm = np.frombuffer(pcm16(samples), dtype="<i2")
        if len(pcm):
            self._file.write(pcm)
        return self._out.take()

    def end(self) -> bytes:
        """Finish the stream."""
        self._file.close()
        return self._out.take()
