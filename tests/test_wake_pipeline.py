"""Wake mode in the live pipeline, on the real engines and the real wake-word detector,
fed by speech played in real time (a scripted source; open speakers on PulseAudio are in
test_wake_pulse.py)."""

from __future__ import annotations

import time

import pytest
from test_pipeline import Recorder, said

from assistant.audio.playback import Player
from assistant.cli.listen import _chime
from assistant.config import Config
from assistant.engines import Engines
from assistant.pipeline import (
    Conversation,
    ScriptedSource,
    State,
    StateChanged,
    TurnFinished,
    Utterance,
)
from assistant.store import ModelStore
from assistant.wake import WakeGate, load_detector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def config() -> Config:
    config = Config()
    config.llm.temperature = 0.0
    config.llm.max_tokens = 30
    return config


@pytest.fixture(scope="module")
def engines(config) -> Engines:
    return Engines.load(config, ModelStore.from_config(config.models))


def test_asleep_it_ignores_speech_then_wakes_answers_and_sleeps_again(engines, config):
    before = said(engines, "I think the cat is hungry.")
    request = said(engines, "Hey Jarvis, what is the capital of France?")
    source = ScriptedSource([Utterance(0.3, before), Utterance(3.5, request)])
    player = Player(engines.voice.sample_rate, simulated=True)
    chimes: list[float] = []
    gate = WakeGate(load_detector(["hey_jarvis"]), follow_up_s=1.5)
    play_chime = _chime(player, engines.voice.sample_rate)
    conversation = Conversation.from_engines(
        engines, config=config, source=lambda: source, player=player, wake=gate,
        chime=lambda: (chimes.append(time.monotonic()), play_chime()),
    )  # fmt: skip
    events = Recorder()
    conversation.subscribe(events)
    conversation.start()
    try:
        finished = events.wait_for(TurnFinished, 1, timeout=90)
        deadline = time.monotonic() + 20
        while conversation.state != State.ASLEEP and time.monotonic() < deadline:
            time.sleep(0.1)
        asleep_again = conversation.state == State.ASLEEP
    finally:
        conversation.stop()
    assert len(chimes) == 1
    text = finished[0].user_text.lower()
    assert "capital of france" in text
    assert "cat" not in text and "hungry" not in text and "jarvis" not in text
    states = [e.state for e in events.of(StateChanged)]
    assert states[0] == State.ASLEEP
    assert states[1] == State.LISTENING  # woken by the word, not by the first sentence
    assert State.SPEAKING in states
    assert asleep_again  # the follow-up window passed in silence
    assert State.ASLEEP in states[states.index(State.SPEAKING) :]
    assert len(events.of(TurnFinished)) == 1
