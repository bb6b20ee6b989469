"""The app's model of the running assistant: config, engines, the conversation.

Everything slow (loading the engines, stopping a conversation, opening the history)
runs in worker threads; results come back as signals. Widgets call the controller and
listen to it and to its :class:`EventBridge`; they never touch an engine.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from assistant.config import Config, load_config, save_config
from assistant.pipeline.events import ErrorEvent

from .bridge import EventBridge
from .workers import as_error, run_in_background

if TYPE_CHECKING:
    from assistant.audio.playback import Player
    from assistant.commands import CommandHost
    from assistant.engines import Engines
    from assistant.memory import ConversationStore
    from assistant.pipeline import AudioSource, Conversation
    from assistant.store import ModelStore

__all__ = ["Controller", "Services"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app builds its runtime from; tests replace the audio ends."""

    config_path: Path | None = None
    """``--config``, or ``None`` for the default file."""
    source: Callable[[Config], AudioSource] | None = None
    """Makes the microphone (default: :class:`MicrophoneSource` on the configured input)."""
    player: Callable[[int, Config], Player] | None = None
    """Makes the speaker for a voice's sample rate (default: the configured output)."""
    load_engines: Callable[[Config, ModelStore], Engines] | None = None
    """Loads the engines (default: ``Engines.load``)."""
    history_path: Path | None = None
    """The conversation history file (default: the platform's)."""
    first_run: bool = True
    """Check models and devices at start and say what is missing."""
    commands: Callable[[], CommandHost] | None = None
    """Makes the local commands (default: timers and notes in the data folder)."""
    knowledge_path: Path | None = None
    """The document index (default: beside the history); spoken and typed turns are
    answered from it once folders were added."""


class _MutableSource:
    """Wraps the microphone so the tray can mute it without reopening the device."""

    def __init__(self, inner: AudioSource, muted: Callable[[], bool]) -> None:
        self._inner = inner
        self._muted = muted

    def blocks(self) -> Iterator[np.ndarray]:
        for block in self._inner.blocks():
            yield np.zeros_like(block) if self._muted() else block

    def close(self) -> None:
        self._inner.close()


@dataclass
class _Loaded:
    store: ModelStore
    engines: Engines
    player: Player
    memory: ConversationStore | None
    conversation_id: int | None
    history: list
    knowledge: Any = None
    wake: Any = None
    """The wake gate (``[wake] enabled``), or ``None``."""
    wake_error: ErrorEvent | None = None
    """Why the wake words could not be loaded (the conversation then runs without)."""


class Controller(QObject):
    """Owns the runtime objects; the window is a view of it."""

    loading = Signal(str)
    """Loading started (a line to show beside the progress indicator)."""
    ready = Signal()
    """The conversation is running."""
    failed = Signal(object)
    """An :class:`ErrorEvent` from loading or from a background task."""
    config_changed = Signal(object)
    """The config was saved and applied."""
    history_changed = Signal()
    """A conversation was added to or changed in the history."""
    conversation_opened = Signal(object)
    """``list[Turn]`` of the conversation now continued (empty for a new one)."""
    muted_changed = Signal(bool)
    wake_changed = Signal(bool)
    """Wake mode was switched on or off (the new ``[wake] enabled``)."""
    output_changed = Signal(str)
    """The audio output went away (why, as a line) or came back (an empty string)."""

    def __init__(self, services: Services | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services or Services()
        self.bridge = EventBridge(self)
        self.config: Config = Config()
        self.config_error: ErrorEvent | None = None
        try:
            self.config = load_config(self.services.config_path)
        except Exception as exc:
            self.config_error = as_error(exc, "config")
        self.store: ModelStore | None = None
        self.engines: Engines | None = None
        self.player: Player | None = None
        self.memory: ConversationStore | None = None
        self.conversation: Conversation | None = None
        self.commands: CommandHost | None = None
        """Timers, the time, sums...: answered before the language model is asked."""
        self.knowledge: Any = None
        """The document index the replies search (``None`` until folders are added)."""
        self._conversation_id: int | None = None
        self.mode = "push-to-talk"
        self.muted = False
        self.microphone_held = False
        """Another part of the app (the voice lab's recorder) owns the microphone now."""
        self.is_loading = False
        self.closed = False
        self._source: AudioSource | None = None
        self.wake_gate: Any = None
        """The running conversation's wake gate (wake mode on and its words loaded)."""
        self.bridge.finished.connect(lambda _: self.history_changed.emit())

    # ------------------------------------------------------------------ loading

    def start(self) -> None:
        """Load the engines in the background and start the conversation."""
        if self.config_error is not None:
            self.failed.emit(self.config_error)
        self._load(self.config, reload_engines=True)

    def _load(self, config: Config, *, reload_engines: bool, conversation: int | None = -1) -> None:
        self.is_loading = True
        self.loading.emit("Loading models…" if reload_engines else "Applying settings…")
        old = self._detach()
        engines = None if reload_engines else self.engines
        player = None if reload_engines else self.player
        memory = self.memory
        knowledge = self.knowledge

        def work() -> _Loaded:
            _shutdown(old, close_player=reload_engines)
            from assistant.store import ModelStore

            store = ModelStore.from_config(config.models)
            if engines is None:
                loader = self.services.load_engines
                if loader is None:
                    from assistant.engines import Engines

                    loader = Engines.load
                loaded = loader(config, store)
            else:
                loaded = engines
            speaker = player or self._make_player(loaded.voice.sample_rate, config)
            history_store = memory or _open_history(self.services.history_path)
            conversation_id, history = _pick(history_store, config, conversation)
            index = knowledge or _open_knowledge(store, self.services.knowledge_path)
            gate, wake_error = _wake_gate(config, store)
            return _Loaded(store, loaded, speaker, history_store, conversation_id, history, index,
                           gate, wake_error)  # fmt: skip

        run_in_background(
            lambda: work(), on_done=self._on_loaded, on_error=self._on_load_failed, what="loading"
        )

    def _make_player(self, rate: int, config: Config) -> Player:
        if self.services.player is not None:
            return self.services.player(rate, config)
        from assistant.audio.playback import Player

        # Without speakers the assistant still answers in text, and uses them once they
        # appear (the player tries the device again before each reply).
        player = Player(rate, config.audio.output_device, allow_missing=True)
        player.on_available = lambda back, why: self.output_changed.emit("" if back else why)
        return player

    def _open_source(self) -> AudioSource:
        if self.services.source is not None:
            inner = self.services.source(self.config)
        else:
            from assistant.pipeline import MicrophoneSource

            inner = MicrophoneSource(self.config.audio.input_device)
        self._source = _MutableSource(inner, lambda: self.muted or self.microphone_held)
        return self._source

    def _on_loaded(self, loaded: _Loaded) -> None:
        from assistant.pipeline import Conversation

        if self.closed:  # quit while loading: release what was opened, start nothing
            loaded.player.close()
            if loaded.memory is not None and loaded.memory is not self.memory:
                loaded.memory.close()
            return
        self.store, self.engines, self.player = loaded.store, loaded.engines, loaded.player
        self.memory, self.conversation_id = loaded.memory, loaded.conversation_id
        self.knowledge = loaded.knowledge
        engines = loaded.engines
        hooks = None
        if loaded.knowledge is not None:
            from assistant.knowledge import context_hook
            from assistant.reply import ReplyHooks

            hooks = ReplyHooks(context_for=context_hook(loaded.knowledge))
        self.wake_gate = loaded.wake
        chime = None
        if loaded.wake is not None and self.config.wake.chime:
            from assistant.wake.chime import chime_player

            chime = chime_player(loaded.player, engines.voice.sample_rate)
        self.conversation = Conversation.from_engines(
            engines,
            config=self.config,
            source=self._open_source,
            player=loaded.player,
            history=loaded.history,
            memory=loaded.memory,
            conversation_id=loaded.conversation_id,
            mode=self.mode,
            hooks=hooks,
            echo=_echo_canceller(self.config),
            wake=loaded.wake,
            chime=chime,
        )
        self.conversation.subscribe(self.bridge)
        if self.commands is None:
            from assistant.commands import CommandHost

            self.commands = (self.services.commands or CommandHost.open)()
        self.commands.attach(self.conversation, engines.voice.sample_rate)
        self.conversation.start()
        self.is_loading = False
        if self.memory is not None and self.conversation_id is not None:
            self.conversation_opened.emit(self.memory.turns(self.conversation_id))
        self.ready.emit()
        missing = getattr(loaded.player, "missing", None)
        if missing is not None:
            self.output_changed.emit(missing.message)
        self.history_changed.emit()
        if loaded.wake_error is not None:
            self.failed.emit(loaded.wake_error)

    def _on_load_failed(self, error: ErrorEvent) -> None:
        self.is_loading = False
        self.failed.emit(error)

    def _detach(self) -> tuple[Any, Any] | None:
        conversation, self.conversation = self.conversation, None
        if conversation is None:
            return None
        return conversation, self.player

    # ------------------------------------------------------------------ actions

    def push_to_talk(self, pressed: bool) -> None:
        if self.conversation is None:
            return
        if self.conversation.mode != "push-to-talk":
            self.set_hands_free(False)
        self.conversation.push_to_talk(pressed)

    def send_text(self, text: str) -> None:
        if self.conversation is not None and text.strip():
            self.conversation.send_text(text.strip())

    def interrupt(self) -> None:
        if self.conversation is not None:
            self.conversation.interrupt()

    def set_hands_free(self, on: bool) -> None:
        self.mode = "hands-free" if on else "push-to-talk"
        if self.conversation is not None:
            self.conversation.set_mode(self.mode)

    @property
    def wake_enabled(self) -> bool:
        """Wake mode is on in the config (``[wake] enabled``)."""
        return self.config.wake.enabled

    def set_wake(self, on: bool, words: list[str] | None = None) -> None:
        """Wake mode on or off (and, given ``words``, the words to wake on): saved in the
        config (``[wake]``) and applied (the conversation restarts with or without the
        wake gate; the engines stay). Wake mode listens hands-free, so switching it on
        switches hands-free on."""
        if on:
            self.set_hands_free(True)
        wake = dataclasses.replace(self.config.wake, enabled=on)
        if words is not None:
            wake.words = list(words)
        elif on and not wake.words:
            wake.words = ["hey_jarvis"]
        if wake == self.config.wake:
            return
        self.apply_config(dataclasses.replace(self.config, wake=wake))
        self.wake_changed.emit(on)

    def hold_microphone(self, held: bool) -> None:
        """Give the microphone to another owner (True) or back (False): while held, the
        conversation hears silence (hands-free hears nothing to answer) and a reply being
        spoken stops, so it cannot end up in a recording."""
        self.microphone_held = held
        if held:
            self.interrupt()

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.muted_changed.emit(muted)

    @property
    def conversation_id(self) -> int | None:
        """The conversation being continued; the running pipeline knows it best (it
        makes a new one when the first turn of a new conversation is stored)."""
        if self.conversation is not None and self.conversation.conversation_id is not None:
            return self.conversation.conversation_id
        return self._conversation_id

    @conversation_id.setter
    def conversation_id(self, value: int | None) -> None:
        self._conversation_id = value

    def new_conversation(self) -> None:
        if self.conversation is None:
            return
        self.conversation.new_conversation()
        self.conversation_id = None
        self.conversation_opened.emit([])

    def open_conversation(self, conversation_id: int) -> None:
        """Continue a stored conversation (the pipeline restarts with its history)."""
        self._load(self.config, reload_engines=False, conversation=conversation_id)

    def conversations(self) -> list:
        return self.memory.conversations() if self.memory is not None else []

    def apply_config(self, config: Config) -> None:
        """Save the config and apply it: engines reload only when a model or device
        changed; everything else restarts just the conversation."""
        config.validate()
        save_config(config, self.services.config_path)
        old, self.config = self.config, config
        self.config_changed.emit(config)
        if dataclasses.replace(old, gui=config.gui, serve=config.serve) == config:
            return  # only the app's own preferences or the server changed: no restart
        reload = _engine_settings(old) != _engine_settings(config) or self.engines is None
        if reload or self.conversation is not None:
            self._load(config, reload_engines=reload, conversation=self.conversation_id or -1)

    def reload(self) -> None:
        """Load the engines again (after a model was fixed)."""
        self._load(self.config, reload_engines=True)

    def cancel_scheduled(self, item_id: str) -> None:
        """Cancel a timer, alarm or reminder (the schedule panel's button)."""
        if self.commands is not None:
            self.commands.cancel(item_id)

    def shutdown(self) -> None:
        """Stop the conversation and release the devices (blocks for up to a second or
        two: called on quit)."""
        self.closed = True
        _shutdown(self._detach(), close_player=True)
        if self.commands is not None:
            self.commands.close()
            self.commands = None
        if self.memory is not None:
            self.memory.close()
            self.memory = None
        if self.knowledge is not None:
            self.knowledge.close()
            self.knowledge = None


def _engine_settings(config: Config) -> tuple:
    llm = config.llm
    return (config.asr, llm.model, llm.device, llm.context_size, llm.threads,
            llm.backend, llm.base_url, llm.api_key, llm.timeout_s,
            config.tts, config.vad.model, config.audio.output_device)  # fmt: skip


def _shutdown(old: tuple[Any, Any] | None, *, close_player: bool) -> None:
    if old is None:
        return
    conversation, player = old
    conversation.stop()
    if close_player and player is not None:
        player.close()


def _echo_canceller(config: Config) -> Any:
    """The canceller ``audio.echo_cancellation`` asks for (``None`` when off): it removes
    the replies from the microphone, so neither barge-in nor the wake word hears them."""
    mode = config.audio.echo_cancellation
    if mode == "off":
        return None
    from assistant.audio.echo import make_echo_canceller

    return make_echo_canceller(mode, delay_ms=config.audio.echo_delay_ms)


def _wake_gate(config: Config, store: ModelStore) -> tuple[Any, ErrorEvent | None]:
    """The wake gate when ``[wake] enabled`` (loaded here, in the background); a word
    that cannot be loaded is reported and the conversation runs without wake mode."""
    if not config.wake.enabled:
        return None, None
    from assistant.wake import WakeGate, load_detector

    try:
        detector = load_detector(config.wake.words, store, config.wake.sensitivity)
    except Exception as exc:
        return None, as_error(exc, "wake")
    return WakeGate(detector, follow_up_s=config.wake.follow_up_s), None


def _open_history(path: Path | None) -> ConversationStore | None:
    from assistant.memory import open_history

    store, note = open_history(path)
    if note:
        log.warning("%s", note)
    return store


def _open_knowledge(store: ModelStore, path: Path | None) -> Any:
    """The document index with its embedder (loaded once, here in the background), or
    ``None`` when no folder was added or it cannot be opened (then replies go on without)."""
    from assistant.errors import AssistantError
    from assistant.knowledge import open_if_indexed

    try:
        return open_if_indexed(store, path)
    except AssistantError as exc:
        log.warning("the document index is not used: %s", exc)
        return None


def _pick(store: ConversationStore | None, config: Config, wanted: int | None) -> tuple:
    """The conversation to continue: ``wanted``, ``None`` for a new one, -1 the latest."""
    if store is None:
        return None, []
    conversation = store.latest_conversation() if wanted == -1 else wanted
    if conversation is None:
        return None, []
    return conversation, store.history(conversation, config.llm.context_size)
