"""What the handlers work with: the scheduler, the notes, the clock, the desktop."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .notes import NotesStore
    from .scheduler import Scheduler

__all__ = ["Answer", "CommandContext", "DesktopSettings"]


@dataclass(frozen=True)
class Answer:
    """A handler's answer (the router adds the match and the timings)."""

    text: str
    question: bool = False
    declined: bool = False
    actions: tuple[Any, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


def _env_command(name: str) -> list[str] | None:
    value = os.environ.get(name, "").strip()
    return shlex.split(value) if value else None


@dataclass
class DesktopSettings:
    """How applications, folders and web addresses are opened."""

    opener: list[str] = field(
        default_factory=lambda: _env_command("ASSISTANT_OPENER") or ["xdg-open"]
    )
    """The command that opens a folder or URL in the default program
    (``$ASSISTANT_OPENER`` overrides ``xdg-open``)."""
    launcher: list[str] | None = field(default_factory=lambda: _env_command("ASSISTANT_LAUNCHER"))
    """A command put before an application's Exec line (``$ASSISTANT_LAUNCHER``; e.g. a
    sandbox or, in tests, a recorder); ``None`` runs the Exec line itself."""


@dataclass
class CommandContext:
    """The state the handlers share. ``scheduler`` and ``notes`` may be ``None`` (those
    commands then say they are not available here)."""

    scheduler: Scheduler | None = None
    notes: NotesStore | None = None
    desktop: DesktopSettings = field(default_factory=DesktopSettings)
    now: Callable[[], datetime] = datetime.now
    """The local time, naive (tests pass a fixed one)."""
