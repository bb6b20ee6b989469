"""Silero VAD, speech segments, trimming and the streaming endpointer, on the real model
and real (Piper-generated) speech."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import ASR_RATE, Audio, read_audio
from assistant.config import VadConfig
from assistant.errors import ModelLoadError, NoSpeechError
from assistant.vad import (
    Endpointer,
    SileroVad,
    SpeechEnded,
    SpeechStarted,
    Vad,
    speech_segments,
    trim_to_speech,
)

SENTENCE = "Please open the kitchen window before dinner."
SECOND_SENTENCE = "Then it ran back into the forest."
LEAD, TAIL = 1.0, 1.5
# Pads set to zero where a test measures the detected speech itself.
NO_PADS = VadConfig(pre_roll_ms=0, post_roll_ms=0)
# What the fixture's silence brackets is a little more than what the VAD calls speech:
# Piper leaves ~0.05 s of near-silence before the words and ~0.1 s after, and the first
# frame over the threshold comes a frame or two into the first word. So a detected length
# runs up to this much (seconds) short of the bracketed one, and never longer.
EDGE_SLACK = 0.35


@pytest.fixture(scope="module")
def sentence(speak) -> np.ndarray:
    """``LEAD`` s of silence, SENTENCE, ``TAIL`` s of silence; 16 kHz float32."""
    return read_audio(speak(SENTENCE, lead_silence=LEAD, tail_silence=TAIL)).samples


def _speech_span(samples: np.ndarray) -> tuple[float, float]:
    """Where the spoken part lies, in seconds, from the silence the fixture added."""
    return LEAD, len(samples) / ASR_RATE - TAIL


def _chunks(samples: np.ndarray, sizes: tuple[int, ...]):
    """Split into chunks cycling through ``sizes`` (like a sound card's callbacks)."""
    i = k = 0
    while i < len(samples):
        yield samples[i : i + sizes[k % len(sizes)]]
        i += sizes[k % len(sizes)]
        k += 1


def _stream(endpointer: Endpointer, samples: np.ndarray) -> list:
    # 20 ms, 30 ms and an odd size, so frames straddle chunk borders.
    events = []
    for chunk in _chunks(samples, (320, 480, 333)):
        events.extend(endpointer.push(chunk))
    return events


# --- SileroVad --------------------------------------------------------------------------


def test_silero_vad_implements_the_vad_interface(vad: SileroVad) -> None:
    assert isinstance(vad, Vad)
    assert (vad.frame_samples, vad.sample_rate) == (512, 16_000)


def test_probabilities_are_high_in_speech(vad: SileroVad, sentence: np.ndarray) -> None:
    probs = vad.probabilities(sentence)
    assert probs.dtype == np.float32
    assert probs.shape == (-(-len(sentence) // 512),)
    assert probs.max() > 0.8


def test_probabilities_are_low_in_digital_silence(vad: SileroVad) -> None:
    assert vad.probabilities(np.zeros(2 * ASR_RATE, np.float32)).mean() < 0.2


def test_probabilities_are_low_in_quiet_white_noise(vad: SileroVad) -> None:
    noise = np.random.default_rng(0).normal(0.0, 0.01, 2 * ASR_RATE).astype(np.float32)
    assert vad.probabilities(noise).mean() < 0.2


def test_streaming_frames_match_whole_clip_probabilities(
    vad: SileroVad, sentence: np.ndarray
) -> None:
    whole = vad.probabilities(sentence)
    padded = np.zeros(len(whole) * 512, np.float32)
    padded[: len(sentence)] = sentence
    vad.reset()
    streamed = np.array([vad(frame) for frame in padded.reshape(-1, 512)], np.float32)
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_garbage_model_file_raises_model_load_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelLoadError, match=r"garbage\.onnx") as caught:
        SileroVad(path)
    assert caught.value.path == path


def test_missing_model_file_raises_model_load_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.onnx"
    with pytest.raises(ModelLoadError, match=r"absent\.onnx"):
        SileroVad(path)


def test_onnx_model_of_another_kind_raises_model_load_error(piper_onnx: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a Silero VAD"):
        SileroVad(piper_onnx)


def test_cuda_without_cuda_provider_falls_back_to_cpu_with_one_log_line(
    vad_onnx: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    # An onnxruntime without CUDA, as on every machine without the `gpu` extra.
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="assistant.vad"):
        vad = SileroVad(vad_onnx, device="cuda")
    assert vad.device == "cpu"
    assert len([r for r in caplog.records if "CPU" in r.getMessage()]) == 1


# --- speech_segments and trim_to_speech ---------------------------------------------------


def test_one_sentence_gives_one_segment_at_its_onset(vad: SileroVad, sentence: np.ndarray) -> None:
    segments = speech_segments(vad.probabilities(sentence), NO_PADS, num_samples=len(sentence))
    onset, offset = _speech_span(sentence)
    assert len(segments) == 1
    assert abs(segments[0].start_s - onset) < 0.25
    # The end lands after the last word: Piper's ~0.1 s of closing near-silence (inside the
    # bracketed span) may be left out, and the trailing silence is.
    assert offset - 0.25 < segments[0].end_s < offset + 0.25


@pytest.fixture(scope="module")
def two_sentences(speak) -> np.ndarray:
    """SENTENCE, 1.5 s of silence, SECOND_SENTENCE."""
    first = read_audio(speak(SENTENCE, lead_silence=0.5, tail_silence=0.75)).samples
    second = read_audio(speak(SECOND_SENTENCE, lead_silence=0.75, tail_silence=0.5)).samples
    return np.concatenate([first, second])


def test_pause_longer_than_min_silence_splits_two_segments(
    vad: SileroVad, two_sentences: np.ndarray
) -> None:
    options = VadConfig(min_silence_ms=700)
    probs = vad.probabilities(two_sentences)
    assert len(speech_segments(probs, options, num_samples=len(two_sentences))) == 2


def test_pause_shorter_than_min_silence_keeps_one_segment(
    vad: SileroVad, two_sentences: np.ndarray
) -> None:
    options = VadConfig(min_silence_ms=2000)
    probs = vad.probabilities(two_sentences)
    assert len(speech_segments(probs, options, num_samples=len(two_sentences))) == 1


def test_trim_to_speech_keeps_the_speech_and_its_pads(vad: SileroVad, sentence: np.ndarray) -> None:
    options = VadConfig()
    trimmed = trim_to_speech(Audio(sentence, ASR_RATE), vad, options)
    onset, offset = _speech_span(sentence)
    expected = offset - onset + (options.pre_roll_ms + options.post_roll_ms) / 1000
    assert trimmed.sample_rate == ASR_RATE
    assert expected - EDGE_SLACK < trimmed.duration < expected + 0.1


def test_trim_to_speech_keeps_the_clip_sample_rate(vad: SileroVad, speak) -> None:
    original = read_audio(speak(SENTENCE, lead_silence=LEAD, tail_silence=TAIL), rate=None)
    trimmed = trim_to_speech(original, vad, VadConfig())
    assert trimmed.sample_rate == original.sample_rate != ASR_RATE
    assert original.duration - LEAD - TAIL < trimmed.duration < original.duration - 1.0


def test_trim_to_speech_raises_no_speech_on_silence(vad: SileroVad) -> None:
    silence = Audio(np.zeros(2 * ASR_RATE, np.float32), ASR_RATE)
    with pytest.raises(NoSpeechError, match=r"no speech detected in silence\.wav"):
        trim_to_speech(silence, vad, VadConfig(), source="silence.wav")


def test_trim_to_speech_raises_no_speech_on_empty_audio(vad: SileroVad) -> None:
    with pytest.raises(NoSpeechError, match="no speech detected in the recording"):
        trim_to_speech(Audio(np.zeros(0, np.float32), ASR_RATE), vad, VadConfig())


# --- Endpointer ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def streamed(vad: SileroVad, sentence: np.ndarray) -> list:
    """The events of SENTENCE streamed through an endpointer with the default options."""
    return _stream(Endpointer(vad, VadConfig()), sentence)


def test_endpointer_emits_one_start_then_one_end_for_a_sentence(streamed: list) -> None:
    assert [type(event) for event in streamed] == [SpeechStarted, SpeechEnded]


def test_endpointer_pre_roll_is_the_audio_before_the_start(
    streamed: list, sentence: np.ndarray
) -> None:
    started = streamed[0]
    assert len(started.pre_roll) == VadConfig().pre_roll_ms * ASR_RATE // 1000
    np.testing.assert_array_equal(
        started.pre_roll, sentence[started.at - len(started.pre_roll) : started.at]
    )


def test_endpointer_utterance_holds_the_speech_and_pads(
    streamed: list, sentence: np.ndarray
) -> None:
    started, ended = streamed
    onset, offset = _speech_span(sentence)
    first = started.at - len(started.pre_roll)
    assert first / ASR_RATE < onset < offset - 0.2 < (first + len(ended.utterance)) / ASR_RATE
    np.testing.assert_array_equal(ended.utterance, sentence[first : first + len(ended.utterance)])
    options = VadConfig()
    expected = offset - onset + (options.pre_roll_ms + options.post_roll_ms) / 1000
    assert expected - EDGE_SLACK < len(ended.utterance) / ASR_RATE < expected + 0.1


def test_endpointer_agrees_with_speech_segments(
    vad: SileroVad, streamed: list, sentence: np.ndarray
) -> None:
    (segment,) = speech_segments(vad.probabilities(sentence), NO_PADS)
    assert (streamed[0].at, streamed[1].at) == (segment.start, segment.end)


def test_endpointer_forces_an_end_at_max_utterance(vad: SileroVad, sentence: np.ndarray) -> None:
    endpointer = Endpointer(vad, max_utterance_s=1.0)
    events = _stream(endpointer, sentence)
    ended = next(event for event in events if isinstance(event, SpeechEnded))
    assert ended.forced
    assert ended.at - events[0].at == pytest.approx(ASR_RATE, abs=512)


def test_endpointer_utterances_after_a_forced_end_share_no_audio(
    vad: SileroVad, sentence: np.ndarray
) -> None:
    endpointer = Endpointer(vad, max_utterance_s=1.0)
    events = _stream(endpointer, sentence)
    starts = [event for event in events if isinstance(event, SpeechStarted)]
    ends = [event for event in events if isinstance(event, SpeechEnded)]
    assert len(starts) >= 2
    first_audio_end = starts[0].at - len(starts[0].pre_roll) + len(ends[0].utterance)
    assert starts[1].at - len(starts[1].pre_roll) >= first_audio_end


def test_endpointer_is_silent_on_silence(vad: SileroVad) -> None:
    endpointer = Endpointer(vad, VadConfig())
    assert _stream(endpointer, np.zeros(3 * ASR_RATE, np.float32)) == []
    assert not endpointer.in_speech
    assert endpointer.last_probability < 0.2


def test_endpointer_finish_ends_an_utterance_cut_off_mid_speech(
    vad: SileroVad, sentence: np.ndarray
) -> None:
    endpointer = Endpointer(vad, VadConfig())
    cut = int((LEAD + 1.0) * ASR_RATE) + 100  # one second into the sentence, mid-frame
    events = _stream(endpointer, sentence[:cut])
    assert endpointer.in_speech
    (ended,) = endpointer.finish()
    assert isinstance(ended, SpeechEnded) and not ended.forced
    first = events[0].at - len(events[0].pre_roll)
    assert first + len(ended.utterance) == cut
    assert not endpointer.in_speech
