"""Spoken commands through ``assistant listen`` on real PulseAudio virtual devices and the
real models: answered without the language model, a timer that rings through the
pipeline (chime and words on the speakers) and is stopped by voice. Run under
``flock /tmp/pulse.lock`` with the other tests that play into the virtual microphone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_listen import _wait_for
from test_playback import speakers_recorded

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio
from assistant.config import data_dir


@pytest.mark.slow
def test_spoken_commands_and_a_timer_stopped_by_voice(tmp_path, private_audio, speak, whisper_dir):
    """(On failure the assistant's log is printed: pytest shows captured stdout.)"""
    speaker, microphone_feed = private_audio
    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 40\n")
    # The verbose log goes to a file: a pipe nobody reads while the assistant runs fills
    # up (64 KiB) and blocks its logging, the assistant with it, and its exit on Ctrl+C.
    log_file = (tmp_path / "assistant.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "assistant", "-v", "--config", str(config), "listen", "--new",
         "--echo", "off"],
        stdout=subprocess.PIPE, stderr=log_file, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
        # A suite started in the background (`cmd &` in a script) runs with SIGINT ignored,
        # and Python keeps an ignored SIGINT ignored: Ctrl+C below would never arrive.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip

    def say(text: str) -> None:
        subprocess.run(["paplay", f"--device={microphone_feed}", str(speak(text))], check=True)

    lines: list[str] = []
    try:
        _wait_for(proc, lines, "Listening", timeout=60)
        time.sleep(1.0)
        say("What time is it?")
        _wait_for(proc, lines, "after you stopped", timeout=60)
        with speakers_recorded(speaker, tmp_path / "speakers.wav"):
            say("Set a timer for three seconds.")
            _wait_for(proc, lines, "[timer]", timeout=30)
            time.sleep(6.0)  # the chime and the words play (slowly on a loaded machine)
        say("Stop.")
        # Whisper writes it as it hears it: "Stop.", "STOP." (the command matches either).
        _wait_for(proc, lines, "you: Stop", timeout=30, any_case=True)
        _wait_for(proc, lines, "after you stopped", timeout=30)
    except BaseException:
        proc.send_signal(signal.SIGUSR1)  # every thread's stack to the log: what it waits for
        time.sleep(1.0)
        raise
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # where it hangs goes to the log
            proc.wait(timeout=10)
            raise
        finally:
            proc.kill()
            log_file.close()
            errors = (tmp_path / "assistant.log").read_text()
            print(errors)  # shown when the test fails
    assert code == 0, errors
    text = "".join(lines)
    print(text)  # what the assistant printed, shown when the test fails
    answer = text.split("you: What time is it?", 1)[1]
    assert "assistant: It's" in answer and "(after you stopped: transcript" in answer, text
    metrics = next(line for line in answer.splitlines() if "after you stopped" in line)
    assert "command " in metrics and "first token" not in metrics, text  # not generated
    assert "Your timer for 3 seconds is done." in text, text
    heard = WhisperTranscriber(whisper_dir, device="cpu").transcribe(
        read_audio(tmp_path / "speakers.wav")
    )
    assert "timer" in heard.text.lower() and "done" in heard.text.lower(), heard.text
    # Stopped by voice: nothing rings or waits any more (it would ring again in 20 s).
    schedule = data_dir() / "schedule.json"
    stored = json.loads(schedule.read_text()) if schedule.exists() else {"items": []}
    assert not stored.get("items"), stored
