"""Pipeline events to Qt signals.

The conversation calls its listeners from worker threads. :class:`EventBridge` lives in
the GUI thread; emitting its signals from a worker makes Qt queue them, so every slot
that touches a widget runs in the GUI thread and no worker ever waits for the GUI.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from assistant.commands.host import ScheduleChanged
from assistant.pipeline.events import (
    Announced,
    AudioLevel,
    CommandHandled,
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    ReplySources,
    ReplyToken,
    SentenceSpoken,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)

__all__ = ["EventBridge"]

_LEVEL_EVERY = 0.05  # seconds: the meter needs 20 updates a second, not 33


class EventBridge(QObject):
    """One Qt signal per pipeline event type; call the bridge with an event (any thread)."""

    state_changed = Signal(object)
    """:class:`StateChanged`."""
    level = Signal(float, float)
    """Microphone level in dBFS and the VAD's speech probability."""
    partial = Signal(str)
    """What the user has said so far."""
    final = Signal(str, int)
    """The final transcript and its turn number."""
    token = Signal(str, int)
    """A piece of the reply and its turn number."""
    sources = Signal(object, int)
    """The passages (``tuple[assistant.reply.Source, ...]``) a turn's reply is given."""
    sentence = Signal(str, int)
    """A sentence of the reply was played to the end."""
    metrics = Signal(object)
    """:class:`TurnMetrics`."""
    finished = Signal(object)
    """:class:`TurnFinished`."""
    error = Signal(object)
    """:class:`ErrorEvent`."""
    command = Signal(object)
    """:class:`CommandHandled`: a turn answered without the language model."""
    announced = Signal(object)
    """:class:`Announced`: a timer rang, a reminder is due."""
    schedule = Signal(object)
    """The timers and reminders now (a tuple of items, from :class:`ScheduleChanged`)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._last_level = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, AudioLevel):
            now = time.monotonic()
            if now - self._last_level >= _LEVEL_EVERY:
                self._last_level = now
                self.level.emit(event.rms_db, event.speech_probability)
        elif isinstance(event, StateChanged):
            self.state_changed.emit(event)
        elif isinstance(event, PartialTranscript):
            self.partial.emit(event.text)
        elif isinstance(event, FinalTranscript):
            self.final.emit(event.text, event.turn)
        elif isinstance(event, ReplyToken):
            self.token.emit(event.text, event.turn)
        elif isinstance(event, ReplySources):
            self.sources.emit(event.sources, event.turn)
        elif isinstance(event, SentenceSpoken):
            self.sentence.emit(event.text, event.turn)
        elif isinstance(event, TurnMetrics):
            self.metrics.emit(event)
        elif isinstance(event, TurnFinished):
            self.finished.emit(event)
        elif isinstance(event, ErrorEvent):
            self.error.emit(event)
        elif isinstance(event, CommandHandled):
            self.command.emit(event)
        elif isinstance(event, Announced):
            self.announced.emit(event)
        elif isinstance(event, ScheduleChanged):
            self.schedule.emit(event.items)
