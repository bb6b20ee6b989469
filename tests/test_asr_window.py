"""whisper's encoder on only the audio's part of its 30 s window."""

from __future__ import annotations

import numpy as np

import assistant.asr.whisper as whisper_module
from assistant.asr import WhisperTranscriber
from assistant.asr.window import FULL_WINDOW, ShortWindow, trim_window
from assistant.audio import read_audio
from assistant.text import word_error_rate

SENTENCE = "What is the capital of Australia?"


def _padded(content: int, batch: bool = False) -> np.ndarray:
    features = np.zeros((80, FULL_WINDOW), np.float32)
    features[:, :content] = -0.5
    features[3, content - 1] = 0.25  # the last frame of audio
    return features[None] if batch else features


def test_the_window_keeps_the_audio_and_a_margin_rounded_up_to_the_step():
    window = ShortWindow(margin=100, step=100)
    assert trim_window(_padded(250), window).shape == (80, 400)
    assert trim_window(_padded(300), window).shape == (80, 400)
    assert trim_window(_padded(301, batch=True), window).shape == (1, 80, 500)
    assert trim_window(_padded(250), ShortWindow(margin=0, step=1, minimum=1000)).shape[-1] == 1000
    kept = trim_window(_padded(250), window)
    assert np.array_equal(kept, _padded(250)[:, :400])  # nothing of the audio is lost


def test_a_window_that_would_reach_the_end_is_left_whole():
    features = _padded(2950)
    assert trim_window(features, ShortWindow(margin=100)) is features
    silent = np.zeros((80, FULL_WINDOW), np.float32)  # no audio at all: the margin alone
    assert trim_window(silent, ShortWindow(margin=100, step=100)).shape[-1] == 200


def test_the_short_window_hears_the_same_words_from_a_fraction_of_the_window(
    whisper_dir, speak, monkeypatch
):
    seen: list[int] = []

    def recording(features: np.ndarray, window: ShortWindow) -> np.ndarray:
        kept = trim_window(features, window)
        seen.append(kept.shape[-1])
        return kept

    monkeypatch.setattr(whisper_module, "trim_window", recording)
    audio = read_audio(speak(SENTENCE))
    short = WhisperTranscriber(whisper_dir, device="cpu", window=ShortWindow())
    full = WhisperTranscriber(whisper_dir, device="cpu")
    heard = short.transcribe(audio).text
    assert word_error_rate(SENTENCE, heard) <= 0.1
    assert heard == full.transcribe(audio).text
    assert seen and all(n < FULL_WINDOW / 5 for n in seen), seen  # ~2 s of 30
