"""The latency waterfall under each reply: where the time of the turn went.

From the end of the user's speech: recognising it, the model's first token, the first
sentence ready for the voice, the first sound. Each step is a bar of its own colour; the
figures are in the tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from assistant.pipeline.events import TurnMetrics

__all__ = ["COMMAND_STEP", "STEPS", "TYPED_FIRST_STEP", "Waterfall"]

STEPS = (
    ("transcript", "speech end → transcript", "#5b8def"),
    ("matched", "transcript → command matched (no language model)", "#c9b037"),
    ("first_token", "transcript → first token", "#9b6bd6"),
    ("first_sentence", "first token → first sentence", "#d98a3a"),
    ("first_audio", "first sentence → first audio", "#3aa66b"),
)
"""(metric, label, colour) of each bar, in order."""

TYPED_FIRST_STEP = "Enter → first token"
"""The first bar of a typed question (it has no speech to recognise)."""

COMMAND_STEP = "matched → answer"
"""The bar after a local command was matched (its answer, instead of generation)."""


class Waterfall(QWidget):
    """A compact timeline of one turn's :class:`TurnMetrics`."""

    def __init__(
        self, metrics: TurnMetrics, parent: QWidget | None = None, *, typed: bool = False
    ) -> None:
        super().__init__(parent)
        self.metrics = metrics
        self.typed = typed
        """A typed question: no speech to end or recognise; times count from Enter."""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(160)
        self.setToolTip(self.describe())

    def segments(self) -> list[tuple[str, float, float]]:
        """(label, start, end) in seconds after the end of speech, for reached steps."""
        out: list[tuple[str, float, float]] = []
        previous = 0.0
        for name, label, _ in STEPS:
            value = getattr(self.metrics, name)
            if value is None or (self.typed and name == "transcript"):
                continue
            if self.typed and name == "first_token" and self.metrics.matched is None:
                label = TYPED_FIRST_STEP
            elif name == "first_token" and self.metrics.matched is not None:
                label = COMMAND_STEP
            out.append((label, previous, max(previous, value)))
            previous = max(previous, value)
        return out

    def describe(self) -> str:
        """The figures, one step a line (the tooltip)."""
        lines = [f"{label}: {1000 * (end - start):.0f} ms" for label, start, end in self.segments()]
        if self.metrics.first_audio is not None:
            what = "Enter to first sound" if self.typed else "voice to voice"
            lines.append(f"{what}: {1000 * self.metrics.first_audio:.0f} ms")
        return "\n".join(lines) or "no timings for this turn"

    def sizeHint(self) -> QSize:
        return QSize(320, 22)

    def paintEvent(self, event: QPaintEvent) -> None:
        segments = self.segments()
        if not segments:
            return
        total = max(segments[-1][2], 1e-3)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_width = 70
        width = max(10.0, self.width() - label_width - 4)
        height = self.height()
        colours = {label: colour for _, label, colour in STEPS}
        colours[TYPED_FIRST_STEP] = colours[COMMAND_STEP] = dict(
            (name, colour) for name, _, colour in STEPS
        )["first_token"]
        row = (height - 4) / len(segments)
        for i, (label, start, end) in enumerate(segments):
            x = start / total * width
            w = max(2.0, (end - start) / total * width)
            painter.fillRect(QRectF(x, 2 + i * row, w, max(2.0, row - 1)), QColor(colours[label]))
        painter.setPen(QColor("#666"))
        painter.drawText(
            QRectF(width + 4, 0, label_width, height),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            f"{1000 * total:.0f} ms",
        )
        painter.end()
