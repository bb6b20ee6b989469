"""Conversation memory: the SQLite store, its JSONL export, ``assistant history`` and
``assistant chat`` remembering its turns. Real SQLite files in the test's own dirs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.llm import Message
from assistant.memory import (
    SCHEMA_VERSION,
    ConversationStore,
    HistoryCorruptError,
    HistoryError,
    default_history_path,
)


@pytest.fixture
def store(tmp_path):
    with ConversationStore(tmp_path / "history.sqlite3") as opened:
        yield opened


def test_default_path_is_in_the_user_data_dir(isolated_home):
    with ConversationStore() as store:
        assert store.path == default_history_path()
        assert store.path.is_relative_to(isolated_home / "data")
        assert store.path.exists()


def test_turns_round_trip_with_metrics_and_timestamps(store):
    cid = store.new_conversation()
    metrics = {"asr": 0.21, "first_token": 0.35, "first_audio": None}
    tid = store.add_turn(cid, "Hello?", "Hi there.", metrics=metrics, started_at=1000.5)
    store.add_turn(cid, "Tell me a story.", "Once upon", interrupted=True)
    first, second = store.turns(cid)
    assert first.id == tid
    assert (first.user_text, first.assistant_text, first.interrupted) == (
        "Hello?",
        "Hi there.",
        False,
    )
    assert first.metrics == {"asr": 0.21, "first_token": 0.35}
    assert first.started_at == 1000.5
    assert second.interrupted and second.assistant_text == "Once upon" and second.metrics == {}
    assert second.started_at > 1_600_000_000


def test_messages_alternate_user_and_assistant_oldest_first(store):
    cid = store.new_conversation()
    for i in range(3):
        store.add_turn(cid, f"q{i}", f"a{i}")
    assert store.messages(cid) == [
        Message(role, f"{'q' if role == 'user' else 'a'}{i}")
        for i in range(3)
        for role in ("user", "assistant")
    ]
    assert [m.content for m in store.messages(cid, last=1)] == ["q2", "a2"]


def test_a_reply_cut_before_its_first_word_reads_as_an_ellipsis(store):
    cid = store.new_conversation()
    store.add_turn(cid, "Tell me a story.", "", interrupted=True)
    store.add_turn(cid, "Actually, what time is it?", "Noon.")
    assert [m.role for m in store.messages(cid)] == ["user", "assistant"] * 2
    assert store.messages(cid)[1].content == "…"


def test_conversations_list_newest_first_with_a_title_from_the_first_words(store):
    older = store.new_conversation(title="Planning")
    newer = store.new_conversation()
    store.add_turn(newer, "What is the weather like in Paris tomorrow morning please?", "Sunny.")
    summaries = store.conversations()
    assert [s.id for s in summaries] == [newer, older]
    assert summaries[0].title == "What is the weather like in Paris tomorrow…"
    assert summaries[0].turn_count == 1 and summaries[1].turn_count == 0
    assert summaries[1].title == "Planning"
    assert store.latest_conversation() == newer
    store.add_turn(older, "Back to planning.", "Sure.")
    assert store.latest_conversation() == older


def test_history_persists_across_reopening(tmp_path):
    path = tmp_path / "history.sqlite3"
    with ConversationStore(path) as store:
        cid = store.new_conversation()
        store.add_turn(cid, "My name is Ada.", "Nice to meet you, Ada.", metrics={"reply": 1.5})
    with ConversationStore(path) as store:
        assert store.latest_conversation() == cid
        assert store.turns(cid)[0].metrics == {"reply": 1.5}
        assert store.messages(cid)[0] == Message("user", "My name is Ada.")
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "history.sqlite3"
    ConversationStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer"):
        ConversationStore(path)
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))


def test_export_jsonl_gives_one_chat_example_per_conversation(store, tmp_path):
    first = store.new_conversation()
    store.add_turn(first, "Hi.", "Hello!")
    store.add_turn(first, "Tell me a long story.", "Once upon a time", interrupted=True)
    store.add_turn(first, "Stop.", "", interrupted=True)
    store.new_conversation()  # empty: skipped
    second = store.new_conversation()
    store.add_turn(second, "Ça va ?", "Oui, très bien.")
    out = tmp_path / "out" / "chats.jsonl"

    assert store.export_jsonl(out, system_prompt="Be brief.") == 2
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi."},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Tell me a long story."},
            {"role": "assistant", "content": "Once upon a time"},
        ]
    }
    assert lines[1]["messages"][1:] == [
        {"role": "user", "content": "Ça va ?"},
        {"role": "assistant", "content": "Oui, très bien."},
    ]
    assert store.export_jsonl(out, [second]) == 1
    only = json.loads(out.read_text(encoding="utf-8"))
    assert [m["role"] for m in only["messages"]] == ["user", "assistant"]
    with pytest.raises(HistoryError, match="no conversation 999"):
        store.export_jsonl(out, [999])


def test_unknown_conversations_are_clear_errors_and_delete_removes_turns(store):
    cid = store.new_conversation()
    store.add_turn(cid, "a", "b")
    with pytest.raises(HistoryError, match="no conversation 42") as info:
        store.add_turn(42, "a", "b")
    assert "assistant history list" in (info.value.hint or "")
    store.delete_conversation(cid)
    assert store.conversations() == [] and store.latest_conversation() is None
    with pytest.raises(HistoryError):
        store.turns(cid)


def test_concurrent_writes_from_four_threads_all_land(store):
    cids = [store.new_conversation() for _ in range(4)]
    errors: list[BaseException] = []

    def write(cid: int) -> None:
        try:
            for i in range(50):
                store.add_turn(cid, f"q{i}", f"a{i}", metrics={"reply": i / 10})
                store.conversations(5)  # reads interleaved with the other writers
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(cid,)) for cid in cids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for cid in cids:
        assert [t.user_text for t in store.turns(cid)] == [f"q{i}" for i in range(50)]
    assert sum(s.turn_count for s in store.conversations()) == 200


def test_a_corrupt_file_is_moved_aside_and_a_fresh_history_started(tmp_path):
    path = tmp_path / "history.sqlite3"
    damaged = os.urandom(8192)
    path.write_bytes(damaged)
    with pytest.raises(HistoryCorruptError) as info:
        ConversationStore(path)
    moved = info.value.moved_to
    assert moved.name.startswith("history.sqlite3.corrupt-")
    assert moved.read_bytes() == damaged
    message = str(info.value)
    assert str(path) in message and str(moved) in message and "fresh" in message
    with ConversationStore(path) as store:
        cid = store.new_conversation()
        store.add_turn(cid, "Still there?", "Yes.")
        assert store.turns(cid)[0].assistant_text == "Yes."


def test_cli_list_show_export_new_and_delete(capsys, tmp_path):
    with ConversationStore() as store:
        cid = store.new_conversation()
        store.add_turn(cid, "What time is it?", "It is noon.", metrics={"first_audio": 0.42})
        store.add_turn(cid, "Thanks.", "You're", interrupted=True)

    assert main(["history", "list"]) == 0
    out = capsys.readouterr().out
    assert "What time is it?" in out and f"{cid}*" in out

    assert main(["history", "show", str(cid)]) == 0
    out = capsys.readouterr().out
    assert "you: What time is it?" in out and "assistant: It is noon." in out
    assert "first audio 0.42 s" in out and "[interrupted]" in out

    target = tmp_path / "export.jsonl"
    assert main(["history", "export", "--jsonl", str(target), "--id", str(cid)]) == 0
    assert "wrote 1 conversation" in capsys.readouterr().out
    example = json.loads(target.read_text(encoding="utf-8").strip())
    assert example["messages"][0] == {"role": "user", "content": "What time is it?"}

    assert main(["history", "new"]) == 0
    capsys.readouterr()
    with ConversationStore() as store:
        assert store.latest_conversation() != cid

    assert main(["history", "delete", str(cid)]) == 0
    assert main(["history", "show", str(cid)]) == 1
    assert f"no conversation {cid}" in capsys.readouterr().err


def _chat(*args: str, lines: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(config), "chat", *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_chat_remembers_its_turns_and_new_starts_another_conversation(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 24\n")

    first = _chat(lines="My name is Ada.\nWhat is my name?\n", config=config)
    assert first.returncode == 0, first.stderr
    with ConversationStore() as store:
        (only,) = store.conversations()
        turns = store.turns(only.id)
    assert [t.user_text for t in turns] == ["My name is Ada.", "What is my name?"]
    assert all(t.assistant_text for t in turns)
    assert all("first_token" in t.metrics for t in turns)

    second = _chat("--new", lines="Hello.\n/new\nGoodbye.\n", config=config)
    assert second.returncode == 0, second.stderr
    third = _chat("--continue", lines="Goodbye again.\n", config=config)  # the latest
    assert third.returncode == 0, third.stderr
    with ConversationStore() as store:
        latest, hello, earlier = store.conversations()
        assert earlier.id == only.id and earlier.turn_count == 2
        assert [t.user_text for t in store.turns(hello.id)] == ["Hello."]
        assert [t.user_text for t in store.turns(latest.id)] == ["Goodbye.", "Goodbye again."]
