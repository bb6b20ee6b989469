"""The second listening to a near-command with the real recogniser: whisper's several
hypotheses for one utterance, and the one that reads as a command taken."""

from __future__ import annotations

from assistant.asr import WhisperTranscriber
from assistant.asr.window import ShortWindow
from assistant.audio import read_audio
from assistant.commands.hearing import COMMAND_PROMPT


def test_whisper_gives_several_distinct_hypotheses_the_likeliest_first(whisper_dir, speak):
    """One beam search kept whole: distinct transcripts, the first the one a beam of the
    same width would give, on the whole window and on the short one."""
    audio = read_audio(speak("Cancel the timer."))
    for window in (None, ShortWindow(minimum=1000)):
        whisper = WhisperTranscriber(whisper_dir, device="cpu", beam_size=4, window=window)
        found = whisper.hypotheses(audio, prompt=COMMAND_PROMPT, count=4)
        assert 2 <= len(found) <= 4 and len(set(found)) == len(found), found
        assert all(text.strip() for text in found), found
        assert "cancel" in found[0].lower() and "timer" in found[0].lower(), found
        plain = whisper.hypotheses(audio, count=1)
        assert len(plain) == 1 and "timer" in plain[0].lower(), plain
