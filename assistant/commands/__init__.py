"""Local commands, answered without the language model: timers, alarms and reminders,
the time and date, sums and unit conversions, notes, the assistant's own controls and
the desktop.

A transcript goes to :meth:`CommandRouter.handle` first; a :class:`CommandResult` is the
answer to speak, ``None`` means "ask the language model". The :class:`Scheduler` announces
timers and reminders when due through its ``on_announce`` callback.
"""

from __future__ import annotations

from .context import CommandContext, DesktopSettings
from .host import CommandHost, ScheduleChanged, local_reply
from .matcher import CommandMatcher
from .notes import NotesStore
from .result import Action, CommandResult, IntentMatch
from .router import CommandRouter
from .scheduler import Announcement, Scheduler

__all__ = [
    "Action",
    "Announcement",
    "CommandContext",
    "CommandHost",
    "CommandMatcher",
    "CommandResult",
    "CommandRouter",
    "DesktopSettings",
    "IntentMatch",
    "NotesStore",
    "ScheduleChanged",
    "Scheduler",
    "local_reply",
]
