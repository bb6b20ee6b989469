"""Echo cancellation on real speech in a simulated room: the assistant's reply (the Piper
voice) leaks back into the microphone, delayed, reverberant and quieter than the user
(an espeak-ng voice), over a little noise. The real Silero VAD judges whether a turn
starts."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from assistant.audio import ASR_RATE, read_audio
from assistant.audio import echo as echo_module
from assistant.audio.echo import (
    EchoCanceller,
    HalfDuplexGate,
    PassThrough,
    WebRtcEchoCanceller,
    make_echo_canceller,
    webrtc_available,
)
from assistant.config import VadConfig
from assistant.errors import AudioError
from assistant.vad import Endpointer, SileroVad, SpeechStarted, speech_segments

REPLY = (
    "The weather today is sunny with a high of twenty two degrees. Tomorrow brings "
    "rain in the afternoon, so you may want to take an umbrella when you go out."
)
QUESTION = "What time is it in Tokyo right now?"
ECHO_DELAYS_S = (0.03, 0.08)  # output + input buffering + air
ECHO_BELOW_USER_DB = 9.0  # the echo is this much quieter than the user's voice
USER_LEVEL_DBFS = -26.0  # RMS of the user's active speech at the microphone
NOISE_DBFS = -65.0
USER_AT_S = 2.5  # the user starts talking over the reply here
WARMUP_S = 0.5  # AEC adaptation allowance
# Where the detected speech may start, from the user's true onset. Piper's voice differs a
# little each run (VITS samples noise); over 40 runs WebRTC's start was 23 ms after the
# onset in most, 311 ms in 2 (its suppressor took the first word, "what", under a loud
# stretch of the reply; the utterance's 300 ms pre-roll still holds it).
START_TOLERANCE_S = 0.4
CHUNKS = (320, 160, 480)  # 20, 10, 30 ms, like a sound card's callbacks


@dataclass(frozen=True)
class Scene:
    """One simulated open-speaker recording, 16 kHz float32."""

    reference: np.ndarray
    """What the assistant plays (its reply), as handed to the speaker."""
    echo: np.ndarray
    """The reply as the microphone hears it: delayed, reverberant, quieter; with noise."""
    user: np.ndarray
    """The user's question as the microphone hears it, same length, silent before."""
    user_onset: int
    """Sample where the user's voice starts."""

    @property
    def mix(self) -> np.ndarray:
        return self.echo + self.user


def _rms_db(samples: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.square(samples)) + 1e-20)


def _active(samples: np.ndarray, frame: int = 160) -> np.ndarray:
    """The 10 ms frames of ``samples`` within 30 dB of its loudest."""
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    power = np.mean(np.square(frames), axis=1)
    return frames[power > power.max() * 1e-3]


def _room_response(rng: np.random.Generator) -> np.ndarray:
    """A direct path and a ~100 ms exponentially decaying noise tail; unit energy."""
    n = int(0.1 * ASR_RATE)
    response = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.02 * ASR_RATE)) * 0.3
    response[0] = 1.0
    return response / np.sqrt(np.sum(np.square(response)))


@pytest.fixture(scope="module")
def user_voice(tmp_path_factory: pytest.TempPathFactory, speak) -> np.ndarray:
    """The question in a voice other than the assistant's (espeak-ng; the Piper voice
    where espeak-ng is missing)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return read_audio(speak(QUESTION, lead_silence=0.0, tail_silence=0.3)).samples
    path = tmp_path_factory.mktemp("espeak") / "question.wav"
    subprocess.run([espeak, "-w", str(path), QUESTION], check=True, capture_output=True)
    return read_audio(path).samples


def _scene(speak, user_voice: np.ndarray, delay_s: float) -> Scene:
    rng = np.random.default_rng(7)
    reference = read_audio(speak(REPLY)).samples
    delay = int(delay_s * ASR_RATE)
    total = len(reference) + delay + int(0.5 * ASR_RATE)
    echo = np.zeros(total)
    room = np.convolve(reference, _room_response(rng))[: total - delay]
    echo[delay : delay + len(room)] = room

    user_gain = 10 ** ((USER_LEVEL_DBFS - _rms_db(_active(user_voice))) / 20)
    echo_target = USER_LEVEL_DBFS - ECHO_BELOW_USER_DB
    echo *= 10 ** ((echo_target - _rms_db(_active(echo))) / 20)
    echo += rng.standard_normal(total) * 10 ** (NOISE_DBFS / 20)

    at = int(USER_AT_S * ASR_RATE)
    user = np.zeros(total)
    user[at : at + len(user_voice)] = user_voice * user_gain
    onset = at + int(np.argmax(np.abs(user_voice) > 0.05 * np.abs(user_voice).max()))
    assert onset + len(user_voice) < len(reference), "the question must end before the reply"
    return Scene(
        reference=np.concatenate([reference, np.zeros(total - len(reference))]).astype(np.float32),
        echo=echo.astype(np.float32),
        user=user.astype(np.float32),
        user_onset=onset,
    )


@pytest.fixture(
    scope="module", params=ECHO_DELAYS_S, ids=[f"delay{d * 1000:.0f}ms" for d in ECHO_DELAYS_S]
)
def scene(request: pytest.FixtureRequest, speak, user_voice: np.ndarray) -> Scene:
    return _scene(speak, user_voice, request.param)


def _chunks(n: int) -> Iterator[slice]:
    i = k = 0
    while i < n:
        size = CHUNKS[k % len(CHUNKS)]
        yield slice(i, min(n, i + size))
        i += size
        k += 1


def _run(canceller: EchoCanceller, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """As a real-time loop would: each chunk of playback is handed over just before the
    microphone chunk recorded while it played."""
    out = []
    for part in _chunks(len(mic)):
        canceller.add_reference(reference[part])
        out.append(canceller.process(mic[part]))
    return np.concatenate(out)


def _segments(vad: SileroVad, samples: np.ndarray) -> list[tuple[float, float]]:
    vad.reset()
    probs = vad.probabilities(samples)
    found = speech_segments(probs, VadConfig(), num_samples=len(samples))
    return [(segment.start_s, segment.end_s) for segment in found]


def _first_start(vad: SileroVad, samples: np.ndarray) -> SpeechStarted | None:
    """The endpointer's first speech start, streaming ``samples`` in sound-card chunks."""
    endpointer = Endpointer(vad, VadConfig())
    for part in _chunks(len(samples)):
        for event in endpointer.push(samples[part]):
            if isinstance(event, SpeechStarted):
                return event
    return None


def _erle_db(mic: np.ndarray, out: np.ndarray) -> float:
    """Echo return loss enhancement over the echo-only stretch after the warm-up, in the
    frames where the echo is loud (within 30 dB of its peak)."""
    start, frame = int(WARMUP_S * ASR_RATE), 160
    n = (len(mic) - start) // frame * frame
    mic_frames = mic[start : start + n].reshape(-1, frame)
    out_frames = out[start : start + n].reshape(-1, frame)
    power = np.mean(np.square(mic_frames), axis=1)
    loud = power > power.max() * 1e-3
    left = float(np.sum(np.square(out_frames[loud])))
    if left == 0.0:  # the gate muted it all
        return float("inf")
    return float(10 * np.log10(np.sum(np.square(mic_frames[loud])) / left))


def _check_double_talk(
    vad: SileroVad, canceller: EchoCanceller, scene: Scene, label: str
) -> SpeechStarted:
    cleaned = _run(canceller, scene.mix, scene.reference)
    start = _first_start(vad, cleaned)
    assert start is not None, f"{label}: the user's question over the echo went unheard"
    onset = scene.user_onset
    print(
        f"{label}: user onset {onset / ASR_RATE:.2f} s, speech start "
        f"{start.at / ASR_RATE:.2f} s, announced {start.detected_at / ASR_RATE:.2f} s "
        f"({(start.detected_at - onset) / ASR_RATE * 1000:.0f} ms after the onset)"
    )
    assert abs(start.at - onset) <= START_TOLERANCE_S * ASR_RATE, f"{label}: not the user's start"
    return start


def test_raw_echo_alone_would_start_a_turn(vad: SileroVad, scene: Scene) -> None:
    # The baseline that makes the tests below mean something.
    assert _segments(vad, scene.echo), "the simulated echo is too quiet to matter"
    start = _first_start(vad, scene.mix)
    assert start is not None and start.at < scene.user_onset - 0.5 * ASR_RATE


def test_webrtc_echo_alone_starts_no_turn(vad: SileroVad, scene: Scene) -> None:
    cleaned = _run(WebRtcEchoCanceller(delay_ms=0), scene.echo, scene.reference)
    erle = _erle_db(scene.echo, cleaned)
    print(f"webrtc: ERLE {erle:.1f} dB")
    assert erle >= 10.0
    assert _segments(vad, cleaned[int(WARMUP_S * ASR_RATE) :]) == []


def test_webrtc_hears_the_user_over_the_echo(vad: SileroVad, scene: Scene) -> None:
    _check_double_talk(vad, WebRtcEchoCanceller(delay_ms=0), scene, "webrtc")


def test_gate_echo_alone_starts_no_turn(vad: SileroVad, scene: Scene) -> None:
    cleaned = _run(HalfDuplexGate(), scene.echo, scene.reference)
    print(f"gate: ERLE {_erle_db(scene.echo, cleaned):.1f} dB")
    assert _segments(vad, cleaned[int(WARMUP_S * ASR_RATE) :]) == []


def test_gate_hears_the_user_over_the_echo(vad: SileroVad, scene: Scene) -> None:
    # The gate passes the user only where the microphone is 6 dB over the echo it expects,
    # and it knows what to expect once it has heard the reply for a while (here 2.2 s):
    # a user 9 dB over the echo gets through; one barging in at the reply's first word
    # would need to be as loud as the playback itself plus 6 dB.
    _check_double_talk(vad, HalfDuplexGate(), scene, "gate")


def test_off_passes_audio_through(scene: Scene) -> None:
    off = make_echo_canceller("off")
    assert isinstance(off, PassThrough)
    np.testing.assert_array_equal(_run(off, scene.mix, scene.reference), scene.mix)


@pytest.mark.parametrize("make", [HalfDuplexGate, WebRtcEchoCanceller])
def test_output_has_the_input_length_for_any_chunking(make: Callable[[], EchoCanceller]) -> None:
    canceller = make()
    rng = np.random.default_rng(0)
    for size in (1, 159, 160, 161, 333, 0, 480, 7):
        canceller.add_reference(rng.standard_normal(size).astype(np.float32) * 0.1)
        out = canceller.process(rng.standard_normal(size).astype(np.float32) * 0.1)
        assert out.shape == (size,) and out.dtype == np.float32
    canceller.reset()
    assert canceller.process(np.zeros(160, np.float32)).shape == (160,)


def test_gate_passes_the_microphone_when_nothing_plays() -> None:
    mic = np.random.default_rng(1).standard_normal(1600).astype(np.float32) * 0.01
    np.testing.assert_array_equal(HalfDuplexGate().process(mic), mic)


def test_auto_falls_back_to_the_gate_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> None:
        raise ImportError("No module named 'livekit'")

    monkeypatch.setattr(echo_module, "_import_livekit_rtc", missing)
    with caplog.at_level(logging.INFO, logger="assistant.audio.echo"):
        canceller = make_echo_canceller("auto")
    assert isinstance(canceller, HalfDuplexGate)
    assert [r.getMessage() for r in caplog.records if "half-duplex gate" in r.getMessage()]
    assert "livekit" in caplog.text
    with pytest.raises(AudioError, match="livekit"):
        make_echo_canceller("webrtc")


def test_auto_picks_webrtc_when_available() -> None:
    assert isinstance(make_echo_canceller("auto", delay_ms=40), WebRtcEchoCanceller)


def test_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="auto, webrtc, gate, off"):
        make_echo_canceller("loud")


def test_webrtc_echo_cancellation_is_installed():
    # livekit is a runtime dependency: without it "auto" silently degrades to gating.
    available, reason = webrtc_available()
    assert available, reason
