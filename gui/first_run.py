"""First run: check the models and audio devices and say plainly what is missing, with
the button that fixes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .workers import run_in_background

if TYPE_CHECKING:
    from assistant.doctor import Check

    from .app import App

__all__ = ["FirstRunDialog", "check_first_run", "problems_of"]


def problems_of(checks: list[Check]) -> list[Check]:
    """The checks a user must act on before talking: models and audio devices."""
    return [
        c for c in checks
        if c.status != "ok" and ("model" in c.area or c.area.startswith("audio"))
    ]  # fmt: skip


def check_first_run(app: App) -> None:
    """Run the doctor's checks in the background; show what is missing, if anything."""
    controller = app.controller

    def work() -> list[Check]:
        from assistant.doctor import run_checks
        from assistant.store import ModelStore

        try:
            store = ModelStore.from_config(controller.config.models)
        except Exception:
            store = None
        return problems_of(run_checks(controller.config, store, controller.services.config_path))

    def done(problems: list[Check]) -> None:
        if problems:
            app.first_run = FirstRunDialog(problems, app)  # type: ignore[attr-defined]
            app.first_run.show()  # type: ignore[attr-defined]

    run_in_background(work, on_done=done, what="first-run check")


_APP_FIX = {
    "audio input": "Connect a microphone, or choose one in Audio settings. Until then, "
    "type your questions: the replies come as usual.",
    "audio output": "Connect speakers or headphones, or choose them in Audio settings. "
    "Until then, replies are shown as text; sound starts by itself when a device appears.",
}
"""What to do about an audio problem, said for the app (the doctor's fixes name CLI flags)."""


class FirstRunDialog(QDialog):
    """One row per problem: what is wrong, what to do, and a button that does it."""

    def __init__(self, problems: list[Check], app: App, parent: QWidget | None = None) -> None:
        super().__init__(parent or app.window)
        self.setWindowTitle("Before you start")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>A few things are missing:</b>"))
        self.rows: list[QLabel] = []
        self.fix_buttons: list[QPushButton] = []
        for check in problems:
            row = QHBoxLayout()
            fix = _APP_FIX.get(check.area, check.fix)  # the app's words, not CLI flags
            text = QLabel(f"<b>{check.area}</b>: {check.detail}<br><i>{fix}</i>")
            text.setWordWrap(True)
            self.rows.append(text)
            row.addWidget(text, 1)
            if "model" in check.area:
                button = QPushButton("Open the model manager")
                button.clicked.connect(lambda: app.open_models())
            else:
                button = QPushButton("Audio settings")
                button.clicked.connect(lambda: app.open_settings())
            self.fix_buttons.append(button)
            row.addWidget(button)
            layout.addLayout(row)
        close = QPushButton("Continue anyway")
        close.clicked.connect(self.accept)
        layout.addWidget(close)
        self.resize(560, 80 + 60 * len(problems))
