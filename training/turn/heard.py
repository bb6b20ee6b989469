"""Transcripts as the recogniser writes them: training turns spoken, whole and cut, and
transcribed the way the pipeline does in a pause.

Text cut at a word and punctuated by hand is not what the model sees at run time:
whisper puts its own marks on a piece of a sentence ("I'd like to..." with the whole
30 s window, often "I'd like to." or "I'd like to" with the short one) and mishears
some words. So some training turns (never the bench's sentences) are synthesized by
espeak-ng voices other than the benches' ones and by the configured Piper voice, each
whole (finished) and cut before a word people pause in front of or after a random word
(unfinished), with a short silence after it as in a pause, and transcribed by the
configured recogniser with the short window (``asr.short_window``) and, for a quarter of
them, with the whole window, so the model learns both.

The transcripts are kept in ``heard-en.jsonl`` beside this module (954 clips of 400
lines), so that a model trained on them (``assistant train turn --heard FILE``) rebuilds
from the same text on any machine (whisper's output varies a little with the CPU);
``assistant train turn --hear N`` makes such a file. The embedded model is trained on
them (``--heard training/turn/heard-en.jsonl``); the model before it was trained on text
alone.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.fsutil import atomic_write_text
from assistant.turnmodel.features import words

from .data import _PAUSE_BEFORE, Example

__all__ = ["HEARD_FILE", "HeardClip", "hear_clips", "heard_examples", "plan_clips"]

log = logging.getLogger(__name__)

HEARD_FILE = Path(__file__).with_name("heard-en.jsonl")
"""The transcripts the embedded model was trained on (``--hear`` writes it again)."""
ESPEAK_VOICES = ("en-gb-scotland", "en-gb-x-rp", "en-029", "en+m7", "en+f2", "en-us+f4")
"""Training voices: none of those ``bench turns`` and the espeak-ng question set use
(en-us, en+f3, en-gb, en+m3)."""
_LEAD_S = 0.25
_TAIL_S = 0.15  # the speculative transcript is made about this far into a pause


@dataclass(frozen=True)
class HeardClip:
    """One piece of a training turn to speak, and what the recogniser wrote for it."""

    said: str
    finished: bool
    source: str
    voice: str
    """``espeak:<voice>`` or ``piper``."""
    window: str
    """``short`` or ``whole``."""
    heard: str = ""


def _cut_points(turn: str, rng: random.Random) -> list[int]:
    ws = turn.split()
    pause = [k for k in range(1, len(ws)) if words(ws[k])[:1] and words(ws[k])[0] in _PAUSE_BEFORE]
    points = [rng.choice(pause)] if pause else []
    if len(ws) >= 3:
        points.append(rng.randrange(1, len(ws)))
    return sorted(set(points))


def plan_clips(turns: Sequence[str], count: int, seed: int) -> list[HeardClip]:
    """``count`` turns of ``turns`` (seeded): each whole and cut at one or two points."""
    rng = random.Random(seed)
    chosen = rng.sample(list(turns), min(count, len(turns)))
    clips: list[HeardClip] = []
    for turn in chosen:
        voice = rng.choice((*(f"espeak:{v}" for v in ESPEAK_VOICES), "piper", "piper"))
        window = "whole" if rng.random() < 0.25 else "short"
        ws = turn.split()
        clips.append(HeardClip(turn, True, turn, voice, window))
        for k in _cut_points(turn, rng):
            said = re.sub(r"[,;:.?!\u2026]+$", "", " ".join(ws[:k]))
            if words(said):
                clips.append(HeardClip(said, False, turn, voice, window))
    return clips


def hear_clips(
    clips: Sequence[HeardClip],
    speak: Callable[[str, str], np.ndarray],
    transcribe: Callable[[np.ndarray, str], str],
    progress: Callable[[str], None] = lambda _line: None,
) -> list[HeardClip]:
    """Each clip spoken by ``speak(text, voice)`` (16 kHz samples) and transcribed by
    ``transcribe(samples, window)``, with a lead of silence and a short pause after."""
    from assistant.bench.turn_speech import trim_silence

    rate = 16_000
    out: list[HeardClip] = []
    for i, clip in enumerate(clips):
        samples = trim_silence(np.asarray(speak(clip.said, clip.voice), np.float32), rate)
        peak = float(np.abs(samples).max()) if len(samples) else 0.0
        samples = samples * (0.5 / peak) if peak else samples
        lead = np.zeros(round(_LEAD_S * rate), np.float32)
        tail = np.zeros(round(_TAIL_S * rate), np.float32)
        audio = np.concatenate([lead, samples, tail]).astype(np.float32)
        heard = " ".join(transcribe(audio, clip.window).split())
        out.append(HeardClip(**{**asdict(clip), "heard": heard}))
        if (i + 1) % 100 == 0:
            progress(f"  heard {i + 1}/{len(clips)}")
    return out


def engine_hearing(
    config: Any, store: Any
) -> tuple[Callable[[str, str], np.ndarray], Callable[[np.ndarray, str], str]]:
    """``speak`` and ``transcribe`` for :func:`hear_clips` on the configured voice and
    recogniser (the short window and the whole one)."""
    import dataclasses

    from assistant.asr.whisper import SHORT_WINDOW, WhisperTranscriber
    from assistant.audio import ASR_RATE, Audio, resample
    from assistant.bench.turn_speech import speak_espeak
    from assistant.engines import load_voice
    from assistant.tts import synthesize_all

    voice = load_voice(config, store)
    model = store.resolve("asr", config.asr.model).path
    asr = dataclasses.replace(config.asr, short_window=False)
    whole = WhisperTranscriber.from_config(model, asr)
    short = WhisperTranscriber(
        model, device=asr.device, compute_type=asr.compute_type, language=asr.language,
        beam_size=asr.beam_size, threads=asr.threads, window=SHORT_WINDOW,
    )  # fmt: skip

    def speak(text: str, who: str) -> np.ndarray:
        if who.startswith("espeak:"):
            return speak_espeak(text, who.split(":", 1)[1])
        audio = synthesize_all(voice, text)
        return resample(audio.samples, audio.sample_rate, ASR_RATE)

    def transcribe(samples: np.ndarray, window: str) -> str:
        recogniser = short if window == "short" else whole
        return recogniser.transcribe(Audio(samples, ASR_RATE)).text

    return speak, transcribe


def write_heard(clips: Sequence[HeardClip], path: Path = HEARD_FILE) -> None:
    """``clips`` as JSON lines (atomically)."""
    text = "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in clips)
    atomic_write_text(path, text)


def read_heard(path: Path = HEARD_FILE) -> list[HeardClip]:
    """The clips of ``path`` (none when it does not exist)."""
    if not path.is_file():
        return []
    clips = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            clips.append(HeardClip(**json.loads(line)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{n}: not a heard clip ({exc})") from None
    return clips


def heard_examples(clips: Sequence[HeardClip], banned: set[str]) -> list[Example]:
    """The transcripts as examples (empty ones and turns in ``banned`` left out)."""
    return [
        Example(c.heard, c.finished, c.source)
        for c in clips
        if c.heard.strip() and " ".join(words(c.source)) not in banned
    ]
