"""The barge-in onset detector: a voice rising out of the background is found within
two 10 ms windows; clicks, a steady echo and a quiet room are not onsets."""

from __future__ import annotations

import numpy as np

from assistant.pipeline.onset import WINDOW, OnsetDetector

RNG = np.random.default_rng(3)


def _noise(seconds: float, db: float) -> np.ndarray:
    n = round(seconds * 16000)
    return (RNG.standard_normal(n) * 10 ** (db / 20)).astype(np.float32)


def _first_onset(detector: OnsetDetector, signal: np.ndarray, block: int = 480) -> int | None:
    """Index of the block (of ``block`` samples) on which ``detector`` fires."""
    for i in range(0, len(signal), block):
        if detector.push(signal[i : i + block]):
            return i // block
    return None


def test_a_voice_over_a_quiet_room_is_found_within_two_windows() -> None:
    room = _noise(0.5, -70)
    voice = _noise(0.3, -25)
    detector = OnsetDetector()
    block = _first_onset(detector, np.concatenate([room, voice]), block=WINDOW)
    assert block is not None
    assert (block + 1) * WINDOW - len(room) <= 2 * WINDOW  # within 20 ms of the onset


def test_quiet_rooms_clicks_and_steady_echo_are_not_onsets() -> None:
    assert _first_onset(OnsetDetector(), _noise(2.0, -70)) is None
    click = np.concatenate([_noise(0.5, -70), _noise(0.01, -10), _noise(0.5, -70)])
    assert _first_onset(OnsetDetector(), click, block=WINDOW) is None
    # An echo that is there from the start of the reply (the warm-up sets the background).
    assert _first_onset(OnsetDetector(), _noise(2.0, -30)) is None


def test_reset_forgets_the_background() -> None:
    detector = OnsetDetector()
    assert _first_onset(detector, _noise(1.0, -30)) is None
    detector.reset()
    assert _first_onset(detector, np.concatenate([_noise(0.5, -70), _noise(0.2, -30)])) is not None
