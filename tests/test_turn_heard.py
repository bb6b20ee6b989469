"""The end-of-turn model's transcripts as the recogniser writes them (training/turn/heard):
training turns are spoken whole and cut, the cuts labelled unfinished; the shipped
transcripts hold no bench sentence; a real voice and the real recogniser (short window)
make them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Config
from assistant.store import Catalog, ModelStore
from assistant.turnmodel.features import words
from training.turn.fit import bench_sentences
from training.turn.heard import (
    ESPEAK_VOICES,
    HEARD_FILE,
    HeardClip,
    hear_clips,
    heard_examples,
    plan_clips,
    read_heard,
    write_heard,
)


def test_clips_are_each_turn_whole_and_cut_before_its_words() -> None:
    turns = ["Set an alarm for seven tomorrow.", "Could you read me the news, please?"]
    clips = plan_clips(turns, 2, seed=3)
    assert {c.said for c in clips if c.finished} == set(turns)
    for cut in (c for c in clips if not c.finished):
        whole = words(cut.source)
        assert words(cut.said) == whole[: len(words(cut.said))] and cut.said[-1].isalnum()
        assert 0 < len(words(cut.said)) < len(whole)
    assert plan_clips(turns, 2, seed=3) == clips  # seeded
    assert all(c.window in ("short", "whole") for c in clips)


def test_hearing_keeps_what_was_heard_and_the_label(tmp_path: Path) -> None:
    clips = plan_clips(["Please turn off the lights in the hall."], 1, seed=1)
    spoken: list[tuple[str, int]] = []

    def speak(text: str, voice: str) -> np.ndarray:
        spoken.append((text, 0))
        return np.concatenate([np.zeros(800), 0.2 * np.ones(1600 * len(text.split()))])

    def transcribe(samples: np.ndarray, window: str) -> str:
        # The lead of silence, the speech, and a short pause after it.
        assert len(samples) == 4000 + 1600 * len(spoken[-1][0].split()) + 2400
        return spoken[-1][0].upper() + "..."

    heard = hear_clips(clips, speak, transcribe)
    assert [h.heard for h in heard] == [c.said.upper() + "..." for c in clips]
    write_heard(heard, tmp_path / "h.jsonl")
    assert read_heard(tmp_path / "h.jsonl") == heard
    examples = heard_examples(heard, banned=set())
    assert [e.finished for e in examples] == [c.finished for c in clips]
    assert heard_examples(heard, banned={" ".join(words(heard[0].source))}) == []
    (tmp_path / "bad.jsonl").write_text('{"said": 1}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_heard(tmp_path / "bad.jsonl")


def test_the_shipped_transcripts_hold_no_bench_sentence() -> None:
    clips = read_heard(HEARD_FILE)
    assert len(clips) > 500 and {c.finished for c in clips} == {True, False}
    banned = {" ".join(words(q)) for q in bench_sentences()}
    assert len(banned) > 60  # both question sets and bench turns' sentences
    assert not {" ".join(words(c.source)) for c in clips} & banned
    bench_voices = {"en-us", "en+f3", "en-gb", "en+m3"}
    assert not {c.voice.removeprefix("espeak:") for c in clips} & bench_voices
    assert {c.window for c in clips} == {"short", "whole"}


def test_a_real_voice_and_recogniser_hear_the_clips(tmp_path: Path) -> None:
    from training.turn.heard import engine_hearing

    store = ModelStore(tmp_path, Catalog.load())
    speak, transcribe = engine_hearing(Config(), store)
    clips = [  # the Piper voice on the short window, an espeak-ng voice on the whole one
        HeardClip("Remind me to water the plants tonight.", True, "s", "piper", "short"),
        HeardClip("Remind me to", False, "s", f"espeak:{ESPEAK_VOICES[0]}", "whole"),
    ]
    whole, cut = hear_clips(clips, speak, transcribe)
    assert {"remind", "water", "plants"} <= set(words(whole.heard)), whole.heard
    assert words(cut.heard)[:2] == ["remind", "me"] and "plants" not in cut.heard, cut.heard
