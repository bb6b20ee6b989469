"""``bench turns``: how often each end-of-turn rule cuts in on spoken sentences with a
pause in the middle, and how long it waits after the user has finished.

Each sentence of :data:`.turn_set.UTTERANCES` is spoken by the configured voice and by an
espeak-ng voice, with a 300-700 ms pause at each ``|``, and said in real time into the
live capture stage (real VAD, partial transcripts and speculative turns on the real
recogniser; a scripted one-word reply, since the reply plays no part in when a turn
ends). The stage runs on the silence rule, so that every pause lasts as long as the user
makes it; on every block of a pause it reports the speculative turn and the pause so far
(:meth:`~assistant.pipeline.Conversation.observe_pauses`). Each rule is then replayed on
exactly what the stage saw, as the stage would have applied it: a rule ends the turn in
a pause at the first block whose speculative transcript is known and whose pause has
reached the rule's wait for that transcript. So the model in each mode, the punctuation
rule it replaced and the silence rule are judged in the same run on the same pauses.

A cut-in is an utterance whose turn a rule ends in one of its inner pauses. The wait is
the pause after the last word until the rule ends the turn. Beside the figures "as run"
(the transcript arrives when the recogniser delivered it on this machine) the report
gives the figures for an instant transcript, a bound that does not depend on the load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audio import ASR_RATE, Audio
from ..config import Config
from ..errors import EngineError, ModelError
from ..pipeline import FinalTranscript
from ..pipeline.turns import Turn, early_end_pause
from .report import machine_info, percentile
from .turn_set import HELD_OUT, UTTERANCES
from .turn_speech import speak_utterances

if TYPE_CHECKING:
    from ..store import ModelStore

__all__ = [
    "CUT_IN_GOAL",
    "RULES",
    "PauseSeen",
    "TurnsReport",
    "UtteranceResult",
    "judge",
    "replay_turns_bench",
    "run_turns_bench",
]

log = logging.getLogger(__name__)

CUT_IN_GOAL = 0.02
"""At most this share of the utterances may be cut in on (the model's chosen mode)."""
RULES = ("eager", "balanced", "patient", "punctuation", "silence")
"""The rules judged: the model's three modes, the punctuation rule, the silence rule."""
STAGE_SILENCE = 1.3
"""The endpointer's silence while the stage runs (at least): room to judge a rule that
holds a pause past ``vad.min_silence_ms`` with ``--replay``."""
_SETTLE = 0.3  # quiet after each utterance's turn, before the next


@dataclass
class PauseSeen:
    """One speculative turn as the capture stage saw it in a pause."""

    text: str | None = None
    """Its transcript (``None``: it was not ready before the pause ended)."""
    ready: list[float] = field(default_factory=list)
    """The pause so far, on every block on which the transcript was known."""
    longest: float = 0.0
    """The longest the pause got while this turn was speculative."""
    late_text: str | None = None
    """Its transcript, made after the utterance when it was not ready in the pause
    (for the figures with an instant transcript)."""


@dataclass
class UtteranceResult:
    text: str
    voice: str
    pauses: tuple[float, ...]
    seen: list[PauseSeen]
    """The pauses inside the utterance, then the one after its last word (last)."""
    silence_turns: int
    """Turns the silence rule made of it (more than one: a pause longer than the
    endpointer's silence split it)."""
    heard: str
    lag: float


# ---------------------------------------------------------------------------- judging

Rule = Callable[[str], "float | None"]


def _fires(seen: PauseSeen, rule: Rule, silence_wait: float, instant: bool) -> float | None:
    """Where in the pause ``rule`` ends the turn (``None``: it does not). A rule's
    ``None`` is the silence rule's wait, as it is before the transcript is known."""
    text = seen.text or (seen.late_text if instant else None)
    wait = rule(text) if text else None
    if wait is None:
        wait = silence_wait
    if instant:
        return wait if seen.longest >= wait else None
    first = seen.ready[0] if seen.ready else None
    if (first is None or first > silence_wait) and seen.longest >= silence_wait:
        return silence_wait  # the silence ran out before the transcript came
    return next((p for p in seen.ready if p >= wait), None)


def judge(
    result: UtteranceResult,
    rule: Rule,
    silence_wait: float,
    *,
    instant: bool = False,
    longest: float | None = None,
) -> tuple[bool, float]:
    """(whether ``rule`` cut in on the utterance, its wait after the last word);
    ``longest``: the stage's endpointer silence (the wait when no rule fired)."""
    inner, last = result.seen[:-1], result.seen[-1:] or [PauseSeen()]
    cut_in = result.silence_turns > 1 or any(
        _fires(seen, rule, silence_wait, instant) is not None for seen in inner
    )
    at = _fires(last[0], rule, silence_wait, instant)
    return cut_in, (longest or silence_wait) if at is None else at


@dataclass
class TurnsReport:
    results: list[UtteranceResult]
    silence_wait: float
    rules: dict[str, Rule]
    stage_silence: float
    """The endpointer's silence in the run (the longest any rule may hold a pause)."""
    mode: str
    """The configured ``turn.mode`` (the default the goal is judged on)."""
    models: dict[str, str]
    wall: float

    def figures(self, name: str, *, instant: bool = False) -> dict[str, float | int]:
        judged = [
            judge(
                r, self.rules[name], self.silence_wait, instant=instant, longest=self.stage_silence
            )
            for r in self.results
        ]
        cut = sum(1 for c, _ in judged if c)
        waits = [w for _, w in judged]
        return {
            "cut_ins": cut,
            "cut_in_rate": cut / len(judged) if judged else 0.0,
            "wait_p50_s": percentile(waits, 50) if waits else 0.0,
            "wait_p90_s": percentile(waits, 90) if waits else 0.0,
        }

    def goal_met(self) -> bool:
        return all(
            self.figures(self.mode, instant=i)["cut_in_rate"] <= CUT_IN_GOAL for i in (False, True)
        )

    def to_dict(self) -> dict[str, Any]:
        ready = [s.ready[0] for r in self.results for s in r.seen if s.ready]
        return {
            "utterances": len(self.results),
            "inner_pauses": sum(len(r.pauses) for r in self.results),
            "silence_wait_s": self.silence_wait,
            "stage_silence_s": self.stage_silence,
            "mode": self.mode,
            "rules": {
                name: {"as_run": self.figures(name), "instant": self.figures(name, instant=True)}
                for name in self.rules
            },
            "transcript_ready_p50_s": percentile(ready, 50) if ready else None,
            "capture_lag_max_s": max((r.lag for r in self.results), default=0.0),
            "goal": {"cut_in_rate_max": CUT_IN_GOAL, "met": self.goal_met()},
            "models": self.models,
            "machine": asdict(machine_info()),
            "wall_s": self.wall,
            "results": [
                {
                    "text": r.text,
                    "voice": r.voice,
                    "pauses_s": list(r.pauses),
                    "heard": r.heard,
                    "silence_turns": r.silence_turns,
                    "seen": [
                        {
                            "text": s.text,
                            "ready_s": s.ready[0] if s.ready else None,
                            "longest_s": round(s.longest, 3),
                            "late_text": s.late_text,
                        }
                        for s in r.seen
                    ],
                    "cut_in_by": [
                        name
                        for name, rule in self.rules.items()
                        if judge(r, rule, self.silence_wait)[0]
                    ],
                }
                for r in self.results
            ],
        }


# ---------------------------------------------------------------------------- running


class _Watcher:
    """Collects what the capture stage saw in each pause (called on its thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[int, tuple[Turn, PauseSeen]] = {}

    def __call__(self, turn: Turn, paused: float) -> None:
        with self._lock:
            _, seen = self._seen.setdefault(id(turn), (turn, PauseSeen()))
            seen.longest = max(seen.longest, paused)
            if turn.text is not None:
                seen.text = turn.text
                seen.ready.append(round(paused, 3))

    def take(self) -> list[tuple[Turn, PauseSeen]]:
        with self._lock:
            seen = list(self._seen.values())
            self._seen.clear()
        return seen


def _model_rule(policy: Any, language: str | None) -> Rule:
    return lambda text: policy.pause(text, language)


def run_turns_bench(
    config: Config,
    store: ModelStore,
    *,
    limit: int | None = None,
    held_out: bool = False,
    progress: Callable[[str], None] | None = None,
) -> TurnsReport:
    """Speak the utterances (the first ``limit`` sentences, each by two voices) into the
    live capture stage and judge every rule on them. ``held_out``: the sentences of
    :data:`.turn_set.HELD_OUT` instead, which nothing was tuned on.

    Raises:
        ModelError: the end-of-turn model is missing or damaged.
        EngineError: espeak-ng is missing, or the pipeline stopped answering.
    """
    from ..audio.playback import Player
    from ..engines import load_transcriber, load_turn_model, load_vad, load_voice
    from ..pipeline import Conversation
    from ..turnmodel import MODES, TurnPolicy
    from .fakes import FakeChat, FakeVoice
    from .live import LiveSource, TurnEvents

    say = progress or (lambda _line: None)
    started = time.monotonic()
    scorer = load_turn_model(config, store)
    if scorer is None:
        raise ModelError(
            f"the end-of-turn model {config.turn.model!r} is missing or damaged",
            hint="`assistant models verify` says what is wrong with it",
        )
    say("speaking the utterances")
    chosen = HELD_OUT if held_out else UTTERANCES
    sentences = chosen[:limit] if limit else chosen
    spoken = speak_utterances(load_voice(config, store), config.tts.voice, sentences)
    say(f"  {len(spoken)} utterances, {sum(len(u.pauses) for u in spoken)} inner pauses")
    vad, transcriber = load_vad(config, store), load_transcriber(config, store)
    source = LiveSource()
    player = Player(16000, simulated=True, keep=False)
    # The stage runs on the silence rule with the endpointer's silence as long as the
    # longest wait of any mode, so that every pause lasts as long as the user makes it.
    silence_wait = config.vad.min_silence_ms / 1000
    stage_silence = max(STAGE_SILENCE, *(TurnPolicy(scorer, m).longest for m in MODES))
    stage_config = dataclasses.replace(
        config, vad=dataclasses.replace(config.vad, min_silence_ms=round(stage_silence * 1000))
    )
    conversation = Conversation(
        vad=vad,
        transcriber=transcriber,
        chat=FakeChat(reply=("OK.",)),
        voice=FakeVoice(seconds_per_char=0.002),
        config=stage_config,
        source=lambda: source,
        player=player,
        turn_model=None,  # the silence rule: every pause lasts as long as the user makes it
    )
    watcher = _Watcher()
    conversation.observe_pauses(watcher)
    events = TurnEvents()
    conversation.subscribe(events)
    timeout = 60.0
    results: list[UtteranceResult] = []
    conversation.start()
    try:
        for index, utterance in enumerate(spoken):
            since = events.mark()
            source.lag = 0.0
            source.say(utterance.samples)
            if not source.wait_said(timeout + len(utterance.samples) / ASR_RATE):
                raise EngineError("the capture stage stopped taking audio")
            time.sleep(stage_silence + 0.2)
            with contextlib.suppress(EngineError):  # none: no words were heard
                events.wait(since, lambda e: isinstance(e, FinalTranscript), timeout)
            if not conversation.wait_idle(timeout):
                raise EngineError(f"the pipeline did not finish a turn within {timeout:.0f} s")
            time.sleep(_SETTLE)
            finals = [e for e in events.events[since:] if isinstance(e, FinalTranscript)]
            seen = watcher.take()
            for turn, pause in seen:  # not timed: for the figures with an instant transcript
                if pause.text is None and turn.audio is not None and len(turn.audio):
                    audio = Audio(turn.audio, ASR_RATE)
                    pause.late_text = transcriber.transcribe(audio).text
            results.append(
                UtteranceResult(
                    text=utterance.text,
                    voice=utterance.voice,
                    pauses=utterance.pauses,
                    seen=[pause for _, pause in seen],
                    silence_turns=len(finals),
                    heard=" / ".join(e.text for e in finals),
                    lag=source.lag,
                )
            )
            if (index + 1) % 10 == 0 or index + 1 == len(spoken):
                say(f"  {index + 1}/{len(spoken)}")
    finally:
        conversation.stop()
        player.close()

    return _report(config, scorer, results, silence_wait, stage_silence, time.monotonic() - started)


def _report(
    config: Config,
    scorer: Any,
    results: list[UtteranceResult],
    silence_wait: float,
    stage_silence: float,
    wall: float,
) -> TurnsReport:
    from ..turnmodel import MODES, TurnPolicy

    language = None if config.asr.language == "auto" else config.asr.language
    rules: dict[str, Rule] = {}
    for mode in MODES:
        rules[mode] = _model_rule(TurnPolicy(scorer, mode), language)
    rules["punctuation"] = early_end_pause
    rules["silence"] = lambda _text: None
    return TurnsReport(
        results=results,
        silence_wait=silence_wait,
        rules=rules,
        stage_silence=stage_silence,
        mode=config.turn.mode,
        models={
            "vad": config.vad.model,
            "asr": config.asr.model,
            "voice": config.tts.voice,
            "turn": config.turn.model,
        },
        wall=wall,
    )


def replay_turns_bench(config: Config, store: ModelStore, report: Path) -> TurnsReport:
    """Judge the configured turn model (and modes) on the pauses a previous run saw
    (its ``--json`` report): a new model or new thresholds, without speaking again.
    The transcript's arrival is taken as the first block of the pause it was ready on.

    Raises:
        ModelError: the turn model is missing or damaged.
        EngineError: ``report`` is not a ``bench turns`` report.
    """
    import json

    from ..engines import load_turn_model
    from ..pipeline.sources import BLOCK_SECONDS

    scorer = load_turn_model(config, store)
    if scorer is None:
        raise ModelError(f"the end-of-turn model {config.turn.model!r} is missing or damaged")
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        results = []
        for r in data["results"]:
            seen = []
            for s in r["seen"]:
                ready: list[float] = []
                if s["ready_s"] is not None:
                    at = float(s["ready_s"])
                    while at <= s["longest_s"] + 1e-9:
                        ready.append(round(at, 3))
                        at += BLOCK_SECONDS
                seen.append(PauseSeen(s["text"], ready, s["longest_s"], s.get("late_text")))
            results.append(
                UtteranceResult(
                    text=r["text"],
                    voice=r["voice"],
                    pauses=tuple(r["pauses_s"]),
                    seen=seen,
                    silence_turns=r["silence_turns"],
                    heard=r["heard"],
                    lag=0.0,
                )
            )
        silence_wait = float(data["silence_wait_s"])
        stage_silence = float(data.get("stage_silence_s", silence_wait))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(
            f"{report}: not a `bench turns --json` report ({exc})",
            hint="write one with `assistant bench turns --json PATH`",
        ) from None
    return _report(config, scorer, results, silence_wait, stage_silence, 0.0)
