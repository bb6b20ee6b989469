"""Voice-to-voice latency of the live pipeline beside a naive sequential one.

Fixed questions (WAV files) are spoken into the pipelines in real time by a source that
behaves like a microphone: low noise, and a question whenever the benchmark says one.

- streaming: one live :class:`~assistant.pipeline.Conversation` per round, on the real
  engines and a simulated real-time speaker. Its own ``TurnMetrics.first_audio`` is the
  figure: end of the user's speech to the first reply sample reaching the output. Once
  the reply starts playing it is stopped (nothing after that moment changes the figure)
  and the next question starts a new conversation.
- baseline (baseline.py): the same question through the same endpointer in real time;
  at the end of speech it transcribes the whole utterance, generates the whole reply,
  synthesizes all of it and hands it to a simulated speaker. Its clock starts at the
  same point, so it also includes the endpointer's ``min_silence_ms`` wait.
- barge-in: extra streaming turns in which the user says "Stop." some time after the
  reply started; the pipeline's ``barge_in_stops`` give onset-to-silence times.

Rounds alternate which pipeline goes first; everything is warmed up once before.
"""

from __future__ import annotations

import logging
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import ASR_RATE, Audio, read_audio
from ..audio.playback import Player
from ..config import Config
from ..errors import AudioFormatError
from ..knowledge import KnowledgeBase, context_hook
from ..llm import complete
from ..pipeline import (
    Conversation,
    FinalTranscript,
    State,
    StateChanged,
    TurnFinished,
    TurnMetrics,
)
from ..reply import ReplyContext, ReplyHooks, build_messages, generation_options
from ..text import speakable
from ..tts import synthesize_all
from .baseline import SequentialBaseline
from .live import LiveSource, TurnEvents, state_is
from .monitor import OutputMonitor
from .report import LatencyOptions, LatencyReport, LatencyTurn, MemoryUse, machine_info
from .soak import rss_mb

if TYPE_CHECKING:
    from ..engines import Engines
    from ..store import ModelStore

__all__ = ["find_questions", "run_latency_bench"]

log = logging.getLogger(__name__)

_SETTLE = 0.3  # seconds of quiet between turns, so no turn starts in another's tail
_LOUD = 1e-3  # an output block with a sample this loud is not silence
_AUDIBLE = 0.1  # the reply played sound this shortly before the user began: audible


def find_questions(folder: Path) -> tuple[list[Path], Path]:
    """The question files (``q*.wav``, sorted) and the barge-in phrase (``stop.wav``).

    Raises:
        AudioFormatError: the folder or its files are missing.
    """
    hint = (
        "the questions ship with the source tree in tests/bench_questions/ "
        "(regenerate them with `python tests/bench_questions/make_questions.py`); "
        "point --questions at that folder"
    )
    if not folder.is_dir():
        raise AudioFormatError(f"question folder {folder} does not exist", hint=hint)
    questions = sorted(folder.glob("q*.wav"))
    stop = folder / "stop.wav"
    if not questions:
        raise AudioFormatError(f"no question files (q*.wav) in {folder}", hint=hint)
    if not stop.is_file():
        raise AudioFormatError(f"the barge-in phrase {stop} is missing", hint=hint)
    return questions, stop


class _StreamingRound:
    """One live conversation that questions are asked to, one at a time."""

    def __init__(
        self,
        engines: Engines,
        config: Config,
        timeout: float,
        hooks: ReplyHooks | None = None,
        pipeline: str = "streaming",
        output_device: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.retrievals: list[float] = []
        """Seconds each turn's document search took on the turn thread (``hooks``)."""
        if hooks is not None and hooks.context_for is not None:
            hooks = ReplyHooks(
                answer_locally=hooks.answer_locally,
                acts_on=hooks.acts_on,
                context_for=self._timed(hooks.context_for),
            )
        self.source = LiveSource()
        # On a real output device, what the speaker plays is recorded from its monitor.
        self.monitor = OutputMonitor(output_device) if output_device else None
        if output_device:
            self.player = Player(engines.voice.sample_rate, device=output_device)
        else:
            self.player = Player(engines.voice.sample_rate, simulated=True, keep=False)
        self.events = TurnEvents()
        self.timeout = timeout
        self.conversation = Conversation.from_engines(
            engines,
            config=config,
            source=lambda: self.source,
            player=self.player,
            hooks=hooks,
        )
        self.conversation.subscribe(self.events)
        # The conversation hooks on_block only for echo cancellation (off here); this
        # hook sees when each block has finished playing, i.e. when the output went quiet.
        self.loud_blocks: list[float] = []
        self.player.on_block = self._on_block

    def _timed(
        self, context_for: Callable[[str], ReplyContext | None]
    ) -> Callable[[str], ReplyContext | None]:
        def timed(text: str) -> ReplyContext | None:
            started = time.perf_counter()
            try:
                return context_for(text)
            finally:
                self.retrievals.append(time.perf_counter() - started)

        return timed

    def _on_block(self, block: np.ndarray) -> None:
        if len(block) and float(np.abs(block).max()) >= _LOUD:
            self.loud_blocks.append(time.monotonic())

    def __enter__(self) -> _StreamingRound:
        self.conversation.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.conversation.stop()
        self.player.close()
        if self.monitor is not None:
            self.monitor.close()

    def speak(self, samples: np.ndarray) -> tuple[bool, int | None, float]:
        """Say ``samples`` and wait until the pipeline answers: (whether a reply started
        playing, the turn number or ``None`` when no words were heard, when the
        utterance was handed over)."""
        since = self.events.mark()
        self.source.say(samples)
        thinking = self.events.wait(since, state_is(State.THINKING), self.timeout)
        outcome = self.events.wait(
            thinking, state_is(State.SPEAKING, State.LISTENING), self.timeout
        )
        number = next(
            (
                e.turn
                for e in self.events.events[thinking:outcome]
                if isinstance(e, FinalTranscript)
            ),
            None,
        )
        playing = self.events.events[outcome]
        assert isinstance(playing, StateChanged)
        return playing.state == State.SPEAKING, number, self.events.events[thinking].at

    def finish(
        self, number: int | None, since: int
    ) -> tuple[TurnFinished | None, TurnMetrics | None]:
        """Stop the reply, wait for turn ``number`` (heard after event ``since``) to end
        and start a new conversation."""
        self.conversation.interrupt()
        finished = metrics = None
        if number is not None:
            index = self.events.wait(
                since, lambda e: isinstance(e, TurnMetrics) and e.turn == number, self.timeout
            )
            metrics = self.events.events[index]
            finished = next(
                e
                for e in self.events.events[since:index]
                if isinstance(e, TurnFinished) and e.turn == number
            )
        self.conversation.wait_idle(self.timeout)
        self.conversation.new_conversation()
        time.sleep(_SETTLE)
        assert metrics is None or isinstance(metrics, TurnMetrics)
        return finished, metrics

    def ask(self, name: str, samples: np.ndarray, round_: int) -> LatencyTurn:
        """One question; its reply is stopped as soon as it starts playing."""
        since = self.events.mark()
        self.source.lag = 0.0
        searched = len(self.retrievals)
        _, number, _ = self.speak(samples)
        lag = self.source.lag
        finished, metrics = self.finish(number, since)
        heard = next(
            (e.text for e in self.events.events[since:]
             if isinstance(e, FinalTranscript) and e.turn == number),
            "",
        )  # fmt: skip
        steps: dict[str, float] = {}
        if metrics is not None:
            steps.update(metrics.steps)
            for step in ("end_of_turn", "transcript", "first_token", "first_sentence"):
                value = getattr(metrics, step)
                if value is not None:
                    steps[step] = value
        if len(self.retrievals) > searched:  # the last search is the confirmed turn's
            steps["retrieval"] = self.retrievals[-1]
        return LatencyTurn(
            pipeline=self.pipeline,
            question=name,
            round=round_,
            heard=heard,
            reply=finished.full_text if finished is not None else "",
            voice_to_voice=metrics.first_audio if metrics is not None else None,
            steps=steps,
            capture_lag=lag,
        )

    def _audible(self, when: float) -> bool:
        """Whether the output played sound in the :data:`_AUDIBLE` seconds before ``when``."""
        if self.monitor is not None:
            return self.monitor.last_loud(when - _AUDIBLE, when) is not None
        return any(when - _AUDIBLE <= t < when for t in self.loud_blocks[-20:])

    def barge_in(
        self, question: np.ndarray, stop: np.ndarray, after: float
    ) -> tuple[list[float], float | None]:
        """A question, then ``stop`` said ``after`` seconds into the reply: the stop times
        the pipeline measured (none when the reply ended first), and the time from the
        first loud sample of ``stop`` to the last loud sample the output played after it
        (``None`` when the pipeline measured none, or when the output was quiet already
        when the user began: a pause between sentences, nothing to silence).

        The two differ by where speech starts: the pipeline counts from the VAD's onset,
        which comes after the first quiet consonant ("S" of "Stop") is already heard. On
        a simulated player the output is the end of each block the player wrote; on a
        real device (``output_device``) it is the device's monitor, every buffer on the
        way included.
        """
        conversation = self.conversation
        before = len(conversation.barge_in_stops)
        since = self.events.mark()
        playing, number, _ = self.speak(question)
        if not playing:
            self.finish(number, since)
            return [], None
        time.sleep(after)
        # Barge in while the reply is heard: on a loaded machine the voice can fall
        # behind the player, which then waits in silence; there is nothing to stop then.
        deadline = time.monotonic() + self.timeout
        while not self._audible(time.monotonic()) and time.monotonic() < deadline:
            time.sleep(0.005)
        # The stop phrase is a turn of its own (it may get a reply, stopped at once).
        _, stop_number, handed_over = self.speak(stop)
        onset = self.source.onsets[-1]
        # Its own reply cannot start before it was handed over to the turn worker.
        playing_at_onset = self._audible(onset)
        if self.monitor is not None:
            last = self.monitor.last_loud(onset, handed_over)
        else:
            # A block is stamped when it finished playing: one that ends after the onset
            # began up to a block before it.
            last = max((t for t in self.loud_blocks if onset <= t < handed_over), default=None)
        self.finish(number, since)
        self.finish(stop_number, since)
        measured = conversation.barge_in_stops[before:]
        at_output = None
        if measured and playing_at_onset:
            at_output = 0.0 if last is None else last - onset
        return measured, at_output


def _warm_up(engines: Engines, config: Config, samples: np.ndarray) -> None:
    """One untimed turn through every engine, so no figure pays for a cold start."""
    heard = engines.transcriber.transcribe(Audio(samples, ASR_RATE)).text or "Hello."
    messages = build_messages(config.llm.system_prompt, (), heard)
    reply = complete(engines.chat, messages, generation_options(config))
    synthesize_all(engines.voice, speakable(reply or "Hello.", engines.voice.language))


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def run_latency_bench(
    config: Config,
    store: ModelStore,
    questions: Path,
    options: LatencyOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> LatencyReport:
    """Load the engines and measure both pipelines on the questions in ``questions``.

    ``config`` is not changed: the run uses a copy at temperature 0 with
    ``options.max_tokens`` (when set). ``progress`` gets a line per step.

    Raises:
        AudioFormatError: the question files are missing.
        ModelError: a model is not installed or cannot be loaded.
        EngineError: the pipeline stopped answering.
    """
    from ..engines import Engines

    options = options or LatencyOptions()
    say = progress or (lambda _line: None)
    files, stop_file = find_questions(questions)
    clips = [(path.name, read_audio(path).samples) for path in files]
    stop = read_audio(stop_file).samples

    config = Config.from_dict(config.to_dict())
    config.llm.temperature = 0.0
    if options.max_tokens is not None:
        config.llm.max_tokens = options.max_tokens
    config.validate()

    rss_start = rss_mb()
    say("loading the engines")
    engines = Engines.load(config, store)
    rss_loaded = rss_mb()
    say("warming up")
    _warm_up(engines, config, clips[0][1])

    turns: list[LatencyTurn] = []
    timeout = options.turn_timeout
    baseline = SequentialBaseline(engines, config, timeout)
    knowledge = _index(options.documents, store, say) if options.documents else None
    hooks = ReplyHooks(context_for=context_hook(knowledge)) if knowledge is not None else None
    try:
        for round_ in range(1, options.repeats + 1):
            # Alternate which side goes first, so neither always runs on a warmer cache.
            order = ["streaming", "baseline"] if round_ % 2 else ["baseline", "streaming"]
            if hooks is not None:
                order.insert(1, "documents")
            for pipeline in order:
                if pipeline != "baseline":
                    with_docs = hooks if pipeline == "documents" else None
                    with _StreamingRound(engines, config, timeout, with_docs, pipeline) as live:
                        for name, samples in clips:
                            turns.append(live.ask(name, samples, round_))
                            say(_line(turns[-1]))
                else:
                    for name, samples in clips:
                        turns.append(baseline.ask(name, samples, round_))
                        say(_line(turns[-1]))
    finally:
        baseline.close()
        if knowledge is not None:
            knowledge.close()
            shutil.rmtree(knowledge.path.parent, ignore_errors=True)

    stops: list[float] = []
    at_output: list[float] = []
    # Barge into the longest replies: a short one may be over before the user speaks.
    length = {t.question: len(t.reply) for t in turns if t.pipeline == "baseline"}
    chatty = sorted(clips, key=lambda clip: -length.get(clip[0], 0))
    if options.barge_ins:
        with _StreamingRound(engines, config, timeout, output_device=options.output_device) as live:
            for i in range(options.barge_ins):
                name, samples = chatty[i % len(chatty)]
                measured, heard = live.barge_in(samples, stop, options.barge_in_after)
                stops += measured
                if heard is not None:
                    at_output.append(heard)
                figures = ", ".join(f"{1000 * s:.0f} ms" for s in measured) or "reply ended first"
                if heard is not None:
                    figures += f" (at the output {1000 * heard:.0f} ms)"
                elif measured:
                    figures += " (the output was quiet when the user began)"
                say(f"barge-in {i + 1}/{options.barge_ins} ({name}): {figures}")

    memory = MemoryUse(
        rss_start_mb=rss_start, rss_loaded_mb=rss_loaded, rss_end_mb=rss_mb(), peak_mb=_peak_mb()
    )
    return LatencyReport(
        turns=tuple(turns),
        barge_in_stops=tuple(stops),
        barge_in_at_output=tuple(at_output),
        barge_ins_tried=options.barge_ins,
        memory=memory,
        machine=machine_info(),
        options=options,
        min_silence_ms=config.vad.min_silence_ms,
        max_tokens=config.llm.max_tokens,
        models={
            "vad": config.vad.model,
            "asr": config.asr.model,
            "llm": config.llm.model,
            "voice": config.tts.voice,
            "turn": f"{config.turn.model} ({config.turn.mode})",
        },
        questions=tuple(name for name, _ in clips),
    )


def _index(folder: Path, store: ModelStore, say: Callable[[str], None]) -> KnowledgeBase:
    """An index of ``folder`` in a temporary directory, with the catalog's embedder."""
    from ..errors import AssistantError
    from ..knowledge import KnowledgeError, open_knowledge

    if not folder.is_dir():
        raise KnowledgeError(
            f"document folder {folder} does not exist", hint="point --documents at a folder"
        )
    say(f"indexing {folder}")
    directory = Path(tempfile.mkdtemp(prefix="assistant-bench-latency-"))
    knowledge = open_knowledge(store, directory / "knowledge.sqlite3")
    try:
        knowledge.add_folder(folder)
        report = knowledge.sync()
    except AssistantError:
        knowledge.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    say(f"  {report.passages} passages")
    knowledge.search("warm up")  # the embedder's first call is not a turn's
    return knowledge


def _line(turn: LatencyTurn) -> str:
    figure = "no reply" if turn.voice_to_voice is None else f"{turn.voice_to_voice:.3f} s"
    return f"round {turn.round} {turn.pipeline:<9} {turn.question}: {figure}  ({turn.heard!r})"
