"""A non-blocking error banner: what failed, what to do, and a button that does it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

__all__ = ["Banner"]


class Banner(QFrame):
    """Hidden until :meth:`show_message`; closing it or acting on it hides it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet(
            "#banner { background: #fdecea; border: 1px solid #e0a8a0; border-radius: 6px; }"
            "#banner QLabel { color: #611a15; }"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(self.text.textInteractionFlags())
        self.action = QPushButton()
        self.action.hide()
        close = QPushButton("✕")
        close.setFlat(True)
        close.setFixedWidth(28)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action)
        layout.addWidget(close)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._act)
        self.hide()

    def show_message(
        self,
        message: str,
        hint: str | None = None,
        action: tuple[str, Callable[[], None]] | None = None,
    ) -> None:
        """Show ``message`` (and ``hint``, what to do) with an optional action button."""
        text = f"<b>{_escape(message)}</b>"
        if hint:
            text += f"<br>{_escape(hint)}"
        self.text.setText(text)
        if action is None:
            self._callback = None
            self.action.hide()
        else:
            self.action.setText(action[0])
            self._callback = action[1]
            self.action.show()
        self.show()

    def message(self) -> str:
        """The plain text shown (for tests and accessibility)."""
        return self.text.text()

    def _act(self) -> None:
        self.hide()
        if self._callback is not None:
            self._callback()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
