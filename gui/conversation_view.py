"""The conversation as it happens: the user's words (the live partial transcript too),
the replies streaming in, and each turn's latency waterfall."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from assistant.pipeline.events import TurnFinished, TurnMetrics
from assistant.reply import Source

from .waterfall import Waterfall

__all__ = ["ConversationView"]

_USER = "background: #e3efff; border-radius: 10px; padding: 8px; color: #10243e;"
_PARTIAL = "background: #f1f4f8; border-radius: 10px; padding: 8px; color: #6b7785;"
_REPLY = "background: #f3f3f3; border-radius: 10px; padding: 8px; color: #1d1d1d;"
_SOURCES = "color: #4a5866; padding: 0 8px;"
_TOKEN_EVERY_MS = 30
"""Reply tokens are shown at most this often: each ``setText`` of a word-wrapped bubble
re-lays the whole conversation out, and tokens come much faster than the eye reads."""


@dataclass
class _TurnWidgets:
    user: QLabel | None = None
    reply: QLabel | None = None
    box: QVBoxLayout | None = None
    text: list[str] = field(default_factory=list)
    waterfall: Waterfall | None = None
    typed: bool = False
    """The question was typed, not spoken."""
    shown: int = 0
    """Pieces of ``text`` already in the bubble."""
    sources: QLabel | None = None
    """The passages of the user's documents the reply was given, as links."""


class ConversationView(QScrollArea):
    """Bubbles, newest at the bottom; keeps the view scrolled to the end."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self._layout = QVBoxLayout(inner)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self.turns: dict[int, _TurnWidgets] = {}
        self._typed: list[str] = []
        self._partial: QLabel | None = None
        self._scroll = QTimer(self, singleShot=True, interval=0)
        self._scroll.timeout.connect(self._to_bottom)
        self._tokens = QTimer(self, singleShot=True, interval=_TOKEN_EVERY_MS)
        self._tokens.timeout.connect(self.flush)
        self.open_file: Callable[[str], object] = _open_file
        """Opens a source's file (the desktop's default application)."""

    # ------------------------------------------------------------------ live events

    def set_partial(self, text: str) -> None:
        """What the user is saying right now (replaced by the final transcript)."""
        if self._partial is None:
            self._partial = self._bubble(text + " …", _PARTIAL, right=True)
        else:
            self._partial.setText(text + " …")
        self._scroll.start()

    def expect_typed(self, text: str) -> None:
        """``text`` was typed: its turn's waterfall has no speech steps."""
        self._typed.append(text)

    def add_user(self, text: str, turn: int) -> None:
        self._drop_partial()
        widgets = self.turns.setdefault(turn, _TurnWidgets())
        if text in self._typed:
            self._typed.remove(text)
            widgets.typed = True
        widgets.user = self._bubble(text, _USER, right=True)
        self._scroll.start()

    def add_token(self, text: str, turn: int) -> None:
        widgets = self.turns.setdefault(turn, _TurnWidgets())
        if widgets.reply is None:
            widgets.reply, widgets.box = self._reply_bubble()
        widgets.text.append(text)
        if not self._tokens.isActive():
            self._tokens.start()

    def add_sources(self, sources: Sequence[Source], turn: int) -> None:
        """Show where the reply's passages come from: one link per passage (the file
        name and heading; the passage in its tooltip), opening the file when clicked."""
        widgets = self.turns.setdefault(turn, _TurnWidgets())
        if widgets.reply is None:
            widgets.reply, widgets.box = self._reply_bubble()
        links = []
        for source in sources:
            where = source.name + (f" – {source.heading}" if source.heading else "")
            href = html.escape(QUrl.fromLocalFile(source.path).toString(), quote=True)
            links.append(f'<a href="{href}">{html.escape(where)}</a>')
        label = QLabel("Sources: " + " · ".join(links))
        label.setWordWrap(True)
        label.setStyleSheet(_SOURCES)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        label.setToolTip("\n\n".join(f"{s.name}: {s.text[:300]}" for s in sources))
        label.linkActivated.connect(lambda url: self.open_file(QUrl(url).toLocalFile()))
        assert widgets.box is not None
        widgets.box.addWidget(label)
        widgets.sources = label
        self._scroll.start()

    def flush(self) -> None:
        """Show the tokens that came since the last update (a timer calls this)."""
        self._tokens.stop()
        changed = False
        for widgets in self.turns.values():
            if widgets.reply is not None and widgets.shown != len(widgets.text):
                widgets.shown = len(widgets.text)
                widgets.reply.setText("".join(widgets.text).strip())
                changed = True
        if changed:
            self._scroll.start()

    def finish(self, event: TurnFinished) -> None:
        self.flush()
        widgets = self.turns.get(event.turn)
        if widgets is None or widgets.reply is None:
            return
        if event.interrupted:
            shown = event.spoken_text or "…"
            widgets.reply.setText(f"{shown} <span style='color:#a33'>[interrupted]</span>")
            widgets.reply.setToolTip(f"The model wrote: {event.full_text}")

    def add_metrics(self, metrics: TurnMetrics) -> None:
        self.flush()
        widgets = self.turns.get(metrics.turn)
        if widgets is None or widgets.box is None:
            return
        widgets.waterfall = Waterfall(metrics, typed=widgets.typed)
        widgets.box.addWidget(widgets.waterfall)
        self._scroll.start()

    def add_announcement(self, event: Any) -> None:
        """The assistant spoke on its own (an :class:`Announced`: a timer rang)."""
        if not getattr(event, "played", True):
            return
        self._bubble(f"\N{BELL} {event.text}", _REPLY, right=False)
        self._to_bottom()

    def user_gave_up(self) -> None:
        """Push-to-talk released with nothing said: drop the partial bubble."""
        self._drop_partial()

    # ------------------------------------------------------------------ history

    def clear(self) -> None:
        self._tokens.stop()
        self._drop_partial()
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.turns.clear()

    def show_turns(self, turns: list) -> None:
        """Show stored turns (``assistant.memory.Turn``), with their waterfalls."""
        self.clear()
        for i, turn in enumerate(turns):
            key = -1 - i  # stored turns never collide with the live session's numbers
            self.add_user(turn.user_text, key)
            self.add_token(turn.assistant_text, key)
            self.flush()
            if turn.interrupted:
                self.finish(TurnFinished(key, turn.user_text, turn.assistant_text, "", True))
            if turn.metrics:
                known = ("transcript", "first_token", "first_sentence", "first_audio", "end")
                values = {k: v for k, v in turn.metrics.items() if k in known}
                self.add_metrics(TurnMetrics(key, **values))

    def texts(self) -> list[str]:
        """Every bubble's text, top to bottom (for tests)."""
        self.flush()
        out = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if widget is not None:
                out += [label.text() for label in widget.findChildren(QLabel)]
        return out

    # ------------------------------------------------------------------ helpers

    def _bubble(self, text: str, style: str, *, right: bool) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet(style)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QFrame()
        box = QVBoxLayout(row)
        box.setContentsMargins(60 if right else 0, 0, 0 if right else 60, 0)
        box.addWidget(label)
        self._layout.insertWidget(self._layout.count() - 1, row)
        return label

    def _reply_bubble(self) -> tuple[QLabel, QVBoxLayout]:
        label = self._bubble("", _REPLY, right=False)
        parent = label.parentWidget()
        box = parent.layout() if parent is not None else None
        assert isinstance(box, QVBoxLayout)
        return label, box

    def _drop_partial(self) -> None:
        if self._partial is not None:
            parent = self._partial.parentWidget()
            if parent is not None:
                parent.deleteLater()
            self._partial = None

    def _to_bottom(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


def _open_file(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))
