"""Reading any audio file as 16 kHz mono, and writing WAVs atomically."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from assistant.audio import Audio, read_audio, write_wav
from assistant.errors import AudioFormatError


def _tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(("fmt", "suffix"), [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg")])
def test_stereo_8khz_file_becomes_16khz_mono_with_the_same_pitch(tmp_path, fmt, suffix):
    tone = _tone(8000, 1.0)
    path = tmp_path / f"x{suffix}"
    sf.write(path, np.stack([tone, tone], axis=1), 8000, format=fmt)
    audio = read_audio(path)
    assert audio.sample_rate == 16000
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration - 1.0) < 0.01
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert abs(np.argmax(spectrum) * 16000 / len(audio.samples) - 440) < 3


def test_non_audio_and_missing_files_get_a_one_line_error(tmp_path):
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio")
    with pytest.raises(AudioFormatError, match="is not an audio file: it holds text"):
        read_audio(junk)
    with pytest.raises(AudioFormatError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")


def test_write_wav_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "out.wav"
    write_wav(path, Audio(_tone(22050, 0.5), 22050))
    back = read_audio(path, rate=None)
    assert back.sample_rate == 22050 and len(back.samples) == 11025
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left
