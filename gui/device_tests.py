"""The settings' device tests (run in worker threads): record three seconds and play
them back; say a sample sentence."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SAMPLE_SENTENCE", "play_sample", "record_and_play"]

SAMPLE_SENTENCE = "Hello! This is how I sound. You can change my voice and speed in settings."


def record_and_play(
    input_device: str,
    output_device: str,
    seconds: float = 3.0,
    started: Callable[[], None] | None = None,
) -> float:
    """Record ``seconds`` from the microphone, play them back; returns the peak level.
    ``started()`` is called once the microphone delivers sound (time to speak)."""
    from assistant.audio import ASR_RATE, Audio
    from assistant.audio.playback import Player
    from assistant.pipeline import MicrophoneSource

    source = MicrophoneSource(input_device)
    blocks: list[np.ndarray] = []
    end = None
    for block in source.blocks():
        if end is None:
            end = time.monotonic() + seconds
            if started is not None:
                started()
        blocks.append(block)
        if time.monotonic() >= end:
            source.close()
            break
    samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    player = Player(ASR_RATE, output_device)
    try:
        player.play(Audio(samples, ASR_RATE))
        player.wait(seconds + 5)
    finally:
        player.close()
    return float(np.abs(samples).max()) if len(samples) else 0.0


def play_sample(voice: Any, output_device: str) -> None:
    """Say :data:`SAMPLE_SENTENCE` with the loaded voice (a tone when none is loaded)."""
    from assistant.audio import Audio
    from assistant.audio.playback import Player

    if voice is not None:
        from assistant.tts import synthesize_all

        audio = synthesize_all(voice, SAMPLE_SENTENCE)
    else:
        rate = 22050
        t = np.arange(int(rate * 0.8)) / rate
        audio = Audio((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    player = Player(audio.sample_rate, output_device)
    try:
        player.play(audio)
        player.wait(audio.duration + 5)
    finally:
        player.close()
