"""The voice lab's guardrails: enough recordings before Train, a question before a run of
hours, and one question when the lab is closed while it trains.

Questions are non-blocking message boxes (``open()``, not ``exec()``): the window and a
running training go on while one is shown, and tests answer them by clicking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["ask", "data_problem", "declined_estimate", "has_checkpoint"]

_ESTIMATE = re.compile(r"would take about (.+?) on this machine")


def data_problem(output: str) -> str | None:
    """The message of a failed ``train voice check`` (too little speech), or None.

    The lab asks training through its command line (gui never imports training)."""
    for line in output.splitlines():
        if line.startswith("error: "):
            return line.removeprefix("error: ").strip()
    return None


def declined_estimate(output: str) -> str | None:
    """The duration in the output of a fit that stopped because it would take hours."""
    match = _ESTIMATE.search(output)
    return match.group(1) if match else None


def has_checkpoint(run_dir: Path) -> bool:
    """A run left a checkpoint to listen to or export."""
    return any((run_dir / "checkpoints").glob("*.pt"))


def ask(
    parent: QWidget,
    title: str,
    text: str,
    buttons: list[tuple[str, str]],
    on_answer: Callable[[str], None],
) -> QMessageBox:
    """Show a question with ``(label, answer)`` buttons; ``on_answer(answer)`` gets the
    one clicked (``"cancel"`` when the box is closed without one)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    answers: dict[object, str] = {}
    for label, answer in buttons:
        role = (
            QMessageBox.ButtonRole.RejectRole
            if answer == "cancel"
            else QMessageBox.ButtonRole.AcceptRole
        )
        answers[box.addButton(label, role)] = answer

    def finished(_: int) -> None:
        on_answer(answers.get(box.clickedButton(), "cancel"))
        box.deleteLater()

    box.finished.connect(finished)
    box.open()
    return box
