"""Phoneme inventories and coverage: which of a language's phonemes a dataset (or a
prompt list) makes the voice hear, and how often."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from assistant.tts.vits import phonemize

__all__ = ["INVENTORIES", "Coverage", "coverage", "prompt_list", "split_phonemes"]

# The phonemes espeak-ng's American English voice writes (stress and length marks
# removed): 19 vowels and diphthongs, 26 consonants.
_EN_US = (  # noqa: SIM905 (a list literal of 45 IPA strings reads worse)
    "i ɪ eɪ ɛ æ ɑ ɔ oʊ ʊ u ʌ ə ɚ ɜ aɪ aʊ ɔɪ ɐ ᵻ "
    "p b t d k ɡ f v θ ð s z ʃ ʒ h tʃ dʒ m n ŋ l ɹ j w ɾ ʔ"
).split()

INVENTORIES: dict[str, tuple[str, ...]] = {"en-us": tuple(_EN_US), "en": tuple(_EN_US)}
"""Phonemes of each language this module knows, by espeak-ng voice."""

_IGNORED = set("ˈˌːˑ ,.!?;:-'\"()")


def split_phonemes(phonemes: str, inventory: Iterable[str]) -> list[str]:
    """A phoneme string cut into phonemes, longest match first (``tʃ`` before ``t``);
    stress, length and punctuation dropped; symbols outside ``inventory`` kept one by one."""
    units = sorted(set(inventory), key=len, reverse=True)
    text = "".join(ch for ch in phonemes if ch not in _IGNORED)
    found: list[str] = []
    i = 0
    while i < len(text):
        for unit in units:
            if text.startswith(unit, i):
                found.append(unit)
                i += len(unit)
                break
        else:
            found.append(text[i])
            i += 1
    return found


@dataclass(frozen=True)
class Coverage:
    """How well a set of sentences covers a language's phonemes."""

    language: str
    """espeak-ng voice."""
    inventory: tuple[str, ...]
    """The language's phonemes (empty when this module does not know the language)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Occurrences of each phoneme seen."""

    @property
    def covered(self) -> list[str]:
        """Inventory phonemes that occur at least once."""
        return [p for p in self.inventory if self.counts.get(p)]

    @property
    def missing(self) -> list[str]:
        """Inventory phonemes that never occur."""
        return [p for p in self.inventory if not self.counts.get(p)]

    @property
    def ratio(self) -> float:
        """Share of the inventory covered (1.0 when the inventory is unknown)."""
        return len(self.covered) / len(self.inventory) if self.inventory else 1.0

    def to_dict(self) -> dict[str, object]:
        """Plain data for reports."""
        return {
            "language": self.language,
            "inventory_size": len(self.inventory),
            "covered": len(self.covered),
            "ratio": round(self.ratio, 4),
            "missing": self.missing,
            "rare": sorted(p for p in self.covered if self.counts[p] < 3),
            "counts": dict(sorted(self.counts.items(), key=lambda kv: -kv[1])),
        }


def coverage(sentences: Iterable[str], language: str) -> Coverage:
    """Phoneme coverage of ``sentences`` (plain text, phonemized with espeak-ng)."""
    inventory = INVENTORIES.get(language, ())
    counts: Counter[str] = Counter()
    for sentence in sentences:
        counts.update(split_phonemes(phonemize(sentence, language), inventory))
    return Coverage(language, inventory, dict(counts))


def prompt_list(language: str = "en-us") -> list[str]:
    """The shipped phonetically balanced prompts to record (``prompts_<lang>.txt``)."""
    name = f"prompts_{language.split('-')[0]}.txt"
    text = resources.files("training.voice").joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
