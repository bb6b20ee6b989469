"""The voice lab's loss curve: the mel loss over the training steps, axes labelled."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

__all__ = ["LossPlot"]


class LossPlot(QWidget):
    """The mel loss over the steps, as a line with its axes labelled."""

    EMPTY_TEXT = "The training loss appears here once a training runs"
    Y_LABEL = "mel loss (lower is better)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[float, float]] = []
        self.setMinimumHeight(90)

    def set_points(self, points: list[tuple[float, float]]) -> None:
        self.points = points
        self.update()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        painter.setPen(QColor("#b0b0b0"))
        if len(self.points) < 2:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.EMPTY_TEXT)
            painter.end()
            return
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        left, bottom = 44, 18  # room for the axis labels
        w, h = self.width() - left - 6, self.height() - bottom - 6
        painter.drawText(QRectF(0, 2, left - 4, 14), Qt.AlignmentFlag.AlignRight, f"{y1:.1f}")
        painter.drawText(QRectF(0, h - 8, left - 4, 14), Qt.AlignmentFlag.AlignRight, f"{y0:.1f}")
        painter.drawText(
            QRectF(left, h + 8, w, 14), Qt.AlignmentFlag.AlignCenter,
            f"{self.Y_LABEL} over training steps {x0:.0f}–{x1:.0f}",
        )  # fmt: skip
        painter.setPen(QPen(QColor("#6fb1ff"), 1.5))
        line = [
            QPointF(
                left + w * (x - x0) / ((x1 - x0) or 1),
                4 + h * (1 - (y - y0) / ((y1 - y0) or 1)),
            )
            for x, y in self.points
        ]
        painter.drawPolyline(line)
        painter.end()
