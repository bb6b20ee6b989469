"""Speech recognition and the voice, each alone, on the embedded models."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.errors import ModelLoadError
from assistant.text import word_error_rate
from assistant.tts import PiperVoice, synthesize_all

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def voice(piper_onnx) -> PiperVoice:
    return PiperVoice(piper_onnx, device="cpu")


def test_transcribes_piper_speech_word_for_word(transcriber, speak):
    transcript = transcriber.transcribe(read_audio(speak(SENTENCE)))
    assert word_error_rate(SENTENCE, transcript.text) <= 0.1
    assert transcript.language == "en"
    assert transcript.segments and transcript.segments[0].start < 1.0


def test_audio_at_other_rates_is_resampled_before_recognition(transcriber, speak):
    audio = read_audio(speak(SENTENCE), rate=None)
    assert audio.sample_rate == 22050
    assert word_error_rate(SENTENCE, transcriber.transcribe(audio).text) <= 0.1


def test_whisper_writes_a_bounded_number_of_tokens_that_never_cuts_speech(transcriber, speak):
    # The bound stops whisper's loops ("Stop! Stop! Stop! ..." for 7 s on 0.65 s of
    # audio) and leaves room for the densest speech: short words, a comma after each.
    from assistant.asr.whisper import max_new_tokens

    assert max_new_tokens(0.65) == 29 and max_new_tokens(600.0) == 200
    assert 200 + 223 < 448  # with the longest prompt whisper keeps, within its window
    dense = "Yes, no, up, down, left, right, in, out, on, off, stop, go, red, blue, one, two."
    audio = read_audio(speak(dense, lead_silence=0.0, tail_silence=0.0))
    transcript = transcriber.transcribe(audio)
    # Every word is written (whisper-tiny mishears a few of these lone words).
    assert len(transcript.text.split()) == 16, transcript.text
    assert transcript.text.endswith("one, two."), transcript.text
    tokens = len(transcriber._model.hf_tokenizer.encode(transcript.text).ids)
    assert tokens < max_new_tokens(audio.duration) * 0.8, (tokens, audio.duration)


def test_cpu_uses_int8(transcriber):
    assert transcriber.device == "cpu" and transcriber.compute_type == "int8"


def test_missing_or_incomplete_whisper_folder_is_refused(tmp_path, whisper_dir):
    with pytest.raises(ModelLoadError, match="does not exist"):
        WhisperTranscriber(tmp_path / "nothing-here")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_bytes((whisper_dir / "config.json").read_bytes())
    with pytest.raises(ModelLoadError, match=r"half.*missing model\.bin"):
        WhisperTranscriber(tmp_path / "half")


def test_corrupt_whisper_model_bin_is_refused(tmp_path, whisper_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (broken / name).write_bytes((whisper_dir / name).read_bytes())
    (broken / "model.bin").write_bytes(b"garbage" * 1000)
    with pytest.raises(ModelLoadError, match="broken"):
        WhisperTranscriber(broken, device="cpu")


def test_voice_speaks_sentence_by_sentence_what_asr_can_understand(voice, transcriber):
    text = "Hello there. The weather is lovely today."
    chunks = list(voice.synthesize(text))
    assert [c.text for c in chunks] == ["Hello there.", "The weather is lovely today."]
    assert all(c.audio.sample_rate == voice.sample_rate == 22050 for c in chunks)
    audio = synthesize_all(voice, text)
    assert audio.samples.dtype == np.float32 and np.abs(audio.samples).max() <= 1.0
    assert word_error_rate(text, transcriber.transcribe(audio).text) <= 0.2


def test_speaking_rate_changes_the_pace(piper_onnx):
    slow = synthesize_all(PiperVoice(piper_onnx, device="cpu", speaking_rate=0.8), SENTENCE)
    fast = synthesize_all(PiperVoice(piper_onnx, device="cpu", speaking_rate=1.6), SENTENCE)
    assert fast.duration < 0.7 * slow.duration


def test_garbage_onnx_and_missing_config_are_refused(tmp_path, piper_onnx):
    garbage = tmp_path / "voice.onnx"
    garbage.write_bytes(np.random.default_rng(0).bytes(20000))
    (tmp_path / "voice.onnx.json").write_text(piper_onnx.with_suffix(".onnx.json").read_text())
    with pytest.raises(ModelLoadError, match=r"voice\.onnx.*onnxruntime cannot read it"):
        PiperVoice(garbage, device="cpu")
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(piper_onnx.read_bytes())
    with pytest.raises(ModelLoadError, match=r"lonely\.onnx\.json is missing"):
        PiperVoice(lonely, device="cpu")
