"""``assistant bench commands``: how well and how fast local commands are recognised.

Each command text goes through the router (a throwaway scheduler and notes, a launcher
that runs nothing) and must reach the right intent with the right slots; each ordinary
question must come back unanswered (for the language model). With ``spoken`` the command
texts are also spoken by the configured voice (plain, faster, and with noise) and
transcribed by the configured whisper first, as a microphone would deliver them.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .command_set import COMMANDS, HELD_OUT, QUESTIONS
from .report import machine_info, percentile

__all__ = ["CommandsReport", "run_commands_bench"]

log = logging.getLogger(__name__)


@dataclass
class CommandsReport:
    """The figures of one run."""

    commands: int = 0
    commands_right: int = 0
    questions: int = 0
    questions_passed: int = 0
    """Questions no command took (they reach the language model)."""
    match_ms: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    spoken: int = 0
    spoken_right: int = 0
    spoken_misses: list[dict[str, Any]] = field(default_factory=list)
    spoken_variants: dict[str, int] = field(default_factory=dict)
    """How many commands each voice variant spoke."""
    spoken_variants_right: dict[str, int] = field(default_factory=dict)
    held_out: int = 0
    held_out_right: int = 0
    spoken_held_out: int = 0
    spoken_held_out_right: int = 0
    """The held-out commands (:data:`~.command_set.HELD_OUT`), typed and spoken, apart."""
    spoken_questions: int = 0
    spoken_questions_passed: int = 0
    """Questions spoken by the configured voice and transcribed: none may be captured."""
    asr_ms: dict[str, list[float]] = field(default_factory=dict)
    """Whisper's time per clip, for the commands and for the questions (the cost of a
    setting such as the beam size on every turn, the model's too)."""
    second_listenings: dict[str, int] = field(default_factory=dict)
    """How many commands and questions were transcribed twice (a near-command heard
    again primed with command sentences: :mod:`assistant.commands.hearing`)."""
    machine: dict[str, Any] = field(default_factory=dict)

    def accuracy(self) -> float:
        return self.commands_right / max(1, self.commands)

    def pass_rate(self) -> float:
        return self.questions_passed / max(1, self.questions)

    def spoken_accuracy(self) -> float | None:
        return self.spoken_right / self.spoken if self.spoken else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            accuracy=self.accuracy(),
            questions_pass_rate=self.pass_rate(),
            spoken_accuracy=self.spoken_accuracy(),
            match_ms_p50=percentile(self.match_ms, 50) if self.match_ms else None,
            match_ms_p90=percentile(self.match_ms, 90) if self.match_ms else None,
            match_ms_max=max(self.match_ms) if self.match_ms else None,
            asr_ms_p50={k: percentile(v, 50) for k, v in self.asr_ms.items() if v},
        )
        return out


def _held_out(report: CommandsReport, router: Any) -> None:
    for text, intent, slots in HELD_OUT:
        router.forget_question()
        result = router.handle(text)
        report.held_out += 1
        if _right(result, intent, slots):
            report.held_out_right += 1
        else:
            got = None if result is None else {"intent": result.intent, "slots": result.slots}
            report.misses.append({"text": text, "want": intent, "got": got, "held_out": True})


def _router(folder: Path) -> Any:
    from ..commands import CommandContext, CommandRouter, DesktopSettings, NotesStore, Scheduler

    context = CommandContext(
        scheduler=Scheduler(folder / "schedule.json"),
        notes=NotesStore(folder / "notes.sqlite3"),
        desktop=DesktopSettings(opener=["true"], launcher=["true"]),
    )
    return CommandRouter(context)


def _right(result: Any, intent: str, slots: dict[str, Any]) -> bool:
    if result is None or result.intent != intent:
        return False
    return all(result.slots.get(k) == v for k, v in slots.items())


def run_commands_bench(
    *,
    spoken: bool = False,
    config: Any = None,
    store: Any = None,
    limit: int | None = None,
    hotwords: str = "",
    listen_once: bool = False,
    fit: bool = False,
    rehear_model: Path | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> CommandsReport:
    """Runs the command set (the first ``limit`` commands when given) and the questions;
    ``hotwords``: words the recogniser is told to favour (a trial of the setting);
    ``listen_once``: no second listening to near-commands (to measure what it gives);
    ``fit``: a second transcript that does not sound like the first is kept when the
    audio fits it nearly as well (a trial: :mod:`assistant.commands.hearing`);
    ``rehear_model``: the second listening by the whisper model in this folder (a trial)."""
    report = CommandsReport(machine=asdict(machine_info()))
    commands = COMMANDS[:limit] if limit else COMMANDS
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        started = time.perf_counter()
        router = _router(Path(tmp))
        progress(f"matcher built in {time.perf_counter() - started:.2f} s")
        for text, intent, slots in commands:
            router.forget_question()  # each command on its own, not as an answer
            result = router.handle(text)
            report.commands += 1
            if result is not None:
                # The median of 3 matches: the matcher's cost, not a busy machine's pauses.
                runs = sorted(
                    m.match_ms for m in (router.matcher.match(text) for _ in range(3)) if m
                )
                report.match_ms.append(runs[len(runs) // 2] if runs else result.match_ms)
            if _right(result, intent, slots):
                report.commands_right += 1
            else:
                got = None if result is None else {"intent": result.intent, "slots": result.slots}
                report.misses.append({"text": text, "want": intent, "got": got})
        for question in QUESTIONS:
            router.forget_question()
            result = router.handle(question)
            report.questions += 1
            if result is None:
                report.questions_passed += 1
            else:
                report.misses.append({"text": question, "want": None, "got": result.intent})
        _held_out(report, router)
        if spoken:
            trial = _Trial(hotwords, listen_once, fit, rehear_model)
            _spoken(report, router, commands, config, store, trial, progress)
        router.context.notes.close()
    return report


_ESPEAK_VOICES = ("en-us", "en+f3", "en-gb")
"""espeak-ng voices (a man, a woman, British), beside the configured voice."""


def _espeak(text: str, voice: str, folder: Path) -> Any:
    """``text`` spoken by espeak-ng's ``voice`` (none if espeak-ng is missing)."""
    import shutil
    import subprocess

    from ..audio import read_audio

    binary = shutil.which("espeak-ng")
    if binary is None:
        return None
    path = folder / "espeak.wav"
    subprocess.run([binary, "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return read_audio(path)


@dataclass(frozen=True)
class _Trial:
    """Settings of the spoken run tried against the defaults (see :func:`run_commands_bench`)."""

    hotwords: str = ""
    listen_once: bool = False
    fit: bool = False
    rehear_model: Path | None = None


def _heard(
    transcriber: Any,
    hearing: Any,
    samples: Any,
    report: CommandsReport,
    kind: str,
    *,
    fit: bool = False,
    second: Any = None,
) -> str:
    """The transcript of ``samples`` (16 kHz) as a live turn would have it (listened to
    again when it nearly reads as a command, unless ``hearing`` is ``None``; by
    ``second`` when given; scored on the audio when ``fit``), its time (both listenings)
    noted under ``kind``."""
    from ..audio import ASR_RATE, Audio

    audio = Audio(samples.astype(np.float32), ASR_RATE)
    started = time.perf_counter()
    text = str(transcriber.transcribe(audio).text)
    if hearing is not None:
        again = hearing.second_listenings
        listener = second or transcriber
        text = hearing.rehear(
            text,
            lambda prompt: listener.transcribe(audio, prompt=prompt).text,
            (lambda texts: transcriber.score(audio, texts)) if fit else None,
        )
        if hearing.second_listenings > again:
            report.second_listenings[kind] = report.second_listenings.get(kind, 0) + 1
    report.asr_ms.setdefault(kind, []).append((time.perf_counter() - started) * 1000.0)
    return text


def _spoken(
    report: CommandsReport,
    router: Any,
    commands: Any,
    config: Any,
    store: Any,
    trial: _Trial,
    progress: Callable[[str], None],
) -> None:
    import onnxruntime

    from ..asr import WhisperTranscriber
    from ..audio import ASR_RATE, resample
    from ..commands.hearing import CommandHearing
    from ..engines import load_transcriber, load_voice
    from ..errors import AssistantError
    from ..tts.base import synthesize_all

    # Piper draws its noise in the graph from a generator seeded as the session is made:
    # seeded here, the same run speaks the same takes (the figures do not vary by chance).
    onnxruntime.set_seed(16)
    voice = load_voice(config, store)
    transcriber = load_transcriber(config, store)
    if trial.hotwords and hasattr(transcriber, "hotwords"):  # the local whisper only
        transcriber.hotwords = trial.hotwords
    hearing = None if trial.listen_once else CommandHearing(router.matcher)
    if trial.fit and not hasattr(transcriber, "score"):
        raise AssistantError(
            "--fit needs the local whisper: the configured recogniser cannot score texts"
        )
    second = None
    if trial.rehear_model is not None:
        second = WhisperTranscriber.from_config(trial.rehear_model, config.asr)
    heard_as: dict[str, Any] = {"fit": trial.fit, "second": second}
    rng = np.random.default_rng(16)
    variants = ("plain", "fast", "noise", *(f"espeak:{v}" for v in _ESPEAK_VOICES))
    spoken_set = [*commands, *HELD_OUT]
    with tempfile.TemporaryDirectory(prefix="bench-espeak-") as tmp:
        for index, (text, intent, slots) in enumerate(spoken_set):
            held_out = index >= len(commands)
            # The voices take turns within each set: a command added or moved does not
            # change which voice speaks each held-out sentence.
            variant = variants[(index - len(commands) if held_out else index) % len(variants)]
            audio = None
            if variant.startswith("espeak:"):
                audio = _espeak(text, variant.split(":", 1)[1], Path(tmp))
            if audio is None:
                if variant.startswith("espeak:"):
                    variant = "plain"
                if hasattr(voice, "speaking_rate"):
                    voice.speaking_rate = 1.2 if variant == "fast" else 1.0
                audio = synthesize_all(voice, text)
            samples = resample(audio.samples, audio.sample_rate, ASR_RATE)
            if variant == "noise":  # white noise 20 dB under the speech
                power = float(np.mean(samples**2)) or 1e-6
                noise = rng.normal(0, np.sqrt(power / 100), samples.shape)
                samples = samples + noise.astype(np.float32)
            heard = _heard(transcriber, hearing, samples, report, "commands", **heard_as)
            router.forget_question()
            result = router.handle(heard)
            right = _right(result, intent, slots)
            if held_out:
                report.spoken_held_out += 1
                report.spoken_held_out_right += right
            else:
                report.spoken += 1
                report.spoken_variants[variant] = report.spoken_variants.get(variant, 0) + 1
                report.spoken_right += right
                report.spoken_variants_right[variant] = (
                    report.spoken_variants_right.get(variant, 0) + right
                )
            if not right:
                got = None if result is None else {"intent": result.intent, "slots": result.slots}
                report.spoken_misses.append(
                    {"text": text, "heard": heard, "variant": variant, "want": intent, "got": got,
                     "held_out": held_out}
                )  # fmt: skip
            if (index + 1) % 20 == 0:
                progress(f"spoken {index + 1}/{len(spoken_set)}")
        if hasattr(voice, "speaking_rate"):
            voice.speaking_rate = 1.0
        for question in QUESTIONS:  # in the configured voice; none may be captured
            audio = synthesize_all(voice, question)
            samples = resample(audio.samples, audio.sample_rate, ASR_RATE)
            heard = _heard(transcriber, hearing, samples, report, "questions", **heard_as)
            router.forget_question()
            result = router.handle(heard)
            report.spoken_questions += 1
            if result is None:
                report.spoken_questions_passed += 1
            else:
                report.spoken_misses.append(
                    {"text": question, "heard": heard, "want": None, "got": result.intent}
                )
