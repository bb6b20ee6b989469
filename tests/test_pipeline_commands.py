"""Local commands in the live pipeline, on the scripted engines (assistant/bench/fakes.py):
a command is answered without the language model, its actions are carried out, a
speculation never runs a command, a question keeps the router's state, and timers ring
through the pipeline between the user's turns until "stop". The same on the real models
and the virtual microphone is in test_listen_commands.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
from assistant.commands import CommandContext, CommandHost, CommandRouter, NotesStore, Scheduler
from assistant.config import Config
from assistant.pipeline import (
    Announced,
    CommandHandled,
    Conversation,
    FinalTranscript,
    TurnFinished,
    TurnMetrics,
)


@dataclass
class Rig:
    phrases: Phrasebook
    source: FeedSource
    chat: FakeChat
    conversation: Conversation
    host: CommandHost
    scheduler: Scheduler
    events: Recorder
    transcriber: FakeTranscriber


@pytest.fixture
def rig(tmp_path) -> Iterator[Callable[..., Rig]]:
    made: list[tuple[Rig, Player]] = []

    def make(
        *,
        chat: FakeChat | None = None,
        repeat_s: float = 20.0,
        voice: FakeVoice | None = None,
        realtime: bool = False,
        tool_model: Any = None,
    ) -> Rig:
        phrases = Phrasebook()
        source = FeedSource()
        chat = chat or FakeChat()
        voice = voice or FakeVoice()
        player = Player(voice.sample_rate, simulated=True, realtime=realtime)
        scheduler = Scheduler(tmp_path / "schedule.json", repeat_s=repeat_s)
        notes = NotesStore(tmp_path / "notes.db")
        host = CommandHost(CommandRouter(CommandContext(scheduler=scheduler, notes=notes)))
        transcriber = FakeTranscriber(phrases)
        conversation = Conversation(
            vad=FakeVad(),
            transcriber=transcriber,
            chat=chat if tool_model is None else host.tool_chat(tool_model),
            voice=voice,
            config=Config(),
            source=lambda: source,
            player=player,
        )
        host.attach(conversation, voice.sample_rate)
        events = Recorder()
        conversation.subscribe(events)
        conversation.start()
        r = Rig(phrases, source, chat, conversation, host, scheduler, events, transcriber)
        made.append((r, player))
        return r

    yield make
    for r, player in made:
        r.conversation.stop()
        r.host.close()
        player.close()


def test_a_typed_command_is_answered_without_the_model_and_is_a_turn(rig):
    r = rig()
    r.conversation.send_text("What time is it?")
    finished = r.events.wait_for(TurnFinished)
    assert not r.chat.calls.items  # the language model was not asked
    assert finished[0].spoken_text.startswith("It's")
    handled = r.events.of(CommandHandled)
    assert [(h.intent, h.handler) for h in handled] == [("HassGetCurrentTime", "clock")]
    metrics = r.events.wait_for(TurnMetrics)[0]
    assert metrics.matched is not None and metrics.first_audio is not None
    assert r.conversation.history[0].content == "What time is it?"
    r.conversation.send_text("Tell me a story")  # not a command: the model answers
    r.events.wait_for(TurnFinished, 2)
    assert len(r.chat.calls.items) == 1
    assert len(r.events.of(CommandHandled)) == 1


def test_actions_are_carried_out_by_the_pipeline(rig):
    r = rig()
    r.conversation.send_text("Hello")
    r.events.wait_for(TurnFinished)
    r.conversation.send_text("louder")
    r.events.wait_for(TurnFinished, 2)
    assert r.conversation.volume > 1.0
    r.conversation.send_text("mute")
    r.events.wait_for(TurnFinished, 3)
    assert r.conversation.muted
    r.conversation.send_text("start a new conversation")
    r.events.wait_for(TurnFinished, 4)
    r.events.wait_until(lambda: r.conversation.history == [])
    assert len(r.chat.calls.items) == 1


def test_a_spoken_command_runs_once_not_for_a_speculation(rig):
    r = rig()
    # The pause after "five" starts a speculation; the user goes on: no 5 s timer.
    r.source.feed(r.phrases.audio("set a timer for five"), silence(0.2))
    r.source.settle()
    time.sleep(0.1)
    r.source.feed(r.phrases.audio("minutes"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "set a timer for five minutes"
    items = r.scheduler.items("timer")
    assert [round(i.duration_s) for i in items] == [300]
    assert not r.chat.calls.items


def test_a_misheard_command_is_heard_again_with_the_command_prompt(rig):
    r = rig()
    r.transcriber.primed["console nutheimer"] = "cancel the timer"
    r.conversation.send_text("Set a timer for 5 minutes.")
    r.events.wait_for(TurnFinished)
    r.source.feed(r.phrases.audio("console nutheimer"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished, 2)
    assert finished[1].user_text == "cancel the timer"  # the turn is what was heard again
    assert r.scheduler.items("timer") == [] and not r.chat.calls.items
    assert r.host.hearing.second_listenings >= 1


class _TimerToolModel:
    """A tool-calling model that asks for a 5-minute tea timer whenever the user spoke
    last, and reads the result back after the call."""

    context_size = 2048
    offers_tools = True

    def __init__(self) -> None:
        self.asked = threading.Event()

    def count_tokens(self, messages: Sequence[Any]) -> int:
        return 0

    def stream(self, messages: Any, options: Any = None, cancel: Any = None) -> Iterator[str]:
        raise AssertionError("a tool model is streamed with its tools")

    def stream_with_tools(
        self, messages: Sequence[dict[str, Any]], tools: Any, options: Any = None,
        cancel: Any = None,
    ) -> Iterator[str]:  # fmt: skip
        if messages[-1]["role"] == "user":
            self.asked.set()
            yield '<tool_call>{"name": "set_timer", "arguments": {"seconds": 300, '
            yield '"name": "tea"}}</tool_call>'
        else:
            yield f"Done. {messages[-1]['content']}"


def test_a_tool_call_acts_once_not_for_a_dropped_speculation(rig):
    model = _TimerToolModel()
    r = rig(tool_model=model)
    # No template knows these words: the model's tool call sets the timer. The pause
    # after "tea" starts a speculation, whose reply calls the tool; the user goes on.
    r.source.feed(r.phrases.audio("could you time my tea"), silence(0.2))
    r.source.settle()
    assert model.asked.wait(2.0)  # the speculation's reply asked for the call
    time.sleep(0.1)
    r.source.feed(r.phrases.audio("for five minutes"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished)
    assert finished[0].user_text == "could you time my tea for five minutes"
    assert finished[0].spoken_text.startswith("Done.")
    assert [(i.name, round(i.duration_s)) for i in r.scheduler.items("timer")] == [("tea", 300)]


def test_a_question_keeps_the_routers_state_between_spoken_turns(rig):
    r = rig()
    r.conversation.send_text("set a timer")
    first = r.events.wait_for(TurnFinished)[0]
    assert first.spoken_text.endswith("?")
    r.conversation.send_text("ten seconds")
    r.events.wait_for(TurnFinished, 2)
    assert [round(i.duration_s) for i in r.scheduler.items("timer")] == [10]
    assert not r.chat.calls.items


def test_a_timer_rings_through_the_pipeline_until_stopped(rig):
    r = rig(repeat_s=0.4)
    r.conversation.send_text("set a timer for 1 second")
    r.events.wait_for(TurnFinished)
    announced = r.events.wait_for(Announced, 2, timeout=4.0)
    assert announced[0].kind == "timer" and "done" in announced[0].text
    assert [a.repeat for a in announced[:2]] == [0, 1]
    r.conversation.send_text("stop")
    r.events.wait_for(TurnFinished, 2)
    assert r.scheduler.ringing() == []
    count = len([a for a in r.events.of(Announced) if a.played])
    time.sleep(1.0)  # past two more repetitions: none comes
    assert len([a for a in r.events.of(Announced) if a.played]) == count


def test_an_announcement_waits_for_the_user_turn_in_flight(rig):
    hold = threading.Event()
    r = rig(chat=FakeChat(hold=hold))
    r.conversation.send_text("Tell me a story")
    r.chat.calls.wait(1)
    r.conversation.announce("Your timer is done.", kind="timer")
    time.sleep(0.3)
    assert not r.events.of(Announced)  # not over the reply being written
    hold.set()
    r.events.wait_for(Announced)
    order = [type(e) for e in r.events.events if isinstance(e, TurnFinished | Announced)]
    assert order == [TurnFinished, Announced]
    assert r.events.of(FinalTranscript)[0].text == "Tell me a story"


def test_stop_said_over_a_ringing_timer_cuts_it_and_acknowledges_it(rig):
    r = rig(voice=FakeVoice(seconds_per_char=0.05), realtime=True)  # 1.6 s announcement
    r.scheduler.add("timer", seconds=0.2)
    r.events.wait_for(Announced)
    r.events.wait_until(lambda: r.conversation.state.value == "speaking")
    r.source.feed(r.phrases.audio("stop"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished, timeout=5.0)
    assert finished[0].user_text == "stop"
    assert r.scheduler.ringing() == []
    assert [h.handler for h in r.events.of(CommandHandled)] == ["control"]
    assert not r.chat.calls.items


def test_a_command_heard_over_and_over_is_the_command_once(rig):
    """Whisper looping on a short word ("Stop. Stop. Stop. ...") still stops the timer."""
    r = rig(voice=FakeVoice(seconds_per_char=0.05), realtime=True)
    r.scheduler.add("timer", seconds=0.2)
    r.events.wait_for(Announced)
    r.source.feed(r.phrases.audio("Stop. Stop. Stop. stop!"), silence(0.8))
    r.source.settle()
    finished = r.events.wait_for(TurnFinished, timeout=5.0)
    assert finished[0].user_text == "Stop."
    assert r.scheduler.ringing() == [] and r.scheduler.items() == []
    assert [h.intent for h in r.events.of(CommandHandled)] == ["AssistantStop"]
    assert not r.chat.calls.items


def test_a_whole_command_ends_the_turn_after_a_short_pause():
    """A speculative transcript that is a whole command ends the turn after
    COMMAND_PAUSE, sooner than the rule for other sentences; other text keeps its wait,
    and commands attached later are seen (the hooks are asked at each call)."""
    from assistant.pipeline.conversation import COMMAND_PAUSE, _command_pause
    from assistant.reply import ReplyHooks

    hooks = ReplyHooks()
    asked: list[str] = []

    def base(text: str | None) -> float | None:
        asked.append(text or "")
        return 0.55 if text and text.endswith(".") and len(text.split()) >= 3 else None

    pause = _command_pause(base, lambda: hooks)
    assert pause("Set a timer for ten minutes.") == 0.55  # no commands attached yet
    hooks.is_command = lambda text: "timer" in text
    assert pause("Set a timer for ten minutes.") == 0.55  # the same text: answer kept
    assert pause("Set a timer for ten minutes") == COMMAND_PAUSE < 0.55  # no full stop
    assert pause("Set a timer for twenty minutes.") == COMMAND_PAUSE
    assert pause("Tell me about the sea.") == 0.55
    assert pause("Tell me about") is None
    assert asked.count("Set a timer for ten minutes.") == 1
