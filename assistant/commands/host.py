"""Local commands in the live conversation: the router behind the reply path's seam, and
the scheduler's announcements spoken through the pipeline.

:class:`CommandHost` plugs a :class:`CommandRouter` into a
:class:`~assistant.pipeline.Conversation`'s :class:`~assistant.reply.ReplyHooks` (the
transcript is asked of the router before the language model; the pipeline carries out
the answer's actions) and makes the scheduler announce through the conversation: the
chime, then the words, between the user's turns, repeated until acknowledged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline.events import Event
from ..reply import LocalReply, ReplyHooks
from .chime import chime
from .context import CommandContext
from .hearing import CommandHearing
from .notes import NotesStore
from .router import CommandRouter
from .scheduler import Announcement, Scheduler
from .store import ScheduledItem

if TYPE_CHECKING:
    from ..llm import ChatModel
    from ..pipeline import Conversation

__all__ = ["CommandHost", "ScheduleChanged", "local_reply"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleChanged(Event):
    """The timers, alarms and reminders now (copies, soonest first): a view shows them
    with a countdown (a timer's ``due_at`` is wall-clock ``time.time()`` seconds)."""

    items: tuple[ScheduledItem, ...]


def local_reply(router: CommandRouter, text: str) -> LocalReply | None:
    """The router's answer to ``text`` as the reply path's :class:`LocalReply`."""
    result = router.handle(text)
    if result is None:
        return None
    return LocalReply(
        result.text,
        result.actions,
        intent=result.intent,
        handler=result.handler,
        match_ms=result.match_ms,
        handle_ms=result.handle_ms,
        question=result.question,
    )


class CommandHost:
    """The local commands of one running conversation.

    Args:
        router: the router (its context's scheduler is the one announced through).
    """

    def __init__(self, router: CommandRouter) -> None:
        self.router = router
        self.hearing = CommandHearing(router.matcher)
        """Listens again to a transcript that nearly reads as a command."""
        self._conversation: Conversation | None = None
        self._sample_rate = 0

    @classmethod
    def open(cls, schedule: Path | None = None, notes: Path | None = None) -> CommandHost:
        """A host with the stored timers and reminders (``schedule.json``) and notes, in
        the data folder unless paths are given."""
        scheduler = Scheduler(schedule)
        return cls(CommandRouter(CommandContext(scheduler=scheduler, notes=NotesStore(notes))))

    @property
    def scheduler(self) -> Scheduler | None:
        return self.router.context.scheduler

    def hooks(self, hooks: ReplyHooks | None = None) -> ReplyHooks:
        """``hooks`` (or new ones) with the router behind ``answer_locally``."""
        hooks = hooks or ReplyHooks()
        hooks.answer_locally = lambda text: local_reply(self.router, text)
        hooks.acts_on = self.router.acts_on
        hooks.is_command = self.router.is_command
        hooks.rehear = self.hearing.rehear
        return hooks

    def tool_chat(self, chat: ChatModel) -> ChatModel:
        """``chat`` with the handlers offered as tools when its chat template supports
        tool calling (:mod:`.toolchat`), else ``chat`` itself."""
        from .toolchat import with_tools

        return with_tools(chat, self.router.context)

    def attach(self, conversation: Conversation, sample_rate: int) -> None:
        """Answer ``conversation``'s turns with the router first, announce through it
        (``sample_rate``: its voice's, for the chime), and start the scheduler (what fell
        due while the app was closed rings now)."""
        self.hooks(conversation.hooks)
        self._conversation, self._sample_rate = conversation, sample_rate
        if self.scheduler is not None:
            self.scheduler.on_announce = self._announce
            self.scheduler.on_change = self._changed
            self.scheduler.start()
            self._changed()

    def cancel(self, item_id: str) -> bool:
        """Cancel a timer, alarm or reminder (the app's cancel button)."""
        return self.scheduler is not None and self.scheduler.cancel(item_id)

    def _changed(self) -> None:
        conversation, scheduler = self._conversation, self.scheduler
        if conversation is not None and scheduler is not None:
            conversation.emit(ScheduleChanged(tuple(scheduler.items())))

    def close(self) -> None:
        """Stop the scheduler and close the notes (everything stays stored)."""
        self._conversation = None
        self.router.close()

    def _announce(self, announcement: Announcement) -> None:
        conversation, scheduler = self._conversation, self.scheduler
        if conversation is None or scheduler is None:
            return
        item_id = announcement.item.id

        def wanted() -> bool:
            return any(i.id == item_id for i in scheduler.ringing())

        conversation.announce(
            announcement.text,
            kind=announcement.item.kind,
            repeat=announcement.repeat,
            sound=chime(self._sample_rate),
            wanted=wanted,
        )
