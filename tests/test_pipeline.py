"""The live conversation pipeline on the real engines, fed by audio played in real time."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import soxr

from assistant.audio.playback import Player
from assistant.config import Config
from assistant.engines import Engines
from assistant.errors import AudioDeviceError
from assistant.pipeline import (
    Conversation,
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    ScriptedSource,
    SentenceSpoken,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
    Utterance,
)
from assistant.pipeline.turns import QUESTION_PAUSE, STATEMENT_PAUSE, early_end_pause
from assistant.store import ModelStore
from assistant.tts import synthesize_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def config() -> Config:
    config = Config()
    config.llm.temperature = 0.0
    config.llm.max_tokens = 60
    return config


@pytest.fixture(scope="module")
def engines(config) -> Engines:
    return Engines.load(config, ModelStore.from_config(config.models))


class Recorder:
    """Collects events; ``wait_for`` blocks until one matches."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, kind: type, count: int = 1, timeout: float = 60.0) -> list:
        with self._changed:
            self._changed.wait_for(lambda: len(self.of(kind)) >= count, timeout)
        found = self.of(kind)
        assert len(found) >= count, f"expected {count} {kind.__name__}, got {found}"
        return found

    def wait_until(self, done, timeout: float = 60.0) -> None:
        """Block until ``done(self)`` is true; fails the test on ``timeout``."""
        with self._changed:
            assert self._changed.wait_for(lambda: done(self), timeout), "timed out"


def converse(engines, config, source, player, **kwargs) -> tuple[Conversation, Recorder]:
    conversation = Conversation.from_engines(
        engines, config=config, source=source, player=player, **kwargs
    )
    recorder = Recorder()
    conversation.subscribe(recorder)
    conversation.start()
    return conversation, recorder


def said(engines, text: str):
    return synthesize_all(engines.voice, text)


def _edge_silence(audio, *, leading: bool = False) -> float:
    """Seconds before the first (``leading``) or after the last sample above -34 dBFS."""
    loud = np.flatnonzero(np.abs(audio.samples) > 0.02)
    samples = loud[0] if leading else len(audio.samples) - 1 - loud[-1]
    return samples / audio.sample_rate


def test_two_turn_conversation_remembers_the_first_turn(engines, config):
    source = ScriptedSource([Utterance(0.3, said(engines, "My name is Ada. Please remember it."))])
    player = Player(engines.voice.sample_rate, simulated=True)
    # The punctuation rule's longer waits: on a loaded machine the end-of-turn model ends
    # these turns before the partials stage has a transcript to show (it then drops it).
    conversation, events = converse(
        engines, config, lambda: source, player, turn_model="punctuation"
    )
    try:
        events.wait_for(TurnFinished, 1, timeout=60)
        time.sleep(0.5)
        source.play_now(said(engines, "What is my name?"))
        finished = events.wait_for(TurnFinished, 2, timeout=60)
    finally:
        conversation.stop()
    assert "ada" in finished[0].user_text.lower()
    assert "what is my name" in finished[1].user_text.lower()
    assert "ada" in finished[1].spoken_text.lower()
    assert not any(f.interrupted for f in finished)
    assert events.of(PartialTranscript), "no partial transcript while the user spoke"
    states = [e.state for e in events.of(StateChanged)]
    assert states[:5] == [State.LISTENING, State.HEARING, State.THINKING, State.SPEAKING,
                          State.LISTENING]  # fmt: skip
    metrics = events.of(TurnMetrics)[0]
    assert 0 < metrics.transcript < metrics.first_token < metrics.first_audio < metrics.end
    history = conversation.history
    assert [m.role for m in history] == ["user", "assistant"] * 2
    assert history[3].content == finished[1].spoken_text
    played = np.concatenate(player.played)
    assert np.abs(played).max() > 0.05


def test_speech_over_the_reply_cuts_it_and_history_keeps_only_what_was_heard(engines, config):
    config = Config.from_dict(config.to_dict())
    config.llm.max_tokens = 200
    source = ScriptedSource(
        [Utterance(0.3, said(engines, "Tell me a long story about a dragon.")),
         Utterance(7.5, said(engines, "Stop. What is two plus two?"))]
    )  # fmt: skip
    player = Player(engines.voice.sample_rate, simulated=True)
    conversation, events = converse(engines, config, lambda: source, player)
    try:
        finished = events.wait_for(TurnFinished, 2, timeout=90)
    finally:
        conversation.stop()
    first, second = finished[:2]
    assert first.interrupted
    assert len(first.spoken_text) < len(first.full_text)
    assert re.search(r"(2|two) plus (2|two)", second.user_text.lower()), second.user_text
    assert conversation.history[1].content == (first.spoken_text or "…")
    assert len(conversation.barge_in_stops) == 1
    assert conversation.barge_in_stops[0] < 0.3
    # Playback really stopped: far less audio was played than the story needs.
    assert sum(len(b) for b in player.played) / player.sample_rate < 20


def test_typed_text_and_push_to_talk_start_turns(engines, config):
    question = said(engines, "What is the capital of France?")
    source = ScriptedSource([Utterance(1.0, question)])
    player = Player(engines.voice.sample_rate, simulated=True, realtime=False)
    conversation, events = converse(engines, config, lambda: source, player, mode="push-to-talk")
    try:
        conversation.push_to_talk(True)
        time.sleep(question.duration + 1.3)
        conversation.push_to_talk(False)
        heard = events.wait_for(FinalTranscript, 1)
        conversation.wait_idle(60)
        conversation.send_text("Thank you.")
        finished = events.wait_for(TurnFinished, 2)
    finally:
        conversation.stop()
    assert "capital of france" in heard[0].text.lower()
    assert finished[1].user_text == "Thank you." and finished[1].spoken_text


class _FlakyMicrophone:
    """Delivers ``blocks`` of silence, then fails like an unplugged device."""

    def __init__(self, blocks: int) -> None:
        self._count = blocks

    def blocks(self) -> Iterator[np.ndarray]:
        for _ in range(self._count):
            time.sleep(0.03)
            yield np.zeros(480, np.float32)
        raise AudioDeviceError("the microphone was unplugged")

    def close(self) -> None:
        pass


def test_an_input_device_that_vanishes_is_reported_and_the_next_turn_works(engines, config):
    attempts = []
    question = said(engines, "What is the capital of France?")

    def open_source():
        attempts.append(time.monotonic())
        if len(attempts) == 1:  # unplugged mid-stream
            return _FlakyMicrophone(blocks=10)
        if len(attempts) == 2:  # still missing when the pipeline tries again
            return _FlakyMicrophone(blocks=0)
        return ScriptedSource([Utterance(0.3, question)])

    player = Player(engines.voice.sample_rate, simulated=True, realtime=False)
    conversation, events = converse(engines, config, open_source, player)
    try:
        finished = events.wait_for(TurnFinished, 1, timeout=60)
    finally:
        conversation.stop()
    errors = events.of(ErrorEvent)
    assert len(errors) == 1, errors  # reported once, not once per retry
    assert errors[0].source == "input" and "unplugged" in errors[0].message
    # The turn after the outage is heard (the words: whisper-tiny on a random Piper take).
    assert "capital of" in finished[0].user_text.lower()


def test_a_hundred_turns_keep_memory_and_threads_flat(engines, config):
    config = Config.from_dict(config.to_dict())
    config.llm.max_tokens = 12
    config.llm.context_size = 512
    source = ScriptedSource([])
    player = Player(engines.voice.sample_rate, simulated=True, realtime=False)
    conversation, events = converse(engines, config, lambda: source, player)

    def rss_mb() -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096 / 2**20

    try:
        samples = {}
        for turn in range(1, 101):
            player.played.clear()
            events.events.clear()
            if turn % 10 == 0:  # long conversations are trimmed; new ones start empty
                conversation.new_conversation()
            conversation.send_text(f"Say the number {turn}.")
            events.wait_for(TurnFinished, 1, timeout=60)
            conversation.wait_idle(10)
            if turn in (20, 100):
                samples[turn] = (rss_mb(), threading.active_count())
    finally:
        conversation.stop()
    assert samples[100][1] == samples[20][1]
    assert samples[100][0] - samples[20][0] < 40, samples


class _Room:
    """Open speakers: what the player plays reaches the microphone ``delay`` after it
    was played, ``gain`` quieter, with a short reverberation tail.

    Each block lands at the microphone sample that is ``delay`` after the moment it was
    played (the microphone's first sample being the first call), so the delay holds
    across the silences between replies and whatever the threads' timing; a block that
    follows the previous one within half a block is joined to it, so a reply's echo
    stays one unbroken signal."""

    def __init__(self, player: Player, *, delay: float = 0.05, gain: float = 0.35) -> None:
        self._player = player
        self._read = 0
        self._gain = gain
        self._delay = delay
        rng = np.random.default_rng(7)
        tail = np.exp(-np.arange(1600) / 300.0) * rng.standard_normal(1600) * 0.05
        tail[0] = 1.0
        self._impulse = (tail / np.abs(tail).sum() * 2).astype(np.float32)  # ~100 ms room
        self._resampler = soxr.ResampleStream(  # no look-ahead: each block as it comes
            player.sample_rate, 16000, 1, dtype="float32", quality="QQ"
        )
        self._start: float | None = None
        self._position = 0  # microphone samples handed out so far
        self._echo = np.zeros(0, np.float32)  # what reaches the microphone from _position
        self._end = 0  # where the last block's sound ends, in microphone samples

    def mix(self, n: int) -> np.ndarray:
        if self._start is None:
            self._start = time.monotonic()
        count = len(self._player.played)
        for block, at in zip(
            self._player.played[self._read : count],
            self._player.played_at[self._read : count],
            strict=True,
        ):
            sound = self._resampler.resample_chunk(block) * self._gain
            if not len(sound):
                continue
            begin = int((at + self._delay - self._start) * 16000) - len(sound)
            if abs(begin - self._end) < len(sound) // 2:
                begin = self._end  # the same reply going on
            begin = max(begin, self._position)
            wet = np.convolve(sound, self._impulse)
            need = begin + len(wet) - self._position
            if need > len(self._echo):
                self._echo = np.pad(self._echo, (0, need - len(self._echo)))
            self._echo[begin - self._position : need] += wet
            self._end = begin + len(sound)
        self._read = count
        out, self._echo = self._echo[:n], self._echo[n:]
        self._position += n
        return np.pad(out, (0, n - len(out))).astype(np.float32)


def _open_speaker_conversation(engines, config, echo):
    config = Config.from_dict(config.to_dict())
    config.llm.max_tokens = 200
    player = Player(engines.voice.sample_rate, simulated=True)
    room = _Room(player)
    source = ScriptedSource(
        [Utterance(0.3, said(engines, "Tell me a long story about a dragon.")),
         Utterance(11.0, said(engines, "What is two plus two?"))],
        mix=room.mix,
    )  # fmt: skip
    conversation, events = converse(engines, config, lambda: source, player, echo=echo)
    return conversation, events, player, source


def test_the_assistant_does_not_hear_itself_on_open_speakers_but_hears_the_user(engines, config):
    from assistant.audio.echo import make_echo_canceller

    echo = make_echo_canceller("webrtc")
    conversation, events, player, source = _open_speaker_conversation(engines, config, echo)
    try:
        # Until the second reply has ended or said two sentences (its echo among them).
        events.wait_until(
            lambda e: (
                len(e.of(TurnFinished)) >= 2 or sum(s.turn == 2 for s in e.of(SentenceSpoken)) >= 2
            ),
            timeout=90,
        )
    finally:
        conversation.stop()
    heard = [e.text.lower() for e in events.of(FinalTranscript)]
    # The only turns are the user's two questions: the reply's echo started none.
    assert len(heard) == 2 and "dragon" in heard[0], heard
    assert re.search(r"(2|two) plus (2|two)", heard[1]), heard
    # It spoke for seconds (its echo filling the microphone) until the user cut it, and
    # its echo cut neither reply: the user's question is the only barge-in.
    first = events.of(TurnFinished)[0]
    assert first.interrupted and first.at >= source.onsets[1]
    assert len(conversation.barge_in_stops) == 1, conversation.barge_in_stops
    assert sum(len(b) for b in player.played) / player.sample_rate > 3.0


def test_without_echo_cancellation_the_echo_interrupts_the_reply(engines, config):
    conversation, events, player, _ = _open_speaker_conversation(engines, config, echo=None)
    try:
        first = events.wait_for(TurnFinished, 1, timeout=60)[0]
        played = sum(len(b) for b in player.played) / player.sample_rate
    finally:
        conversation.stop()
    # Control for the test above: the same room without a canceller barges in on itself,
    # its own voice cutting the reply long before the user speaks (11 s in).
    assert first.interrupted and conversation.barge_in_stops
    assert played < 6.0, played


class _UnpluggableStream:
    """Stands in for sounddevice's OutputStream (no hardware can be unplugged here): the
    first stream dies after ``blocks`` writes, like speakers pulled out mid-reply."""

    opened = 0

    def __init__(self, *, samplerate: int, **kwargs) -> None:
        type(self).opened += 1
        self._left = 25 if type(self).opened == 1 else None
        self.samplerate = samplerate

    def start(self) -> None:
        pass

    def write(self, block: np.ndarray) -> None:
        import sounddevice

        if self._left is not None:
            self._left -= 1
            if self._left < 0:
                raise sounddevice.PortAudioError("Stream is stopped: device unplugged")
        time.sleep(len(block) / self.samplerate)

    def close(self) -> None:
        pass


def test_an_output_device_that_vanishes_is_reported_and_the_next_reply_plays(
    engines, config, monkeypatch
):
    import sounddevice

    monkeypatch.setattr(sounddevice, "OutputStream", _UnpluggableStream)
    _UnpluggableStream.opened = 0
    player = Player(engines.voice.sample_rate)
    source = ScriptedSource(
        [Utterance(0.3, said(engines, "What is the capital of France?")),
         Utterance(9.0, said(engines, "What is the tallest mountain in the world?"))]
    )  # fmt: skip
    conversation, events = converse(engines, config, lambda: source, player)
    try:
        finished = events.wait_for(TurnFinished, 2, timeout=90)
    finally:
        conversation.stop()
        player.close()
    errors = events.of(ErrorEvent)
    assert [e.source for e in errors] == ["output"], errors
    assert "unplugged" in errors[0].message
    assert finished[1].spoken_text and not finished[1].interrupted
    assert _UnpluggableStream.opened == 2


def test_a_short_pause_mid_sentence_does_not_end_the_turn(engines, config):
    first = said(engines, "I would like to know")
    second = said(engines, "the capital of France.")
    # A 450 ms hesitation, counted from the last loud sample to the next (the voice pads
    # its clips with silence): longer than the speculation delay, shorter than the pause
    # that ends a finished-looking statement (whisper writes "I would like to know.").
    assert STATEMENT_PAUSE > 0.45
    padding = _edge_silence(first) + _edge_silence(second, leading=True)
    gap = 0.45 - padding
    source = ScriptedSource([Utterance(0.3, first), Utterance(0.3 + first.duration + gap, second)])
    player = Player(engines.voice.sample_rate, simulated=True, realtime=False)
    conversation, events = converse(engines, config, lambda: source, player)
    try:
        finished = events.wait_for(TurnFinished, 1, timeout=60)
        time.sleep(1.0)
    finally:
        conversation.stop()
    heard = [e.text.lower() for e in events.of(FinalTranscript)]
    assert len(heard) == 1, heard
    assert "know" in heard[0] and "capital of france" in heard[0]
    assert finished[0].user_text == events.of(FinalTranscript)[0].text


@pytest.mark.parametrize(
    ("text", "pause"),
    [
        ("What is the capital of France?", QUESTION_PAUSE),
        ("Tell me a short story about a dragon.", STATEMENT_PAUSE),
        ("Stop it now!", STATEMENT_PAUSE),
        ("What is the capital of?", None),  # left hanging
        ("Tell me about the.", None),
        ("I went to the shop and", None),  # no closing punctuation
        ("Well...", None),
        ("Paris?", None),  # too short to be sure
        ("", None),
    ],
)
def test_how_soon_a_pause_ends_a_turn(text, pause):
    assert early_end_pause(text) == pause
