"""What a new user meets first on the command line: config typos, files that are not
audio, silence, doctor through a pipe, ALSA noise, random sampling, which conversation
``chat`` continues, and Ctrl+C during a reply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.config import load_config
from assistant.errors import ConfigError


def _cli(*args: str, stdin: str | None = None, env: dict | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


# ---------------------------------------------------------------------- config


def test_a_mistyped_key_gets_a_did_you_mean(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[llm]\ntemprature = 0.7\n")
    with pytest.raises(ConfigError, match=r"llm\.temprature \(did you mean llm\.temperature\?\)"):
        load_config(path)


def test_an_unknown_section_is_reported_as_a_section(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[lm]\ntemperature = 0.7\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = info.value.message
    assert "unknown section [lm] (did you mean [llm]?)" in message, message
    assert "config.lm" not in message and "[config]" not in message


# ---------------------------------------------------------------------- audio files


def test_a_text_file_named_mp3_says_it_is_not_audio(tmp_path: Path):
    notes = tmp_path / "notes.mp3"
    notes.write_text("Shopping list: milk, eggs, a new microphone.\n" * 20)
    result = _cli("transcribe", str(notes))
    assert result.returncode == 1
    assert f"error: {notes} is not an audio file: it holds text" in result.stderr
    assert "pipe" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error and the hint, no noise


def test_talk_on_a_silent_file_does_not_blame_the_microphone(tmp_path: Path):
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(32000, np.float32), 16000)
    result = _cli("talk", "-i", str(silence), "-o", str(tmp_path / "reply.wav"))
    assert result.returncode == 1
    assert f"no speech detected in {silence}" in result.stderr
    assert "microphone" not in result.stderr
    assert "silence or noise" in result.stderr


# ---------------------------------------------------------------------- terminal output


def test_doctor_keeps_whole_lines_when_piped():
    result = _cli("doctor", env={"COLUMNS": "60"})
    lines = result.stdout.splitlines()
    assert any(len(line) > 80 for line in lines), "a long line was cut"
    # What is cut is lost: every fix line is whole (none ends mid-word at a limit).
    assert all(len(line) != 80 for line in lines)


def test_alsa_messages_stay_out_of_the_terminal():
    # An ALSA error (an unknown PCM) after PortAudio is loaded the way the CLI loads it.
    script = (
        "import ctypes, ctypes.util\n"
        "from assistant.audio.devices import import_sounddevice\n"
        "import_sounddevice()\n"
        "lib = ctypes.CDLL(ctypes.util.find_library('asound'))\n"
        "pcm = ctypes.c_void_p()\n"
        "rc = lib.snd_pcm_open(ctypes.byref(pcm), b'no_such_pcm_device', 0, 0)\n"
        "print('rc', rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rc -")  # the open failed, so ALSA had a message
    assert "ALSA lib" not in result.stderr, result.stderr


def test_devices_ends_its_lines():
    result = _cli("devices")
    assert result.stdout.endswith("\n")


# ---------------------------------------------------------------------- sampling


def test_seed_minus_one_gives_different_replies_in_each_run(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[llm]\nmax_tokens = 20\ntemperature = 0.9\nseed = -1\n")
    question = "Tell me a very short story about a cat.\n"
    replies = set()
    for _ in range(3):
        result = _cli("--config", str(config), "chat", stdin=question)
        assert result.returncode == 0, result.stderr
        replies.add(result.stdout.strip())
    assert len(replies) > 1, replies


# ---------------------------------------------------------------------- chat


def _conversations() -> list:
    from assistant.memory import open_history

    store, _ = open_history()
    try:
        return [(c.id, c.turn_count) for c in store.conversations()]
    finally:
        store.close()


def _fast_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[llm]\nmax_tokens = 8\ntemperature = 0.0\n")
    return path


def test_sigusr1_prints_every_threads_stack_and_the_assistant_goes_on(tmp_path: Path):
    """``kill -USR1`` on a running assistant: each thread's stack on stderr (what a stuck
    one waits for), and the conversation carries on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", str(_fast_config(tmp_path)), "chat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        process.stdin.write("Hello there.\n")
        process.stdin.flush()
        assert process.stdout.readline().strip(), "no reply"  # running, models loaded
        process.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        out, err = process.communicate("And again.\n", timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "most recent call first" in err and "Thread 0x" in err, err
    assert out.strip(), "the second message got no reply"


def test_piped_chat_starts_a_new_conversation_unless_continue(tmp_path: Path):
    config = str(_fast_config(tmp_path))
    for _ in range(2):
        assert _cli("--config", config, "chat", stdin="Hello there.\n").returncode == 0
    assert sorted(count for _, count in _conversations()) == [1, 1]
    continued = _cli("--config", config, "chat", "--continue", stdin="And again.\n")
    assert continued.returncode == 0, continued.stderr
    assert sorted(count for _, count in _conversations()) == [1, 2]


def test_chat_in_a_terminal_says_which_conversation_it_continues(tmp_path: Path):
    import pty

    config = str(_fast_config(tmp_path))
    assert _cli("--config", config, "chat", stdin="Remember the word apple.\n").returncode == 0
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", config, "chat"],
        stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    output = _read_until(primary, b"you> ", timeout=120)
    os.write(primary, b"/quit\n")
    process.wait(timeout=30)
    os.close(primary)
    text = output.decode(errors="replace")
    assert 'continuing conversation 1 "Remember the word apple."' in text, text
    assert "--new" in text


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    import select

    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    return data


def test_ctrl_c_in_chat_stops_the_reply_and_keeps_what_was_written(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[llm]\nmax_tokens = 400\ntemperature = 0.0\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", str(config), "chat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"Write a long story about a lighthouse keeper and the sea.\n")
    process.stdin.flush()
    first = process.stdout.read(8)  # the reply has started streaming
    process.send_signal(signal.SIGINT)
    process.stdin.write(b"Thank you.\n")
    process.stdin.close()
    rest = process.stdout.read()
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    assert b"[stopped]" in first + rest

    from assistant.memory import open_history

    store, _ = open_history()
    try:
        (conversation,) = store.conversations()
        turns = store.turns(conversation.id)
    finally:
        store.close()
    assert len(turns) == 2  # the chat went on after Ctrl+C
    assert turns[0].interrupted and turns[0].assistant_text.strip()
    assert first.decode(errors="ignore").strip()[:4] in turns[0].assistant_text
