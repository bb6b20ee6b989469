"""``assistant listen`` through real PortAudio devices (PulseAudio virtual ones)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_playback import speakers_recorded

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.text import word_error_rate


def _line_queue(proc: subprocess.Popen) -> queue.Queue[str | None]:
    """``proc``'s stdout lines as a thread reads them (``None`` once it closes), so a
    wait can give up on time when the process prints nothing at all."""
    lines: queue.Queue[str | None] | None = getattr(proc, "_test_lines", None)
    if lines is None:
        lines = queue.Queue()

        def pump(out: queue.Queue[str | None] = lines) -> None:
            for line in proc.stdout:
                out.put(line)
            out.put(None)

        threading.Thread(target=pump, daemon=True).start()
        proc._test_lines = lines  # type: ignore[attr-defined]
    return lines


def _wait_for(
    proc: subprocess.Popen, lines: list[str], needle: str, timeout: float, *, any_case: bool = False
) -> None:
    """Collect ``proc``'s lines into ``lines`` until one holds ``needle`` (in any letter
    case with ``any_case``); fails after ``timeout`` seconds, or when the process ends."""
    pending = _line_queue(proc)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = pending.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        lines.append(line)
        if needle in line or (any_case and needle.lower() in line.lower()):
            return
    raise AssertionError(f"{needle!r} never printed; got {lines!r}")


@contextmanager
def _listening(config: Path, *args: str) -> Iterator[tuple[subprocess.Popen, list[str]]]:
    """``assistant listen --new --echo off ARGS`` on ``config``: the process and the list
    that ``_wait_for`` fills with its lines; killed when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "assistant", "--config", str(config), "listen", "--new",
         "--echo", "off", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc, []
    finally:
        proc.kill()


def _say(feed: str, wav: Path) -> None:
    """Play ``wav`` into the microphone (its feed sink)."""
    subprocess.run(["paplay", f"--device={feed}", str(wav)], check=True)


def _ctrl_c(proc: subprocess.Popen) -> None:
    """Ctrl+C: the assistant leaves cleanly."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0, proc.stderr.read()


def _ask_aloud(config: Path, private_audio, question: Path, speakers: Path) -> str:
    """Ask ``question`` into the microphone of ``assistant listen``, recording its
    speakers into ``speakers`` until the answer is done, then Ctrl+C: what it printed."""
    speaker, microphone_feed = private_audio
    with _listening(config) as (proc, lines):
        _wait_for(proc, lines, "Listening", timeout=60)
        time.sleep(1.0)
        with speakers_recorded(speaker, speakers):
            _say(microphone_feed, question)
            _wait_for(proc, lines, "after you stopped", timeout=60)
        _ctrl_c(proc)
    return "".join(lines)


def _heard(whisper_dir: Path, wav: Path) -> str:
    """What the real transcriber hears in ``wav``."""
    return WhisperTranscriber(whisper_dir, device="cpu").transcribe(read_audio(wav)).text


def test_listen_hears_the_microphone_answers_on_the_speakers_and_leaves_on_ctrl_c(
    tmp_path, private_audio, speak, whisper_dir
):
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 40\n")
    question = speak("What is the tallest mountain in the world?")
    text = _ask_aloud(config, private_audio, question, tmp_path / "speakers.wav")
    assert "you: What is the tallest mountain in the world?" in text, text
    reply = text.split("assistant: ", 1)[1].split("\n", 1)[0].strip()
    heard = _heard(whisper_dir, tmp_path / "speakers.wav")
    assert word_error_rate(reply, heard) <= 0.3, (reply, heard)
    history = subprocess.run(
        [sys.executable, "-m", "assistant", "history", "show", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "tallest mountain" in history.stdout.lower(), history.stdout + history.stderr


def test_listen_with_a_wake_word_ignores_speech_until_the_word(tmp_path, private_audio, speak):
    # Real PortAudio devices: speech without the wake word is ignored; the word, said
    # before a question, wakes it, and only the question is heard and answered.
    _, microphone_feed = private_audio
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 20\n[wake]\nfollow_up_s = 2.0\n")
    with _listening(config, "--wake", "hey_jarvis") as (proc, lines):
        _wait_for(proc, lines, "Asleep; say hey_jarvis", timeout=60)
        time.sleep(1.0)
        _say(microphone_feed, speak("I think the cat is hungry."))
        _say(microphone_feed, speak("Hey Jarvis, what is the capital of France?", lead_silence=0.5))
        _wait_for(proc, lines, "after you stopped", timeout=60)
        _wait_for(proc, lines, "(asleep)", timeout=30)  # the follow-up window passed
        _ctrl_c(proc)
    text = "".join(lines)
    assert "(listening)" in text, text
    heard = [line for line in lines if line.startswith("you: ")]
    assert len(heard) == 1, text
    assert "capital of france" in heard[0].lower(), text
    assert "cat" not in heard[0].lower() and "jarvis" not in heard[0].lower(), text


@pytest.mark.slow
def test_listen_answers_a_spoken_question_from_an_indexed_folder_naming_its_source(
    tmp_path, private_audio, speak, whisper_dir
):
    from test_knowledge import make_folder

    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 40\n")
    folder = make_folder(tmp_path)
    added = subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(config), "docs", "add", str(folder)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    question = speak("What pressure should the boiler be at?")
    text = _ask_aloud(config, private_audio, question, tmp_path / "speakers.wav")
    assert "(from your documents: boiler-manual.md" in text, text
    reply = text.rsplit("assistant: ", 1)[1].split("\n", 1)[0].strip()
    assert reply.endswith("From boiler-manual.md."), reply
    heard = _heard(whisper_dir, tmp_path / "speakers.wav")
    assert "boiler" in heard.lower() and "manual" in heard.lower(), heard  # the source, spoken
