"""Preparing a voice dataset from recordings, on the real VAD and whisper: the prompt
list's phoneme coverage, bad inputs rejected with their reasons, recordings without
transcripts, over-long recordings split at pauses (the clean path: test_train_voice.py)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.voice.phonemes import INVENTORIES, coverage, prompt_list
from training.voice.prepare import PrepareOptions, prepare


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_prompt_list_covers_every_english_phoneme():
    prompts = prompt_list("en-us")
    assert len(prompts) >= 60
    cov = coverage(prompts, "en-us")
    assert cov.missing == [] and len(cov.inventory) == len(INVENTORIES["en-us"])
    assert min(cov.counts[p] for p in cov.inventory) >= 2


def test_bad_inputs_are_rejected_with_reasons_and_the_rest_kept(tmp_path, speak, vad, transcriber):
    rec = tmp_path / "rec"
    rec.mkdir()
    good = [
        "Fresh bread and soft cheese were laid out for lunch.",
        "The captain ordered the crew to raise the sails at dawn.",
        "Please turn off the lights when you leave the room.",
    ]
    for i, text in enumerate(good):
        shutil.copy(speak(text), rec / f"good{i}.wav")
        (rec / f"good{i}.txt").write_text(text, encoding="utf-8")
    (rec / "notaudio.wav").write_text("this is not a wave file", encoding="utf-8")
    (rec / "notaudio.txt").write_text("Anything at all.", encoding="utf-8")
    sf.write(rec / "empty.wav", np.zeros(0, np.float32), 22050)
    (rec / "empty.txt").write_text("Nothing here.", encoding="utf-8")
    shutil.copy(speak("The weather was warm and sunny all week."), rec / "mismatch.wav")
    (rec / "mismatch.txt").write_text("Seven green elephants played chess in Paris.", "utf-8")
    loud, rate = sf.read(speak("Our team worked through the night to finish."), dtype="float32")
    sf.write(rec / "clipped.wav", np.clip(loud * 20, -1, 1), rate)
    (rec / "clipped.txt").write_text("Our team worked through the night to finish.", "utf-8")
    sf.write(rec / "silent.wav", np.zeros(2 * 22050, np.float32), 22050)
    (rec / "silent.txt").write_text("Silence.", encoding="utf-8")
    shutil.copy(speak("Yes.", lead_silence=0.1, tail_silence=0.1), rec / "short.wav")
    (rec / "short.txt").write_text("Yes.", encoding="utf-8")
    before = _digest(rec)

    report = prepare(PrepareOptions(rec, tmp_path / "data"), vad, transcriber)

    reasons = {r.file: r.reason for r in report.rejected}
    assert reasons == {
        "notaudio.wav": "not audio",
        "empty.wav": "empty",
        "mismatch.wav": "transcript disagrees with ASR",
        "clipped.wav": "clipped",
        "silent.wav": "silent",
        "short.wav": "too short",
    }
    assert report.kept == len(good)
    assert "heard" in next(r.detail for r in report.rejected if r.file == "mismatch.wav")
    assert _digest(rec) == before, "prepare changed the originals"
    text = (tmp_path / "data" / "report.md").read_text()
    assert "clipped: 1" in text and "notaudio.wav: not audio" in text


def test_recordings_without_transcripts_are_transcribed_by_asr(tmp_path, speak, vad, transcriber):
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(speak("Do you prefer coffee or tea in the morning?"), rec / "a.wav")
    report = prepare(PrepareOptions(rec, tmp_path / "data"), vad, transcriber)
    assert report.kept == 1 and report.transcripts == "asr"
    row = (tmp_path / "data" / "metadata.csv").read_text().strip()
    assert "coffee or tea" in row.lower()


def test_an_over_long_recording_is_split_at_its_pauses(tmp_path, speak, vad, transcriber):
    rec = tmp_path / "rec"
    rec.mkdir()
    parts = [sf.read(speak(text, lead_silence=0.0, tail_silence=0.7), dtype="float32")[0]
             for text in prompt_list()[40:46]]  # fmt: skip
    long = np.concatenate(parts)
    assert len(long) / 22050 > 16
    sf.write(rec / "long.wav", long, 22050)
    (rec / "long.txt").write_text("A transcript for the whole recording.", encoding="utf-8")

    report = prepare(PrepareOptions(rec, tmp_path / "data"), vad, transcriber)

    assert report.rejected == [] and report.kept >= 2
    for wav in (tmp_path / "data" / "wavs").glob("*.wav"):
        assert 1.0 <= sf.info(wav).duration <= 15.0
    assert {r["why"] for r in report.review} == {"split at a pause"}


def test_prepare_refuses_to_write_into_the_recordings(tmp_path, vad):
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="inside the recordings folder"):
        prepare(PrepareOptions(tmp_path, tmp_path / "data"), vad, None)
