"""The wake phrase: checked (speakable, not nonsense) and its near-sounding variants."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

from assistant.errors import AssistantError

__all__ = ["REQUESTS", "PhraseError", "check_phrase", "context_phrases", "near_phrases",
           "phonemes"]

REQUESTS = ("what time is it", "what is the weather like", "turn off the lights",
            "set a timer for ten minutes", "play some music", "what's on my calendar",
            "tell me a joke", "remind me to call Anna", "how far is the moon", "stop",
            "open the document", "read me the news", "what does this word mean")  # fmt: skip
"""What people say right after a wake word: what follows some positives."""

_MIN_PHONEMES = 4
_MAX_WORDS = 5


class PhraseError(AssistantError):
    """A wake phrase that cannot be trained."""


def phonemes(text: str, voice: str = "en-us") -> str:
    """espeak-ng's IPA for ``text`` (stress marks and spaces removed)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AssistantError(
            "espeak-ng is not installed; wake word training speaks the phrase with it",
            hint="apt-get install espeak-ng",
        )
    out = subprocess.run(
        [exe, "-q", "--ipa", "-v", voice, text], capture_output=True, text=True, timeout=30
    ).stdout
    return re.sub(r"[\sˈˌ_-]", "", out)


def check_phrase(phrase: str) -> str:
    """The phrase normalised (lower case, single spaces), or :class:`PhraseError`."""
    text = " ".join(phrase.strip().lower().split())
    hint = 'choose two to four ordinary words, e.g. "hey computer"'
    if not text:
        raise PhraseError("the wake phrase is empty", hint=hint)
    letters = [c for c in text if c.isalpha()]
    if not letters:
        raise PhraseError(f"the wake phrase {phrase!r} has no letters: nothing to say", hint=hint)
    foreign = sorted({c for c in letters if "LATIN" not in unicodedata.name(c, "")})
    if foreign:
        raise PhraseError(
            f"the wake phrase {phrase!r} cannot be spoken by the English phonemizer "
            f"(espeak-ng): it has no pronunciation for {''.join(foreign[:5])!r}",
            hint="write the phrase in Latin letters as it is said, e.g. 'ni hao'",
        )
    if not re.fullmatch(r"[a-z' .,!?-]+", unicodedata.normalize("NFKD", text).encode(
            "ascii", "ignore").decode() or "-"):  # fmt: skip
        raise PhraseError(f"the wake phrase {phrase!r} has digits or symbols", hint=hint)
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text)
    if len(words) > _MAX_WORDS:
        raise PhraseError(
            f"the wake phrase {phrase!r} has {len(words)} words; at most {_MAX_WORDS}", hint=hint
        )
    ipa = phonemes(text)
    if len(ipa) < _MIN_PHONEMES:
        raise PhraseError(
            f"the wake phrase {phrase!r} is too short ({len(ipa)} phonemes: {ipa!r}); "
            f"short words wake by accident",
            hint=hint,
        )
    if len(set(letters)) < 3:
        raise PhraseError(f"the wake phrase {phrase!r} looks like nonsense", hint=hint)
    return " ".join(words)


_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "w", "h", "")


def near_phrases(phrase: str, count: int = 14) -> list[str]:
    """Phrases that sound close to ``phrase`` but are not it: each word alone, the
    phrase missing a word, the last word cut short, and words with another first
    consonant ("hey computer" -> "hey commuter"-like "hey bomputer", "bay computer")."""
    words = phrase.split()
    out: list[str] = []
    if len(words) > 1:
        out += words
        out += [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    last = words[-1]
    if len(last) > 4:
        out.append(" ".join([*words[:-1], last[: max(3, len(last) * 2 // 3)]]))
    for i, word in enumerate(words):
        onset = re.match(r"[^aeiouy]*", word)
        rest = word[onset.end() if onset else 0 :]
        for k, new in enumerate(_ONSETS):
            if onset is None or new == onset.group(0) or not rest:
                continue
            if (k + i) % 3 == 0:
                out.append(" ".join([*words[:i], new + rest, *words[i + 1 :]]))
    seen: list[str] = []
    for candidate in out:
        if candidate and candidate != phrase and candidate not in seen:
            seen.append(candidate)
    return seen[:count]


_CONTEXTS = (
    "I think the {w} is on the table.", "Did you say {w}?", "My {w} was here a minute ago.",
    "That {w} again, every single day.", "We talked about the {w} for an hour.",
    "{W}, and then we went home.", "She wrote {w} on the board.", "Is this a {w} or not?",
    "Please put the {w} back.", "Oh, {w}, I forgot about that.", "The new {w} arrives today.",
    "Say it again: {w}.",
)  # fmt: skip
_OPENERS = ("hey there", "hey you", "hey, how are you", "hey, wait", "hey, come here")


def context_phrases(phrase: str) -> list[str]:
    """Sentences that say the phrase's words, but not the phrase: each word inside
    ordinary sentences ("I think the computer is on the table."), and the first word
    followed by other words ("hey there"): what everyday speech does most often."""
    words = phrase.split()
    out: list[str] = []
    inner = [w for w in words if len(w) >= 4] if len(words) > 1 else [words[0][:3]]
    for word in inner:
        out += [c.format(w=word, W=word.capitalize()) for c in _CONTEXTS]
    if len(words) > 1:
        # Not "a computer" or "okay computer": so close to the phrase that the model
        # learnt to miss the phrase said by a new voice (bench: 40% of a Piper voice's).
        out += [f"{o}." for o in _OPENERS]
        out += [f"{words[0]} {w}" for w in ("there", "you", "everyone", "come on", "buddy")]
    return [t for t in dict.fromkeys(out) if phrase not in t.lower()]
