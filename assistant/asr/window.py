"""Encoding only the part of whisper's 30 s input window that holds the audio.

faster-whisper pads every utterance's log-mel features with zeros to whisper's
3000-frame (30 s) window, and the encoder's cost follows the window, not the speech
(whisper-tiny.en, int8, 2 cores: one call on the full window took 0.55 s, on 400 frames
0.02 s). CTranslate2 (4.x) encodes a shorter window as it is, its positions taken from
the start, so :func:`trim_window` cuts the zero padding down to the audio plus a margin
of it (1 s by default), rounded up to a step so that the window takes only a few shapes.
The decoder then attends to the shorter encoding. Checked on the 104 sentences of
``bench turns`` (whole, Piper and espeak-ng voices): 103 transcripts the same as with the
full window (the other one was a repetition loop of the full window's that went away);
on the 16 latency-bench questions 15 the same (one espeak-ng question repeated twice);
on the same sentences cut at their first pause ("I'd like to"), 87 of 104 the same (the
differences mostly "..." for "." or repetition loops, which both windows make on these
short pieces).

It is on by default (``asr.short_window``). With no minimum, in ``bench latency`` (live
pipeline, the questions spoken in real time with -70 dB noise, whisper-tiny.en) whisper
repeated itself on some utterances ("What should I cook for dinner tonight? What should
I cook for dinner tonight?", and a loop of "What is the capital of France?" that took
11-13 s to decode). So the window the option uses never goes below 10 s (1000 frames,
still about 8 times cheaper to encode than 30 s). Measured with it, one session, 2 idle
cores: no repetition in ``bench latency`` on either question set; voice-to-voice p50
0.721 s on the bench questions (0.813 s with the whole window in the same session) and
0.721 s on the espeak-ng set; the 104 ``bench turns`` sentences transcribed 2.4 times
faster, word error rate the same or lower except on the sentences cut at their first
pause (0.085 -> 0.101). But what kept it off: on those cut sentences whisper writes
fewer of the trailing "..." and "?" the end-of-turn model (trained on whole-window
transcripts) reads as unfinished, and ``bench turns`` gave 5.8 % cut-ins in patient
mode against 1.0 % with the whole window. A turn model retrained with short-window
transcripts of its own training lines (``training/turn/heard.py``; not shipped) gives
4.8 % on the same pauses (``bench turns --replay``): still over the 2 % goal. Most of
what is left are cuts that read as whole sentences, ended sooner only because the short
window's transcript is ready 0.24 s into a pause instead of 0.51 s. So the end-of-turn
waits now have a floor (:data:`assistant.turnmodel.MODES`: none under 0.4 s, patient
0.55 s / 0.65 s): 1.9 % on the same pauses, and the window is on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FULL_WINDOW", "ShortWindow", "trim_window"]

FULL_WINDOW = 3000
"""whisper's input window in mel frames (30 s at 100 frames a second)."""


@dataclass(frozen=True)
class ShortWindow:
    """How much of the window to keep: the audio, ``margin`` frames of the padding after
    it, rounded up to a multiple of ``step`` frames, never fewer than ``minimum``."""

    margin: int = 100
    step: int = 100
    minimum: int = 0


def trim_window(features: np.ndarray, window: ShortWindow) -> np.ndarray:
    """``features`` (``[80, T]`` or ``[batch, 80, T]``, zero-padded after the audio) cut
    to the frames that hold audio plus the margin; unchanged when that is all of it.

    The padding is found as the trailing frames that are exactly zero in every band and
    every batch item: a frame of real audio is never exactly zero in all 80 bands (the
    features are log-mel values shifted by 4 and scaled)."""
    total = features.shape[-1]
    frames = features if features.ndim == 2 else features.reshape(-1, total)
    nonzero = np.flatnonzero(np.any(frames != 0, axis=0))
    content = int(nonzero[-1]) + 1 if len(nonzero) else 1
    step = max(1, window.step)
    keep = -(-(content + window.margin) // step) * step
    keep = max(keep, window.minimum)
    if keep >= total:
        return features
    return np.ascontiguousarray(features[..., :keep])
