"""Text -> phoneme ids exactly as a Piper voice reads them (its espeak-ng voice, its
``phoneme_id_map``), so a fine-tune trains on the ids the exported voice will be fed;
and the check that a dataset's language fits the base's phonemes."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

__all__ = ["PiperTokenizer", "check_language"]

log = logging.getLogger(__name__)

_MAX_UNKNOWN = 0.02
"""Share of a dataset's phonemes the base may lack before the dataset is refused."""


def check_language(dataset_language: str, voice_language: str, source: Path) -> None:
    """The dataset's language (its prepare report) must be the base voice's."""
    if dataset_language and dataset_language.split("-")[0] != voice_language.split("-")[0]:
        raise AssistantError(
            f"{source} is prepared for {dataset_language} but the base voice speaks "
            f"{voice_language}",
            hint="pick a base voice of your recordings' language, or prepare them with "
            f"--language {voice_language} if that is what they are",
        )


class PiperTokenizer:
    """Phonemizer + id map of a Piper voice config (no ONNX session needed)."""

    def __init__(self, config: dict[str, Any]) -> None:
        import piper

        self.config = config
        self.id_map: dict[str, list[int]] = dict(config["phoneme_id_map"])
        self.language = str(config.get("espeak", {}).get("voice", "en-us"))
        self._voice = piper.PiperVoice(session=None, config=piper.PiperConfig.from_dict(config))  # type: ignore[arg-type]
        self.unknown: Counter[str] = Counter()
        self.seen = 0

    def phonemes(self, text: str) -> list[str]:
        """All sentences of ``text`` as one phoneme list (sentences joined by a space)."""
        out: list[str] = []
        for sentence in self._voice.phonemize(text):
            if out:
                out.append(" ")
            out.extend(sentence)
        return out

    def ids(self, text: str) -> list[int]:
        """``^ _ p1 _ p2 _ ... $``: Piper's layout (BOS, pad after each, EOS)."""
        phonemes = self.phonemes(text)
        self.seen += len(phonemes)
        self.unknown.update(p for p in phonemes if p not in self.id_map)
        return list(self._voice.phonemes_to_ids(phonemes))

    def check_language(self, dataset_language: str, source: Path) -> None:
        """A dataset in another language than the base's phonemes: refuse, naming it."""
        check_language(dataset_language, self.language, source)
        share = sum(self.unknown.values()) / self.seen if self.seen else 0.0
        if share > _MAX_UNKNOWN:
            worst = ", ".join(p for p, _ in self.unknown.most_common(5))
            raise AssistantError(
                f"{share:.0%} of the phonemes of {source} are not in the base voice's "
                f"phoneme map ({worst})",
                hint="the recordings seem to be in another language than the base voice",
            )
