"""Listening twice to what nearly reads as a command.

The small recogniser mishears short commands on unfamiliar voices ("Console nutheimer"
for "Cancel the timer"). :class:`CommandHearing` decides: when a transcript matches no
command but is short and carries a command word, the same audio is transcribed again
with whisper's prompt primed with command sentences, and that second
transcript is kept only if it reads as a command and sounds like the first, or the first
is that command said over again ("Stop. Stup."): a prompt can make whisper write its own
words instead of what was said. Transcripts for the language
model (questions, chat) pay nothing: they are long or carry no command word.

Given a ``score`` (whisper's log-likelihood of a text on the same audio:
:meth:`assistant.asr.WhisperTranscriber.score`), a second transcript that does not sound
like the first is still kept when the audio fits it nearly as well as the first
(:data:`FIT_MARGIN`): "What's 12 times 7?" for "What's well time seven?". It is a trial
(``bench commands --spoken --fit``): the live pipeline does not pass one yet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from ..text import edit_distance
from .matcher import CommandMatcher
from .sounds import sound_key

__all__ = ["COMMAND_PROMPT", "FIT_MARGIN", "CommandHearing", "repeated", "sounds_alike"]

log = logging.getLogger(__name__)

COMMAND_PROMPT = (
    "Set a timer for 12 minutes. Pause, resume or cancel the timer. Set an alarm. "
    "Remind me at 6 pm. What's the date? What day is it? Mute, unmute, louder, quieter. "
    "Never mind. Convert 3 pounds into grams. Open the music folder. Search my notes."
)
"""Command sentences whisper is primed with on the second listening."""

FIT_MARGIN = 4.0
"""How much less likely (in nats, summed over the text) than the first transcript the
audio may make a second one that does not sound like it, for the second to be kept.
The ordinary questions' nearest command was 15 nats or more below their transcript
(``bench commands`` questions, whisper-tiny.en); 2 to 8 gave the same commands."""

MAX_WORDS = 9
"""A transcript longer than this is no near-command (a question, a request for the model)."""

ANCHORS = frozenset({
    "timer", "timers", "alarm", "alarms", "remind", "reminder", "reminders", "cancel",
    "pause", "resume", "continue", "mute", "unmute", "volume", "louder", "quieter", "date",
    "day", "today", "time", "notes", "note", "convert", "open", "folder", "never", "mind",
    "stop", "quiet", "minute", "minutes", "second", "seconds", "hour", "hours", "percent",
    "times", "plus", "minus", "wake", "speak", "slower", "faster",
})  # fmt: skip
"""Words one of which a near-command carries: as heard, as the start of a longer word
("reminded"), or sounding the same (a word of three sounds or more: "console"). A
number counts too (durations, sums: "what is 9.6" for "what is 9 times 6")."""

_ANCHOR_KEYS = frozenset(k for k in map(sound_key, ANCHORS) if len(k) >= 3)


def _anchored(word: str) -> bool:
    if word in ANCHORS or word.isdigit() or sound_key(word) in _ANCHOR_KEYS:
        return True
    return len(word) > 5 and any(word.startswith(a) for a in ANCHORS if len(a) >= 5)


def _keys(text: str) -> str:
    words = re.findall(r"[a-z']+|\d+", text.lower())
    return " ".join(w if w.isdigit() else sound_key(w) for w in words)


def repeated(first: str, second: str) -> bool:
    """Whether ``first`` is ``second`` said over again: two sentences or more, each
    sounding like ``second`` ("Stop. Stup." for "Stop."; whisper repeats itself on a
    short utterance it is unsure of), the last one perhaps cut off where the audio ends
    ("Stop. St-"). Only then is the longer first transcript no more than the second:
    "Stop. Play some jazz." is more than "Stop."."""
    parts = [p for p in re.split(r"(?<=[.!?])\s+", first.strip()) if p]
    if len(parts) < 2:
        return False
    *whole, last = parts
    if last.endswith("-") and _keys(second).startswith(_keys(last.rstrip("-")) or "\0"):
        last = second  # a word cut off, as whisper marks one: the start of the command
    return all(sounds_alike(p, second) for p in (*whole, last))


def sounds_alike(first: str, second: str, most: float = 0.4) -> bool:
    """Whether two transcripts of one utterance sound alike: their sound keys differ in at
    most ``most`` of the longer one's sounds."""
    a, b = _keys(first), _keys(second)
    if not a or not b:
        return False
    return edit_distance(a, b) <= most * max(len(a), len(b))


class CommandHearing:
    """Listens again, primed with command sentences, to a transcript that nearly reads
    as a command.

    Args:
        matcher: the command matcher.
        prompt: the priming text of the second listening.
    """

    def __init__(self, matcher: CommandMatcher, prompt: str = COMMAND_PROMPT) -> None:
        self.matcher = matcher
        self.prompt = prompt
        self.second_listenings = 0
        """How many transcripts were listened to twice (the cost: one more recognition)."""

    def near_command(self, text: str) -> bool:
        """Whether ``text`` matches no command yet is short and carries a command word
        (as written or as it sounds)."""
        words = re.findall(r"[a-z']+|\d+", text.lower())
        if not words or len(words) > MAX_WORDS:
            return False
        if not any(_anchored(w) for w in words):
            return False
        return self.matcher.match(text) is None

    def rehear(
        self,
        text: str,
        transcribe: Callable[[str], str | None],
        score: Callable[[list[str]], list[float]] | None = None,
    ) -> str:
        """The transcript to use: ``text`` as first heard, or the same audio heard again
        (``transcribe(prompt)``) primed with command sentences, when ``text`` nearly
        reads as a command and the second transcript reads as one and sounds like it,
        or (given ``score``: each text's log-likelihood on the audio) fits the audio
        within :data:`FIT_MARGIN` of the first."""
        if not self.near_command(text):
            return text
        self.second_listenings += 1
        second = transcribe(self.prompt)
        if not second or self.matcher.match(second) is None:
            return text
        if not sounds_alike(text, second) and not repeated(text, second):
            if score is None:
                return text
            first_fit, second_fit = score([text, second])
            if second_fit < first_fit - FIT_MARGIN:
                return text
            log.info("heard %r again as %r (fit %.1f against %.1f)", text, second,
                     second_fit, first_fit)  # fmt: skip
            return second
        log.info("heard %r again as %r", text, second)
        return second
