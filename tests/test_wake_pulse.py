"""Wake mode on real PulseAudio virtual devices with open speakers: the speaker's sound is
looped into the microphone (``module-loopback``), so the assistant hears its own voice as
a room would carry it. Its own announcement saying the wake word must not wake it (the
detector listens to the echo-cancelled signal); the same loop without echo cancellation
does wake it (the control), and the user saying the word over the loop still wakes it.
Run under ``flock /tmp/pulse.lock``."""

from __future__ import annotations

import subprocess
import time

import pytest
from test_pipeline import Recorder

from assistant.audio.echo import make_echo_canceller
from assistant.audio.playback import Player
from assistant.config import Config
from assistant.engines import Engines
from assistant.pipeline import Announced, Conversation, MicrophoneSource, State, StateChanged
from assistant.store import ModelStore
from assistant.wake import WakeGate, load_detector

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

_OWN_WORDS = "Reminder: hey Jarvis. Hey Jarvis, what time is it?"


@pytest.fixture(scope="module")
def engines() -> Engines:
    config = Config()
    return Engines.load(config, ModelStore.from_config(config.models))


@pytest.fixture
def open_speakers(private_audio):
    """This test's speaker looped into its microphone: ``(speaker, feed)``."""
    speaker, feed = private_audio
    module = subprocess.run(
        ["pactl", "load-module", "module-loopback", f"source={speaker}.monitor", f"sink={feed}",
         "latency_msec=40"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    yield speaker, feed
    subprocess.run(["pactl", "unload-module", module], check=False)


def _asleep_conversation(engines: Engines, echo) -> tuple[Conversation, Recorder, list, Player]:
    config = Config()
    config.llm.max_tokens = 16
    player = Player(engines.voice.sample_rate)
    chimes: list[float] = []
    conversation = Conversation.from_engines(
        engines, config=config, source=lambda: MicrophoneSource(), player=player, echo=echo,
        wake=WakeGate(load_detector(["hey_jarvis"]), follow_up_s=1.0),
        chime=lambda: chimes.append(time.monotonic()),
    )  # fmt: skip
    events = Recorder()
    conversation.subscribe(events)
    conversation.start()
    return conversation, events, chimes, player


def _announce_and_wait(conversation: Conversation, events: Recorder) -> float:
    """Announce the wake word in the assistant's voice; returns the seconds it spoke."""
    time.sleep(1.0)  # the microphone is open and the detector primed
    assert conversation.state == State.ASLEEP
    conversation.announce(_OWN_WORDS, kind="reminder")
    events.wait_for(Announced, 1, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        changes = events.of(StateChanged)
        spoke = [e.at for e in changes if e.state == State.SPEAKING]
        ended = [e.at for e in changes if spoke and e.previous == State.SPEAKING]
        if ended:
            break
        time.sleep(0.1)
    time.sleep(1.5)  # the echo's tail and the detector's last windows
    return (ended[0] - spoke[0]) if ended else 0.0


def test_its_own_voice_on_open_speakers_does_not_wake_it_but_the_user_does(
    engines, open_speakers, speak
):
    _, feed = open_speakers
    conversation, events, chimes, player = _asleep_conversation(
        engines, make_echo_canceller("webrtc")
    )
    try:
        spoke = _announce_and_wait(conversation, events)
        assert spoke > 2.0, "the announcement was not played"
        assert chimes == [], "its own voice woke it"
        assert conversation.state == State.ASLEEP
        # The user over the same loop: the word wakes it.
        subprocess.run(["paplay", f"--device={feed}", str(speak("Hey Jarvis!"))], check=True)
        deadline = time.monotonic() + 5
        while not chimes and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(chimes) == 1, "the user's wake word was not heard"
    finally:
        conversation.stop()
        player.close()


def test_without_echo_cancellation_its_own_voice_wakes_it(engines, open_speakers):
    # Control for the test above: the loop does carry the announcement to the detector.
    conversation, events, chimes, player = _asleep_conversation(engines, echo=None)
    try:
        spoke = _announce_and_wait(conversation, events)
    finally:
        conversation.stop()
        player.close()
    assert spoke > 2.0
    assert chimes, "the loop did not carry the assistant's voice to the microphone"
