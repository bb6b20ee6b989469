"""The engines a server shares between its clients: loaded once, each behind its slots."""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Config
from .queueing import Slots
from .wake import WakeWords

if TYPE_CHECKING:
    from ..asr import Transcriber
    from ..llm import ChatModel
    from ..store import ModelStore
    from ..tts import Voice

__all__ = ["Embedder", "IndexEmbedder", "ServeEngines"]

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """The seam for ``POST /v1/embeddings``: a sentence embedder (the document index's,
    once it has one) plugged in as :attr:`ServeEngines.embedder`."""

    name: str
    """The model id clients name."""

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        ...


class IndexEmbedder:
    """The document index's sentence embedder (the catalog's ``embed`` model) behind the
    :class:`Embedder` seam: loaded on the first request, then shared."""

    def __init__(self, store: ModelStore, model_id: str) -> None:
        self.name = model_id
        self._store = store
        self._lock = threading.Lock()
        self._model: Any = None

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from ..knowledge import default_embedder

                self._model = default_embedder(self._store, self.name)
            return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._loaded().embed(texts)
        return [[float(x) for x in row] for row in vectors]

    def token_count(self, texts: list[str]) -> int:
        """Tokens the model read (its tokenizer, truncation included)."""
        model = self._loaded()
        return sum(int(model.token_count(t)) for t in texts)

    @classmethod
    def installed(cls, store: ModelStore | None) -> IndexEmbedder | None:
        """The default ``embed`` model when it is installed, else None (the endpoint then
        answers 501)."""
        if store is None:
            return None
        from ..errors import AssistantError

        try:
            model_id = store.catalog.default_for("embed").id
            store.resolve("embed", model_id)
        except AssistantError as exc:
            log.info("no embedding model for /v1/embeddings: %s", exc)
            return None
        return cls(store, model_id)


@dataclass
class ServeEngines:
    """What ``assistant serve`` answers with.

    ``chat`` and ``transcriber`` are loaded at start; voices are loaded on first use by
    their store id and kept (any installed voice can be asked for by name).
    """

    config: Config
    store: ModelStore | None
    chat: ChatModel
    chat_id: str
    transcriber: Transcriber
    asr_id: str
    embedder: Embedder | None = None
    wake: WakeWords | None = None
    """The wake words offered over Wyoming (None: none)."""
    voices: dict[str, Voice] = field(default_factory=dict)
    chat_slots: Slots = field(default_factory=lambda: Slots("language model"))
    asr_slots: Slots = field(default_factory=lambda: Slots("speech recognition"))
    voice_slots: dict[str, Slots] = field(default_factory=dict)
    _voice_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, config: Config, store: ModelStore) -> ServeEngines:
        """Load the language model, the recogniser and the default voice."""
        from ..engines import load_chat_model, load_transcriber

        start = time.perf_counter()
        chat = load_chat_model(config, store)
        transcriber = load_transcriber(config, store)
        engines = cls(
            config=config,
            store=store,
            chat=chat,
            chat_id=config.llm.model,
            transcriber=transcriber,
            asr_id=config.asr.model,
            embedder=IndexEmbedder.installed(store),
            wake=WakeWords(store, config.wake.words, config.wake.sensitivity),
        )
        engines.configure_slots()
        engines.voice(config.tts.voice)
        log.info("server engines loaded in %.1f s", time.perf_counter() - start)
        return engines

    def configure_slots(self) -> None:
        """Apply ``[serve]`` limits (a local model runs one generation at a time: one
        llama.cpp context)."""
        serve = self.config.serve
        self.chat_slots = Slots("language model", 1, serve.max_queue)
        self.asr_slots = Slots("speech recognition", serve.asr_slots, serve.max_queue)

    def voice_ids(self) -> list[str]:
        """Every installed voice's id (the loaded ones when there is no store)."""
        ids = set(self.voices)
        if self.store is not None:
            ids.update(m.id for m in self.store.installed() if m.kind == "voice")
        return sorted(ids)

    def voice(self, voice_id: str) -> Voice:
        """The voice ``voice_id``, loaded on first use. KeyError if not installed."""
        with self._voice_lock:
            if voice_id in self.voices:
                return self.voices[voice_id]
            if self.store is None or voice_id not in self.voice_ids():
                raise KeyError(voice_id)
            from ..engines import load_voice

            config = copy.deepcopy(self.config)
            config.tts.voice = voice_id
            voice = load_voice(config, self.store)
            self.voices[voice_id] = voice
            return voice

    def slots_for_voice(self, voice_id: str) -> Slots:
        if voice_id not in self.voice_slots:
            self.voice_slots[voice_id] = Slots(f"voice {voice_id}", 1, self.config.serve.max_queue)
        return self.voice_slots[voice_id]
