"""Wake words over Wyoming: which words the server offers, and a detector per request.

The words are the assistant's own (:mod:`assistant.wake`): the pretrained microWakeWord
words that come with ``pymicro-wakeword`` and every custom ``wake`` model in the store.
Home Assistant lists them from the ``info`` event, then opens a connection per listening
session, sends ``detect`` with the chosen names and streams 16 kHz audio; each session
gets a fresh detector, since a detector holds the stream's state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import AssistantError, ModelError

if TYPE_CHECKING:
    from ..store import ModelStore
    from ..wake import WakeDetector

__all__ = ["UnknownWakeWord", "WakeWord", "WakeWords"]

log = logging.getLogger(__name__)


class UnknownWakeWord(ModelError):
    """A request named a wake word the server does not offer."""


@dataclass(frozen=True)
class WakeWord:
    """One word the server can listen for."""

    name: str
    """Its id: a pretrained name (``hey_jarvis``) or a store id."""
    phrase: str
    """What is said, e.g. "hey jarvis"."""
    languages: tuple[str, ...]
    """Language codes it was trained for."""


class WakeWords:
    """The wake words on offer and their detectors.

    Args:
        store: where custom ``wake`` models are (None: the pretrained words only).
        default: the words listened for when a ``detect`` names none (``wake.words``).
        sensitivity: per word, 0..1 (``wake.sensitivity``).
    """

    def __init__(
        self,
        store: ModelStore | None,
        default: Sequence[str],
        sensitivity: Mapping[str, float] | None = None,
    ) -> None:
        self.store = store
        self.default = list(default)
        self.sensitivity = dict(sensitivity or {})

    def available(self) -> list[WakeWord]:
        """Every word that can be listened for now (models imported since the server
        started included); a word whose files cannot be read is left out and logged."""
        words = _pretrained()
        if self.store is not None:
            from ..wake.custom import read_wake_config

            for model in self.store.installed():
                if model.kind != "wake":
                    continue
                try:
                    config = read_wake_config(model.path)
                except AssistantError as exc:
                    log.warning("wake word %s left out: %s", model.id, exc.message)
                    continue
                words.append(WakeWord(model.id, str(config["phrase"]), ("en",)))
        return words

    def detector(self, names: Sequence[str] | None) -> WakeDetector:
        """A fresh detector for ``names`` (None or empty: the default words). ModelError
        names any word that is not on offer."""
        from ..wake import load_detector

        chosen = list(names) if names else self.default
        offered = {w.name for w in self.available()}
        unknown = [n for n in chosen if n not in offered]
        if unknown:
            raise UnknownWakeWord(
                f"unknown wake word {', '.join(map(repr, unknown))}",
                hint=f"this server offers {', '.join(sorted(offered)) or 'none'}",
            )
        return load_detector(chosen, self.store, self.sensitivity)


def _pretrained() -> list[WakeWord]:
    from ..wake import PRETRAINED
    from ..wake.micro import pretrained_config

    words = []
    for name in PRETRAINED:
        try:
            meta = json.loads(pretrained_config(name).read_text(encoding="utf-8"))
            phrase = str(meta["wake_word"])
            languages = tuple(str(x) for x in meta.get("trained_languages") or ["en"])
        except (AssistantError, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("pretrained wake word %s left out: %s", name, exc)
            continue
        words.append(WakeWord(name, phrase, languages))
    return words
