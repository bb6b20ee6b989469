"""``assistant listen`` through real PortAudio devices (PulseAudio virtual ones)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from test_playback import speakers_recorded

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.text import word_error_rate


def _wait_for(proc: subprocess.Popen, lines: list[str], needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(line)
            if needle in line:
                return
        elif proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} never printed; got {lines!r}")


def test_listen_hears_the_microphone_answers_on_the_speakers_and_leaves_on_ctrl_c(
    tmp_path, private_audio, speak, whisper_dir
):
    speaker, microphone_feed = private_audio
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 40\n")
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "assistant", "--config", str(config), "listen", "--new",
         "--echo", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        _wait_for(proc, lines, "Listening", timeout=60)
        time.sleep(1.0)
        with speakers_recorded(speaker, tmp_path / "speakers.wav"):
            question = speak("What is the tallest mountain in the world?")
            subprocess.run(["paplay", f"--device={microphone_feed}", str(question)], check=True)
            _wait_for(proc, lines, "after you stopped", timeout=60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read()
    finally:
        proc.kill()
    text = "".join(lines)
    assert "you: What is the tallest mountain in the world?" in text, text
    reply = text.split("assistant: ", 1)[1].split("\n", 1)[0].strip()
    heard = (
        WhisperTranscriber(whisper_dir, device="cpu")
        .transcribe(read_audio(tmp_path / "speakers.wav"))
        .text
    )
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
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "assistant", "--config", str(config), "listen", "--new",
         "--echo", "off", "--wake", "hey_jarvis"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        _wait_for(proc, lines, "Asleep; say hey_jarvis", timeout=60)
        time.sleep(1.0)
        plain = speak("I think the cat is hungry.")
        subprocess.run(["paplay", f"--device={microphone_feed}", str(plain)], check=True)
        request = speak("Hey Jarvis, what is the capital of France?", lead_silence=0.5)
        subprocess.run(["paplay", f"--device={microphone_feed}", str(request)], check=True)
        _wait_for(proc, lines, "after you stopped", timeout=60)
        _wait_for(proc, lines, "(asleep)", timeout=30)  # the follow-up window passed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read()
    finally:
        proc.kill()
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

    speaker, microphone_feed = private_audio
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 40\n")
    folder = make_folder(tmp_path)
    added = subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(config), "docs", "add", str(folder)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "assistant", "--config", str(config), "listen", "--new",
         "--echo", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        _wait_for(proc, lines, "Listening", timeout=60)
        time.sleep(1.0)
        with speakers_recorded(speaker, tmp_path / "speakers.wav"):
            question = speak("What pressure should the boiler be at?")
            subprocess.run(["paplay", f"--device={microphone_feed}", str(question)], check=True)
            _wait_for(proc, lines, "after you stopped", timeout=60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read()
    finally:
        proc.kill()
    text = "".join(lines)
    assert "(from your documents: boiler-manual.md" in text, text
    reply = text.rsplit("assistant: ", 1)[1].split("\n", 1)[0].strip()
    assert reply.endswith("From boiler-manual.md."), reply
    heard = (
        WhisperTranscriber(whisper_dir, device="cpu")
        .transcribe(read_audio(tmp_path / "speakers.wav"))
        .text
    )
    assert "boiler" in heard.lower() and "manual" in heard.lower(), heard  # the source, spoken
