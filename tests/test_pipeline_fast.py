"""The live pipeline's timing logic on scripted engines (tests/fakes.py): speculation,
early end of turn, barge-in, push-to-talk, failing engines, cancellation. The real
pipeline runs unchanged; the test steps it through exactly the audio it feeds, so each
case takes a fraction of a second. The same behaviours on the real models are in
test_pipeline.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.playback import Player
from assistant.bench.fakes import (
    FakeChat,
    FakeTranscriber,
    FakeVad,
    FakeVoice,
    FeedSource,
    Phrasebook,
    Recorder,
    silence,
)
from assistant.config import Config
from assistant.errors import EngineError
from assistant.pipeline import (
    Conversation,
    ErrorEvent,
    FinalTranscript,
    ReplySources,
    SentenceSpoken,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.reply import LocalReply, ReplyContext, ReplyHooks, Source
from assistant.tts import SpeechChunk


@dataclass
class Rig:
    """A conversation on fake engines, fed by the test."""

    phrases: Phrasebook
    source: FeedSource
    transcriber: FakeTranscriber
    chat: FakeChat
    voice: FakeVoice
    player: Player
    conversation: Conversation
    events: Recorder

    def say(self, text: str, seconds: float = 0.4) -> np.ndarray:
        return self.phrases.audio(text, seconds)

    def wait_state(self, state: State, timeout: float = 2.0) -> None:
        self.events.wait_until(lambda: self.conversation.state == state, timeout)


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(
        *,
        chat: FakeChat | None = None,
        voice: FakeVoice | None = None,
        transcriber_fail: Exception | None = None,
        mode: str = "hands-free",
        realtime: bool = False,
        hooks: ReplyHooks | None = None,
        turn_model: object = "punctuation",
    ) -> Rig:
        phrases = Phrasebook()
        source = FeedSource()
        transcriber = FakeTranscriber(phrases, fail=transcriber_fail)
        chat = chat or FakeChat()
        voice = voice or FakeVoice()
        player = Player(voice.sample_rate, simulated=True, realtime=realtime)
        conversation = Conversation(
            vad=FakeVad(),
            transcriber=transcriber,
            chat=chat,
            voice=voice,
            config=Config(),
            source=lambda: source,
            player=player,
            mode=mode,
            hooks=hooks,
            turn_model=turn_model,  # type: ignore[arg-type]
        )
        events = Recorder()
        conversation.subscribe(events)
        conversation.start()
        made.append(Rig(phrases, source, transcriber, chat, voice, player, conversation, events))
        return made[-1]

    yield make
    for r in made:
        r.conversation.stop()
        r.player.close()
        assert r.conversation.state == State.IDLE


def test_a_speculative_reply_is_kept_when_the_pause_becomes_the_end(rig):
    r = rig()
    r.source.feed(r.say("tell me about the weather"), silence(0.15))
    r.source.settle()
    first = r.chat.calls.wait(1)  # answered 100 ms into the pause, unseen
    assert first[0][-1].content == "tell me about the weather"
    assert not r.events.of(FinalTranscript)  # held until the turn is confirmed
    r.source.feed(silence(0.7))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert len(r.chat.calls.items) == 1  # the speculation was the answer
    assert finished[0].user_text == "tell me about the weather"
    assert finished[0].spoken_text == "Sure. Here it is."
    assert not finished[0].interrupted
    assert [e.text for e in r.events.of(FinalTranscript)] == ["tell me about the weather"]
    r.wait_state(State.LISTENING)
    assert [m.role for m in r.conversation.history] == ["user", "assistant"]


def test_a_speculative_reply_is_dropped_unseen_when_the_user_goes_on(rig):
    r = rig()
    r.source.feed(r.say("what is the"), silence(0.2))
    r.source.settle()
    r.chat.calls.wait(1)
    r.source.feed(r.say("capital of France"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    time.sleep(0.05)  # nothing more may come from the dropped speculation
    assert len(r.events.of(TurnFinished)) == 1
    assert finished[0].user_text == "what is the capital of France"
    assert [e.text for e in r.events.of(FinalTranscript)] == ["what is the capital of France"]
    assert {e.turn for e in r.events.of(SentenceSpoken)} == {finished[0].turn}
    assert r.conversation.history[0].content == "what is the capital of France"


def test_a_finished_question_ends_the_turn_before_the_full_silence(rig):
    r = rig()
    r.source.feed(r.say("What is the capital of France?"), silence(0.15))
    r.source.settle()
    r.chat.calls.wait(1)
    # 0.45 s of pause in all: past the question pause (0.4 s), short of min_silence (0.7 s).
    r.source.feed(silence(0.3))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "What is the capital of France?"


def test_an_unfinished_sentence_waits_for_the_full_silence(rig):
    r = rig()
    r.source.feed(r.say("What is the capital of"), silence(0.15))
    r.source.settle()
    r.chat.calls.wait(1)
    r.source.feed(silence(0.4))
    r.source.settle()
    time.sleep(0.1)
    assert not r.events.of(TurnFinished)
    assert r.conversation.state == State.HEARING
    r.source.feed(silence(0.3))
    r.source.settle()
    r.events.wait_for(TurnFinished)


def test_the_turn_model_holds_an_unfinished_sentence_past_the_silence(rig, tmp_path: Path):
    from assistant.store import Catalog, ModelStore
    from assistant.turnmodel import MODES, TurnScorer

    hold = MODES[Config().turn.mode].hold_wait
    model = ModelStore(tmp_path, Catalog.load()).resolve("turn", "turn-en")
    r = rig(turn_model=TurnScorer(model.path))
    r.source.feed(r.say("I would like to"), silence(0.15))
    r.source.settle()
    r.chat.calls.wait(1)
    r.source.feed(silence(0.75))  # 0.9 s in all: past vad.min_silence_ms (0.7 s)
    r.source.settle()
    time.sleep(0.1)
    assert not r.events.of(TurnFinished)
    r.source.feed(r.say("book a table"), silence(hold + 0.3))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "I would like to book a table"
    r.wait_state(State.LISTENING)
    # A question the model is sure of ends well before the silence.
    calls = len(r.chat.calls.items)
    r.source.feed(r.say("How far away is the moon?"), silence(0.2))
    r.source.settle()
    r.chat.calls.wait(calls + 1)  # the speculation has its transcript
    sure = MODES[Config().turn.mode].sure_wait
    assert sure + 0.12 < Config().vad.min_silence_ms / 1000
    # Past the sure wait (the stage's clock starts a block or two into the silence),
    # short of the endpointer's silence.
    r.source.feed(silence(sure - 0.2 + 0.12))
    r.source.settle()
    assert r.events.wait_for(TurnFinished, count=2)[1].user_text == "How far away is the moon?"


def _speaking_rig(rig) -> Rig:
    def reply(text: str) -> list[str]:
        return ["OK."] if text == "stop" else ["One two three. ", "Four five six. ", "Seven."]

    r = rig(chat=FakeChat(reply=reply), voice=FakeVoice(seconds_per_char=0.015), realtime=True)
    r.source.feed(r.say("tell me a story"), silence(0.8))
    r.source.settle()
    r.wait_state(State.SPEAKING)
    return r


def test_speech_over_the_reply_pauses_it_at_once_and_cancels_it_when_confirmed(rig):
    r = _speaking_rig(rig)
    r.source.feed(r.say("stop", 0.06))  # two loud frames: not yet speech
    r.source.settle()
    assert r.player.paused
    r.source.feed(r.say("stop", 0.3))  # now it is: the reply is cut
    r.source.settle()
    first = r.events.wait_for(TurnFinished)[0]
    assert first.interrupted
    assert first.user_text == "tell me a story"
    assert len(first.spoken_text) < len(first.full_text)
    assert len(r.conversation.barge_in_stops) == 1
    assert not r.player.paused
    r.source.feed(silence(0.8))
    r.source.settle()
    second = r.events.wait_for(TurnFinished, 2)[1]
    assert second.user_text == "stop"
    assert r.conversation.history[1].content == (first.spoken_text or "…")


def test_a_short_noise_over_the_reply_pauses_it_and_then_it_resumes(rig, monkeypatch):
    monkeypatch.setattr("assistant.pipeline.capture.RESUME_AFTER", 0.1)
    r = _speaking_rig(rig)
    r.source.feed(r.say("cough", 0.06), silence(0.06))
    r.source.settle()
    assert r.player.paused
    time.sleep(0.15)
    r.source.feed(silence(0.06))
    r.source.settle()
    assert not r.player.paused
    finished = r.events.wait_for(TurnFinished, timeout=5)
    assert not finished[0].interrupted
    assert finished[0].spoken_text == "One two three. Four five six. Seven."
    assert not r.conversation.barge_in_stops


def test_push_to_talk_turns_start_and_end_with_the_button(rig):
    r = rig(mode="push-to-talk")
    r.conversation.push_to_talk(True)
    assert r.conversation.state == State.HEARING
    r.source.feed(r.say("hello there"), silence(1.0))  # a long pause ends nothing here
    r.source.settle()
    assert not r.chat.calls.items
    r.conversation.push_to_talk(False)
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "hello there"
    assert len(r.chat.calls.items) == 1
    r.wait_state(State.LISTENING)
    r.conversation.push_to_talk(True)
    r.conversation.push_to_talk(False)  # nothing said: back to listening, no turn
    r.wait_state(State.LISTENING)
    assert len(r.events.of(TurnFinished)) == 1


def test_typed_text_starts_a_turn_without_the_recogniser(rig):
    r = rig()
    r.conversation.send_text("hi")
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "hi"
    assert not r.transcriber.calls.items
    states = [e.state for e in r.events.of(StateChanged)]
    assert states == [State.LISTENING, State.THINKING, State.SPEAKING, State.LISTENING]


def test_the_voice_gives_back_memory_once_a_reply_has_played(rig):
    r = rig()
    r.conversation.send_text("hi")
    r.events.wait_for(TurnFinished)
    deadline = time.monotonic() + 2.0
    while r.voice.releases == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.voice.releases == 1
    assert r.voice.calls.items  # the reply was synthesized first


def test_a_command_turn_searches_no_documents_and_shows_no_sources(rig):
    searched: list[str] = []

    def context_for(text: str) -> ReplyContext:
        searched.append(text)
        source = Source("boiler.md", "/notes/boiler.md", "Pressure", "Keep it at 1.5 bar.")
        return ReplyContext("[1] (boiler.md) Keep it at 1.5 bar.", (source,), "From boiler.md.")

    def answer_locally(text: str) -> LocalReply | None:
        return LocalReply("It is noon.", intent="HassGetCurrentTime") if "time" in text else None

    r = rig(hooks=ReplyHooks(answer_locally=answer_locally, context_for=context_for))
    r.conversation.send_text("what time is it")
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].full_text == "It is noon."
    assert searched == []
    assert not r.events.of(ReplySources)
    assert not r.chat.calls.items
    # a turn for the model still gets its passages, sources and closing
    r.conversation.send_text("what pressure should the boiler have")
    finished = r.events.wait_for(TurnFinished, count=2)
    assert searched == ["what pressure should the boiler have"]
    assert [e.sources[0].name for e in r.events.of(ReplySources)] == ["boiler.md"]
    assert finished[1].full_text.endswith("From boiler.md.")
    assert "Keep it at 1.5 bar." in r.chat.calls.items[0][0].content


def test_a_failing_language_model_is_reported_and_the_next_turn_works(rig):
    r = rig(chat=FakeChat(reply=["Sure. ", "Here it", " is."], fail_after=2))
    r.conversation.send_text("hi")
    errors = r.events.wait_for(ErrorEvent)
    assert errors[0].source == "llm"
    assert "fake model broke" in errors[0].message
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].spoken_text == "Sure. Here it"  # what came before the failure was said
    r.wait_state(State.LISTENING)
    r.chat.fail_after = None
    r.chat.reply = ("Sure. ", "Here it is.")
    r.conversation.send_text("again")
    assert r.events.wait_for(TurnFinished, 2)[1].spoken_text == "Sure. Here it is."


def test_a_failing_recogniser_is_reported_and_the_pipeline_keeps_listening(rig):
    r = rig(transcriber_fail=EngineError("the fake recogniser broke"))
    r.source.feed(r.say("hello there"), silence(0.8))
    r.source.settle()
    errors = r.events.wait_for(ErrorEvent)
    assert "fake recogniser broke" in errors[0].message
    r.wait_state(State.LISTENING)
    r.conversation.send_text("typed")
    assert r.events.wait_for(TurnFinished)[0].user_text == "typed"


def test_a_failing_voice_is_reported_and_the_reply_is_still_written(rig):
    r = rig(voice=FakeVoice(fail=EngineError("the fake voice broke")))
    r.conversation.send_text("hi")
    errors = r.events.wait_for(ErrorEvent)
    assert errors[0].source == "tts"
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].full_text == "Sure. Here it is."
    assert finished[0].spoken_text == ""
    r.wait_state(State.LISTENING)


def test_stop_during_synthesis_cancels_the_turn_and_plays_nothing(rig):
    r = rig(voice=FakeVoice(delay=0.3), realtime=True)
    r.conversation.send_text("hi")
    assert r.voice.started.wait(2)
    r.conversation.interrupt()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].interrupted
    assert finished[0].spoken_text == ""
    r.wait_state(State.LISTENING)
    time.sleep(0.35)  # the synthesis returns: its audio must not play
    assert not any(np.abs(block).max() > 0 for block in r.player.played)


def test_stop_while_the_model_stalls_returns_to_listening(rig):
    hold = threading.Event()
    r = rig(chat=FakeChat(hold=hold))
    r.conversation.send_text("hi")
    r.chat.calls.wait(1)
    assert r.conversation.state == State.THINKING
    r.conversation.interrupt()
    r.wait_state(State.LISTENING, timeout=1.0)
    assert r.events.wait_for(TurnFinished)[0].interrupted
    hold.set()


def test_a_speculation_that_heard_no_words_does_not_leave_the_assistant_thinking(rig):
    # The cause of a turn that sat on "Thinking" with the CPU idle: a speculative turn
    # whose transcript was empty ended at once, the pause then became the end of the
    # utterance, confirming a turn nobody would finish.
    r = rig()
    r.source.feed(r.say("", 0.4), silence(0.15))  # a sound the recogniser finds no words in
    r.source.settle()
    r.transcriber.calls.wait(1)
    time.sleep(0.05)
    r.source.feed(silence(0.7))
    r.source.settle()
    r.wait_state(State.LISTENING, timeout=1.0)
    assert not r.events.of(TurnFinished)
    assert not r.chat.calls.items


def test_a_stalled_engine_is_reported_and_stop_still_returns_to_listening(rig, monkeypatch):
    monkeypatch.setattr("assistant.pipeline.watchdog.STALL_AFTER", 0.2)
    monkeypatch.setattr("assistant.pipeline.conversation.STOP_GRACE", 0.2)
    hold = threading.Event()
    r = rig(chat=FakeChat(hold=hold, deaf=True))  # it does not even notice the cut
    r.conversation.send_text("hi")
    error = r.events.wait_for(ErrorEvent)[0]
    assert error.source == "llm"
    assert "language model" in error.message
    assert r.conversation.state == State.THINKING
    r.conversation.interrupt()
    r.wait_state(State.LISTENING, timeout=1.0)
    assert not r.events.of(TurnFinished)  # the turn is still stuck in the engine
    hold.set()
    assert r.events.wait_for(TurnFinished)[0].interrupted


def test_a_reply_that_plays_longer_than_the_stall_limit_is_not_a_stall(rig, monkeypatch):
    monkeypatch.setattr("assistant.pipeline.watchdog.STALL_AFTER", 0.15)
    r = rig(voice=FakeVoice(seconds_per_char=0.03), realtime=True)  # 0.5 s of speech
    r.conversation.send_text("hi")
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].spoken_text == "Sure. Here it is."
    assert not r.events.of(ErrorEvent)


def test_the_model_waits_while_the_first_words_are_synthesized(rig):
    pulled: list[tuple[str, float]] = []  # each delta, when the model was asked for it

    def reply(_text: str) -> Iterator[str]:
        for delta in ("One day, ", "there ", "was a dragon. ", "The end."):
            pulled.append((delta, time.monotonic()))
            yield delta

    class TimedVoice(FakeVoice):
        def synthesize(self, text: str) -> Iterator[SpeechChunk]:
            yield from super().synthesize(text)
            voiced.append((text, time.monotonic()))

    voiced: list[tuple[str, float]] = []
    r = rig(chat=FakeChat(reply=reply), voice=TimedVoice(delay=0.2))
    r.conversation.send_text("hi")
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].spoken_text == "One day, there was a dragon. The end."
    # "One day," is the first piece (FIRST_CLAUSE_WORDS), complete with the first delta;
    # the model is asked for the words after it only once it is voiced (0.2 s).
    assert voiced[0][0] == "One day,"
    assert [d for d, _ in pulled] == ["One day, ", "there ", "was a dragon. ", "The end."]
    assert pulled[1][1] >= voiced[0][1]
    assert pulled[1][1] - pulled[0][1] >= 0.2


def test_without_holding_the_model_it_writes_on_while_the_voice_works(rig):
    pulled: list[float] = []

    def reply(_text: str) -> Iterator[str]:
        for delta in ("One day, ", "there ", "was a dragon. ", "The end."):
            pulled.append(time.monotonic())
            yield delta

    r = rig(chat=FakeChat(reply=reply), voice=FakeVoice(delay=0.2))
    r.conversation._worker.voice_first = False
    r.conversation.send_text("hi")
    r.events.wait_for(TurnFinished)
    assert pulled[-1] - pulled[0] < 0.15  # all written during the first synthesis


def test_a_speculative_reply_is_synthesized_in_the_pause_but_never_played(rig):
    r = rig(chat=FakeChat(reply=lambda text: [f"About {text}."]))
    r.source.feed(r.say("what is the"), silence(0.2))
    r.source.settle()
    r.chat.calls.wait(1)
    deadline = time.monotonic() + 2.0  # the speculation's words are voiced in the pause
    while "About what is the." not in r.voice.calls.items and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "About what is the." in r.voice.calls.items
    assert r.conversation.state == State.HEARING
    assert not r.player.played  # nothing reaches the output before the turn is confirmed
    r.source.feed(r.say("capital of France"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].spoken_text == "About what is the capital of France."
    r.wait_state(State.LISTENING)
    played = sum(len(block) for block in r.player.played)
    (final,) = [s for s in r.voice.calls.items if s.endswith("France.")]
    assert played == round(len(final) * r.voice.seconds_per_char * r.voice.sample_rate)
