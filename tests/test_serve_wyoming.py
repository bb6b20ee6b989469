"""``assistant serve``'s Wyoming services with the ``wyoming`` client library, as Home
Assistant uses them: describe, speech-to-text, text-to-speech, handle and wake words."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from model_files import tiny_wake
from serve_setup import wyoming

from assistant.serve import ServeEngines, ServerThread
from assistant.wake import PRETRAINED


def test_wyoming_describe_lists_every_service(
    serve_server: ServerThread, serve_engines: ServeEngines
) -> None:
    from wyoming.info import Describe, Info

    info = Info.from_event(wyoming(serve_server.wyoming_port, [Describe()], "info")[-1])
    assert info.asr[0].models[0].name == serve_engines.asr_id
    assert serve_engines.config.tts.voice in [v.name for v in info.tts[0].voices]
    assert info.handle[0].models[0].name == serve_engines.chat_id
    words = {m.name: m for m in info.wake[0].models}
    assert set(PRETRAINED) <= set(words)
    assert words["hey_jarvis"].phrase == "Hey Jarvis" and "en" in words["hey_jarvis"].languages


def test_wyoming_speech_to_text(serve_server: ServerThread, question_wav: bytes) -> None:
    from wyoming.asr import Transcribe, Transcript
    from wyoming.audio import AudioChunk, AudioStart, AudioStop

    samples, rate = sf.read(io.BytesIO(question_wav), dtype="int16")
    pcm = samples.tobytes()
    chunks = [
        AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + 4096])
        for i in range(0, len(pcm), 4096)
    ]
    events = [
        Transcribe(language="en"),
        AudioStart(rate=rate, width=2, channels=1),
        *chunks,
        AudioStop(),
    ]
    transcript = Transcript.from_event(wyoming(serve_server.wyoming_port, events, "transcript")[-1])
    assert "quick brown fox" in transcript.text.lower()


def test_wyoming_text_to_speech(serve_server: ServerThread, serve_engines: ServeEngines) -> None:
    from wyoming.audio import AudioChunk, AudioStart
    from wyoming.tts import Synthesize, SynthesizeVoice

    voice = SynthesizeVoice(name=serve_engines.config.tts.voice)
    got = wyoming(
        serve_server.wyoming_port,
        [Synthesize(text="Hello from the assistant.", voice=voice)],
        "audio-stop",
    )
    start = AudioStart.from_event(got[0])
    audio = b"".join(AudioChunk.from_event(e).audio for e in got if e.type == "audio-chunk")
    assert start.rate == 22050 and start.width == 2
    assert 0.8 < len(audio) / 2 / start.rate < 5
    got = wyoming(
        serve_server.wyoming_port,
        [Synthesize(text="Hi.", voice=SynthesizeVoice(name="nope"))],
        "error",
    )
    assert "not installed" in got[-1].data["text"]


def test_wyoming_handle_answers_with_the_language_model(serve_server: ServerThread) -> None:
    from wyoming.asr import Transcript
    from wyoming.handle import Handled

    got = wyoming(
        serve_server.wyoming_port, [Transcript(text="What is the capital of France?")], "handled"
    )
    assert Handled.from_event(got[-1]).text


def _wake_events(path: Path, names: list[str] | None, stamped: bool) -> list[Any]:
    """``detect`` and the recording as Home Assistant streams it: 16-bit chunks of 1024
    samples (at the file's own rate; the server converts), with or without Home
    Assistant's millisecond timestamps (here counted from 1,000,000)."""
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.wake import Detect

    samples, rate = sf.read(path, dtype="int16")
    pcm = samples.tobytes()
    step = 2048
    chunks = [
        AudioChunk(
            rate=rate,
            width=2,
            channels=1,
            audio=pcm[i : i + step],
            timestamp=1_000_000 + i // 2 * 1000 // rate if stamped else None,
        )
        for i in range(0, len(pcm), step)
    ]
    return [Detect(names=names), AudioStart(rate=rate, width=2, channels=1), *chunks, AudioStop()]


def test_wyoming_wake_word_is_detected_with_its_time(serve_server: ServerThread, speak) -> None:
    from wyoming.wake import Detection

    port = serve_server.wyoming_port
    # "Hey Jarvis" ends about 0.75 s after the 1 s of lead silence (tests/test_wake.py).
    recording = speak("Hey Jarvis, what is the time?", lead_silence=1.0)
    got = wyoming(port, _wake_events(recording, ["hey_jarvis", "alexa"], False), "detection")
    found = Detection.from_event(got[-1])
    assert found.name == "hey_jarvis" and 1300 < (found.timestamp or 0) < 2400
    # Home Assistant's own clock comes back when its chunks carry one.
    recording = speak("Okay Nabu, turn on the light.", lead_silence=0.6)
    got = wyoming(port, _wake_events(recording, ["okay_nabu"], True), "detection")
    found = Detection.from_event(got[-1])
    assert found.name == "okay_nabu" and 1_000_600 < (found.timestamp or 0) < 1_002_000


def test_wyoming_speech_without_the_wake_word_is_not_detected(
    serve_server: ServerThread, speak
) -> None:
    plain = speak("What is the time? I would like a cup of tea and a biscuit.")
    # No names: the configured words (wake.words, hey_jarvis by default).
    got = wyoming(serve_server.wyoming_port, _wake_events(plain, None, True), "not-detected")
    assert [e.type for e in got] == ["not-detected"]
    got = wyoming(
        serve_server.wyoming_port, _wake_events(plain, list(PRETRAINED), True), "not-detected"
    )
    assert [e.type for e in got] == ["not-detected"]


def test_wyoming_custom_wake_word_from_the_store_and_unknown_names(
    serve_server: ServerThread, serve_engines: ServeEngines, tmp_path: Path
) -> None:
    from wyoming.info import Describe, Info
    from wyoming.wake import Detect

    assert serve_engines.store is not None
    model = tiny_wake(tmp_path / "w", name="kitchen_word", phrase="hey kitchen")
    serve_engines.store.import_path(model, "wake", id="kitchen_word")
    port = serve_server.wyoming_port
    info = Info.from_event(wyoming(port, [Describe()], "info")[-1])
    words = {m.name: m.phrase for m in info.wake[0].models}
    assert words["kitchen_word"] == "hey kitchen"
    # Random weights and a -3 bias score low: three seconds of silence wake nothing.
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 3, np.int16), 16000, subtype="PCM_16")
    events = _wake_events(silence, ["kitchen_word", "hey_jarvis"], True)
    assert [e.type for e in wyoming(port, events, "not-detected")] == ["not-detected"]
    got = wyoming(port, [Detect(names=["hey_nobody"])], "error")
    assert got[-1].data["code"] == "wake-word-not-found"
    assert "hey_nobody" in got[-1].data["text"] and "hey_jarvis" in got[-1].data["text"]
