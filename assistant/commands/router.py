"""The router: matches a transcript, runs its handler, and remembers a question it asked
("set a timer" -> "For how long?") so that the next transcript can answer it."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from .context import Answer, CommandContext
from .handlers import HANDLERS
from .handlers.reminders import set_reminder
from .handlers.timers import start_timer
from .matcher import CommandMatcher
from .result import CommandResult, IntentMatch
from .spoken import normalize, parse_duration

__all__ = ["READ_ONLY", "CommandRouter"]

log = logging.getLogger(__name__)

READ_ONLY = frozenset({"clock", "calc"})
"""Handler families whose answers change nothing (the time and date, sums, units)."""


@dataclass
class _Pending:
    kind: str
    """``timer`` (needs a duration), ``alarm`` or ``reminder`` (need a time)."""
    task: str
    match: IntentMatch


class CommandRouter:
    """``handle(text)`` answers a command, or says ``None`` (the language model answers).

    Args:
        context: the scheduler, notes and settings the handlers use.
        matcher: a built matcher (building one takes about half a second).
    """

    def __init__(
        self, context: CommandContext | None = None, matcher: CommandMatcher | None = None
    ) -> None:
        self.context = context or CommandContext()
        self.matcher = matcher or CommandMatcher()
        self._pending: _Pending | None = None

    def forget_question(self) -> None:
        """The next transcript is a new request, not the answer to a question asked."""
        self._pending = None

    def close(self) -> None:
        """Stop the scheduler's thread and close the notes (both stay stored)."""
        if self.context.scheduler is not None:
            self.context.scheduler.close()
        if self.context.notes is not None:
            self.context.notes.close()

    def acts_on(self, text: str) -> bool:
        """Whether :meth:`handle` would answer ``text`` with a handler that changes
        something (starts a timer, takes a note, stops the voice...): such a command must
        not run for a speculation that may be dropped. Answers that only read (the time,
        a sum) may: they are ready, even spoken, before the user has surely finished.
        Matching only: no handler runs. An open question acts on every transcript."""
        if self._pending is not None:
            return True
        match = self.matcher.match(text)
        return match is not None and HANDLERS[match.intent][0] not in READ_ONLY

    def is_command(self, text: str) -> bool:
        """Whether ``text`` reads as a whole command (matching only, nothing runs)."""
        return self.matcher.match(text) is not None

    def handle(self, text: str, context: CommandContext | None = None) -> CommandResult | None:
        """The answer to ``text`` if it is a command, else ``None``."""
        ctx = context or self.context
        if self._pending is not None:
            pending, self._pending = self._pending, None
            result = self._answer_pending(pending, text, ctx)
            if result is not None:
                return result
        match = self.matcher.match(text)
        if match is None:
            return None
        family, handler = HANDLERS[match.intent]
        started = time.perf_counter()
        try:
            answer = handler(dict(match.slots), ctx)
        except Exception:
            log.exception("the %s handler failed on %r", match.intent, text)
            answer = Answer("Sorry, that went wrong.", declined=True)
        if answer is None:
            return None
        return self._result(answer, match, family, started)

    def _result(
        self, answer: Answer, match: IntentMatch, family: str, started: float
    ) -> CommandResult:
        if answer.question and "pending" in answer.data:
            self._pending = _Pending(answer.data["pending"], answer.data.get("task", ""), match)
        return CommandResult(
            text=answer.text,
            match=match,
            handler=family,
            question=answer.question,
            declined=answer.declined,
            actions=tuple(answer.actions),
            data=dict(answer.data),
            handle_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _answer_pending(
        self, pending: _Pending, text: str, ctx: CommandContext
    ) -> CommandResult | None:
        """The reply to a question: a duration for a timer, a time for an alarm/reminder."""
        started = time.perf_counter()
        words = normalize(text)
        slots: dict[str, Any]
        answer: Answer
        if pending.kind == "timer":
            seconds = parse_duration(re.sub(r"^(?:for |set it for |make it )", "", words))
            if seconds is None:
                return None
            answer = start_timer(seconds, "", ctx)
            intent, slots, family = "HassStartTimer", {"duration": seconds}, "timers"
        else:
            spec_words = (
                words
                if re.match(r"(?:at|in|on|tomorrow|today|tonight)\b", words)
                else f"at {words}"
            )
            answer = set_reminder(pending.kind, pending.task, spec_words, ctx)
            if answer.question:
                return None
            intent = "SetAlarm" if pending.kind == "alarm" else "SetReminder"
            slots, family = {"task": pending.task, "when": words}, "reminders"
        match = IntentMatch(
            intent, slots, words, "follow-up", (time.perf_counter() - started) * 1000.0
        )
        return self._result(answer, match, family, started)
