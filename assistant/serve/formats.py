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
    "encode_flac",
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


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """The whole sound as one FLAC file (16-bit)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()
