"""Voice-to-voice latency of local commands against language-model turns, in the same
run, through the live pipeline on a simulated microphone and speaker (as
``assistant bench latency`` measures it): each text is spoken by the configured voice,
heard by the real recogniser, answered (by a command, or by the model) and its reply's
first sound timed from the end of the speech.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .report import percentile

__all__ = ["LIVE_COMMANDS", "LIVE_QUESTIONS", "LiveCommandsReport", "run_live_commands"]

log = logging.getLogger(__name__)

LIVE_COMMANDS = (
    "What time is it?",
    "What is fifteen percent of eighty?",
    "What day is it today?",
    "Set a timer for ten minutes.",
    "How much time is left on my timer?",
    "What is twelve times seven?",
    "What's the date today?",
    "Cancel my timer.",
    "Convert five miles to kilometers.",
    "Speak a bit louder.",
)
"""Spoken commands (cycled), none of which rings or opens anything during the run."""

LIVE_QUESTIONS = (
    "Tell me a fun fact about octopuses.",
    "Why is the sky blue?",
    "What is a good name for a cat?",
    "How do bees make honey?",
    "Give me a tip for sleeping better.",
)
"""Ordinary questions for the language model (cycled)."""

GOAL_RATIO = 0.5
"""Commands' voice-to-voice latency at most this fraction of the model turns' (p50, p90)."""


@dataclass
class LiveCommandsReport:
    command_s: list[float] = field(default_factory=list)
    question_s: list[float] = field(default_factory=list)
    handled: int = 0
    """Command turns a command answered (the others went to the model: misheard)."""
    turns: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, values in (("command", self.command_s), ("llm", self.question_s)):
            for p in (50, 90):
                out[f"{name}_p{p}_s"] = percentile(values, p) if values else None
        for p in (50, 90):
            c, q = out[f"command_p{p}_s"], out[f"llm_p{p}_s"]
            out[f"ratio_p{p}"] = c / q if c is not None and q else None
        return out

    def step_p50(self, kind: str, step: str) -> float | None:
        """The median of a step (``transcript``, ``first_token``...) over ``kind``'s turns."""
        values = [
            t["steps_s"][step] for t in self.turns if t["kind"] == kind and step in t["steps_s"]
        ]
        return percentile(values, 50) if values else None

    def value_p50(self, kind: str) -> float | None:
        """The median voice-to-voice latency of ``kind``'s turns."""
        values = self.command_s if kind == "command" else self.question_s
        return percentile(values, 50) if values else None

    def handle_ms_p50(self) -> float | None:
        """The median time of matching and running a command's handler."""
        values = [t["match_handle_ms"] for t in self.turns if t.get("match_handle_ms") is not None]
        return percentile(values, 50) if values else None

    def goal_met(self) -> bool:
        f = self.figures()
        return all((f[f"ratio_p{p}"] or 1.0) <= GOAL_RATIO for p in (50, 90))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), **self.figures(), "goal_ratio": GOAL_RATIO}


def run_live_commands(
    config: Any, store: Any, count: int, progress: Callable[[str], None]
) -> LiveCommandsReport:
    """``count`` command turns and ``count`` model turns, alternated, in one live
    conversation each round (the engines loaded once)."""
    from ..audio import ASR_RATE, resample
    from ..commands import (
        CommandContext,
        CommandHost,
        CommandRouter,
        DesktopSettings,
        NotesStore,
        Scheduler,
    )
    from ..config import Config
    from ..engines import Engines
    from ..pipeline import CommandHandled
    from ..tts.base import synthesize_all
    from .latency import _StreamingRound, _warm_up

    config = Config.from_dict(config.to_dict())
    config.llm.temperature = 0.0
    config.validate()
    progress("loading the engines")
    engines = Engines.load(config, store)
    rate = engines.voice.sample_rate

    def spoken(text: str) -> Any:
        audio = synthesize_all(engines.voice, text)
        return resample(audio.samples, audio.sample_rate, ASR_RATE)

    clips = {t: spoken(t) for t in (*LIVE_COMMANDS, *LIVE_QUESTIONS)}
    progress("warming up")
    _warm_up(engines, config, clips[LIVE_QUESTIONS[0]])
    report = LiveCommandsReport()
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        folder = Path(tmp)
        context = CommandContext(
            scheduler=Scheduler(folder / "schedule.json"),
            notes=NotesStore(folder / "notes.sqlite3"),
            desktop=DesktopSettings(opener=["true"], launcher=["true"]),
        )
        host = CommandHost(CommandRouter(context))
        try:
            with _StreamingRound(engines, config, 60.0) as live:
                host.attach(live.conversation, rate)
                answered: list[int] = []
                handled_ms: list[float] = []

                def on_event(e: Any) -> None:
                    if isinstance(e, CommandHandled):
                        answered.append(e.turn)
                        handled_ms.append(e.match_ms + e.handle_ms)

                live.conversation.subscribe(on_event)
                for i in range(count):
                    for kind, texts in (("command", LIVE_COMMANDS), ("llm", LIVE_QUESTIONS)):
                        text = texts[i % len(texts)]
                        before = len(answered)
                        turn = live.ask(text, clips[text], 1)
                        handled = len(answered) > before
                        value = turn.voice_to_voice
                        report.turns.append(
                            {"kind": kind, "text": text, "heard": turn.heard,
                             "handled": handled, "voice_to_voice_s": value,
                             "steps_s": dict(turn.steps),
                             "match_handle_ms": handled_ms[-1] if handled else None}
                        )  # fmt: skip
                        if value is not None:
                            (report.command_s if kind == "command" else report.question_s).append(
                                value
                            )
                        if kind == "command" and handled:
                            report.handled += 1
                        shown = "no reply" if value is None else f"{value:.3f} s"
                        how = ", handled" if handled else ""
                        progress(f"{kind:<7} {i + 1}/{count} {text!r}: {shown} "
                                 f"(heard {turn.heard!r}{how})")  # fmt: skip
        finally:
            host.close()
    return report
