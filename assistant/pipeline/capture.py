"""The capture stage: the source's blocks in; utterances, speculations, levels and
barge-ins out.

One thread reads the audio source, removes the speakers' echo, runs the endpointer,
reports levels, pauses the reply the moment the user starts talking over it and cuts it
once the speech is confirmed, asks the partials stage for transcripts while the user
speaks, and hands turns to the turn worker:

- 60 ms into a pause, a *speculative* turn with the utterance so far (the worker
  answers it unseen);
- when the pause becomes the end of the utterance, the speculation is confirmed if the
  pause it answers never broke, or else a new turn with the whole utterance;
- when the speculative transcript reads as finished, the turn ends after a shorter pause
  (``end_pause``: the end-of-turn model's wait, :class:`~assistant.turnmodel.TurnPolicy`;
  :func:`~assistant.pipeline.turns.early_end_pause`, the punctuation rule, without one),
  and after a longer one when it is clearly unfinished: the endpointer then waits that
  long, and every other pause ends here at ``base_silence`` (``vad.min_silence_ms``).

Every speculative turn is resolved here (confirmed or cancelled), so nothing downstream
waits on it for ever. All the state below belongs to the capture thread, except the
push-to-talk buffer and the mode, which the facade sets under ``_lock``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from ..audio import ASR_RATE
from ..audio.echo import EchoCanceller
from ..audio.playback import Player
from ..errors import AudioDeviceError
from ..vad import Endpointer, SpeechEnded, SpeechStarted
from ..wake.gate import WakeGate, WakeState
from .emitter import Emitter
from .events import AudioLevel, State
from .onset import OnsetDetector
from .partials import PartialsStage
from .sources import AudioSource
from .stage import StageThread
from .turns import Turn, TurnRegistry, early_end_pause

__all__ = ["CaptureStage"]

log = logging.getLogger(__name__)

PARTIAL_EVERY = 0.5
"""Seconds between partial transcripts."""
PAUSE_FRAMES = 1
"""Frames above the threshold that pause the reply at once (32 ms)."""
RESUME_AFTER = 0.6
"""A pause with no confirmed speech resumes the reply after this long."""
SPECULATE_AFTER = 0.06
"""Seconds of pause before a turn starts speculatively. On 2 cores the reply's first piece
(transcript, prompt, first words, voice) often took longer than the shortest end-of-turn
wait (0.4 s), so starting it sooner is what the user hears: from 0.1 s (and with the
prompt read on every core), `bench latency` p50 on the bench questions went 0.503 s
(ratio 0.299) -> 0.467 and 0.510 s (0.262 and 0.285) in two runs. The costs: a partial
transcript still running 0.06 s into the pause holds the recogniser, so 5 or 6 of 24
speculations waited for it (up to 0.34 s; none at 0.1 s); and more speculations are
dropped because the user went on: on 8.7 minutes of real speech (200 asterisk prompts)
pauses inside an utterance reached 0.06 s 12.7 times a minute, 0.1 s 10.3 times. What is
heard does not change: the transcripts made 0.06 s and 0.1 s into the final pause of 92
of them had the same word error rate (0.044) and nearly the same end-of-turn calls (18
sure either way, 5 clearly unfinished against 4)."""
REOPEN_AFTER = 0.5
"""Seconds between attempts to reopen a failed input device."""


class CaptureStage:
    """Reads the source and turns sound into utterances, levels and barge-ins.

    Args:
        source_factory: opens the source (again, after a device failure).
        endpointer: the streaming endpointer (on the conversation's own VAD).
        echo: the echo canceller, or ``None``.
        mode: ``hands-free`` or ``push-to-talk``.
        emitter, registry: the pipeline's event emitter and turn registry.
        submit: hands a turn to the turn worker (``confirmed=False``: speculative).
        partials: the partials stage.
        player: the reply's player (paused and resumed here).
        cut: cuts the current reply (a barge-in).
        in_pause: set here while the user pauses inside an utterance (the partials stage
            then leaves the recogniser to the speculative turn).
        end_pause: seconds of pause after which a speculative transcript ends the turn
            (``None``: the silence rule: ``base_silence``, or the endpointer's silence).
        base_silence: the silence rule's wait when the endpointer is set to wait longer
            (so that ``end_pause`` can hold an unfinished sentence past it).
    """

    def __init__(
        self,
        *,
        source_factory: Callable[[], AudioSource],
        endpointer: Endpointer,
        echo: EchoCanceller | None,
        mode: str,
        emitter: Emitter,
        registry: TurnRegistry,
        submit: Callable[[Turn, bool], None],
        partials: PartialsStage,
        player: Player,
        cut: Callable[[], object],
        in_pause: threading.Event,
        wake: WakeGate | None = None,
        chime: Callable[[], object] | None = None,
        end_pause: Callable[[str | None], float | None] = early_end_pause,
        base_silence: float | None = None,
    ) -> None:
        self._end_pause = end_pause
        self._base_silence = base_silence
        self._source_factory = source_factory
        self._endpointer = endpointer
        self._options = endpointer.options
        self._echo = echo
        self._emitter = emitter
        self._registry = registry
        self._submit = submit
        self._partials = partials
        self._player = player
        self._cut = cut
        self._lock = threading.Lock()
        self._mode = mode
        self._ptt_buffer: list[np.ndarray] | None = None
        self._running = threading.Event()
        self._stopping = threading.Event()
        self._source: AudioSource | None = None
        self._thread = StageThread("capture", self._run, emitter, "capture")
        self._input_failed = False
        self._last_partial = 0.0
        self._last_level = 0.0
        self._loud_frames = 0
        self._onset = OnsetDetector()
        self._paused_at: float | None = None
        self._quiet_since: int | None = None  # endpointer position where a pause began
        self._in_pause = in_pause
        self._wake = wake
        self._chime = chime
        self._was_busy = False
        self.barge_in_stops: list[float] = []
        """Seconds from each barge-in's speech onset to the reply going silent."""
        self.on_pause: Callable[[Turn, float], None] | None = None
        """Called on every block of a pause that has a speculative turn, with the turn
        and the pause so far in seconds (``bench turns`` replays the end-of-turn rules
        on what the stage saw)."""

    # ------------------------------------------------------------------ control (any thread)

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
            self._ptt_buffer = None
        spec = self._registry.set_speculative(None)
        if spec is not None:
            spec.cancel()  # its utterance will not be ended by the endpointer now

    def press(self) -> None:
        """Push-to-talk pressed: collect the audio from now on."""
        with self._lock:
            self._ptt_buffer = []

    def release(self) -> np.ndarray | None:
        """Push-to-talk released: the audio since :meth:`press` (``None`` if nothing)."""
        with self._lock:
            buffer, self._ptt_buffer = self._ptt_buffer, None
        return np.concatenate(buffer) if buffer else None

    def forget_pause(self) -> None:
        """The reply was stopped: a fast pause of it has nothing left to resume."""
        self._paused_at = None

    def start(self) -> None:
        self._stopping.clear()
        self._running.set()
        self._thread.start()

    def stop(self) -> None:
        """Close the source and join the thread."""
        self._running.clear()
        self._stopping.set()
        source = self._source
        if source is not None:
            source.close()
        self._thread.join("a source that ignores close()")

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while self._running.is_set():
            try:
                self._source = self._source_factory()
                for block in self._source.blocks():
                    if self._input_failed:
                        self._input_failed = False
                        log.info("audio input is back")
                    self._on_block(block)
                    if not self._running.is_set():
                        return
                return  # the source ended (a file)
            except AudioDeviceError as exc:
                if not self._input_failed:
                    self._input_failed = True
                    self._emitter.error(exc, "input")
                self._endpointer.reset()
                self._set_quiet(None)
                spec = self._registry.set_speculative(None)
                if spec is not None:
                    spec.cancel()  # its utterance is lost with the device
                # Then try to reopen (the device may come back); stop() ends the wait.
                self._stopping.wait(REOPEN_AFTER)

    def _on_block(self, block: np.ndarray) -> None:
        if self._echo is not None:
            block = self._echo.process(block)
        if self._mode == "push-to-talk":
            with self._lock:
                if self._ptt_buffer is not None:
                    self._ptt_buffer.append(block)
            self._report_level(block, 0.0)
            return
        if self._wake is not None:
            passed = self._wake_filter(block)
            if passed is None:
                return
            block = passed
        events = self._endpointer.push(block)
        probability = self._endpointer.last_probability
        self._report_level(block, probability)
        self._fast_pause(probability, block)
        now = time.monotonic()
        for event in events:
            if isinstance(event, SpeechStarted):
                self._on_speech_started(event, now)
            elif isinstance(event, SpeechEnded):
                self._on_speech_ended(event, now)
        self._speculate(probability, now)
        if (
            self._emitter.state == State.HEARING
            and self._quiet_since is None  # in a pause the speculative turn needs the ASR
            and now - self._last_partial >= PARTIAL_EVERY
        ):
            self._last_partial = now
            self._partials.request(self._endpointer.current_utterance())

    def _wake_filter(self, block: np.ndarray) -> np.ndarray | None:
        """Wake mode: asleep, only the detector hears ``block`` (``None``: nothing goes
        on); on the wake word, a chime, "listening", and the audio after the word."""
        gate = self._wake
        assert gate is not None
        state = self._emitter.state
        if self._was_busy and state == State.LISTENING:
            gate.replied()  # a reply ended: the follow-up window opens
        self._was_busy = state in (State.HEARING, State.THINKING, State.SPEAKING)
        woken, passed = gate.feed(block)
        if woken is not None:
            self._endpointer.reset()
            self._set_quiet(None)
            self._emitter.set_state(State.LISTENING)
            if self._chime is not None:
                self._chime()
            return passed if passed.size else None
        if gate.state is WakeState.ASLEEP:
            if state != State.ASLEEP and not self._was_busy:
                self._endpointer.reset()
                self._set_quiet(None)
                self._emitter.set_state(State.ASLEEP)
            self._report_level(block, 0.0)
            return None
        return passed

    def _on_speech_ended(self, event: SpeechEnded, now: float) -> None:
        speech_end = now - (self._endpointer.position - event.at) / ASR_RATE
        turn = self._registry.set_speculative(None)
        # Confirm the speculation only if the pause it started in never broke: otherwise
        # it lacks what was said after it.
        if (
            turn is not None
            and not turn.is_cancelled
            and self._quiet_since is not None
            and self._quiet_since == turn.quiet_from
        ):
            turn.speech_end = speech_end
            if not self._emitter.confirm(turn):  # the worker gave up on it just now
                self._submit(Turn(0, speech_end, audio=event.utterance), True)
        else:
            if turn is not None:
                turn.cancel()
            self._submit(Turn(0, speech_end, audio=event.utterance), True)

    def _speculate(self, probability: float, now: float) -> None:
        if not self._endpointer.in_speech:
            self._set_quiet(None)
            return
        position = self._endpointer.position
        if probability >= self._options.neg_threshold:
            self._set_quiet(None)
            spec = self._registry.set_speculative(None)
            if spec is not None:
                spec.cancel()  # the user goes on talking: drop it unseen
            return
        if self._quiet_since is None:
            self._set_quiet(position)
        quiet_from = self._quiet_since if self._quiet_since is not None else position
        paused = (position - quiet_from) / ASR_RATE
        spec = self._registry.speculative
        if spec is not None and self.on_pause is not None:
            self.on_pause(spec, paused)
        end_after = self._end_pause(spec.text) if spec is not None and spec.text else None
        if end_after is None and spec is not None:
            end_after = self._base_silence  # the endpointer waits longer than the silence rule
        if spec is not None and end_after is not None and paused >= end_after:
            self._registry.set_speculative(None)
            if self._emitter.confirm(spec):
                # The utterance is over; what the user says next is a new one (a barge-in).
                self._endpointer.finish()
                self._set_quiet(None)
            return
        if spec is None and paused >= SPECULATE_AFTER:
            turn = Turn(0, now - paused, audio=self._endpointer.current_utterance())
            turn.quiet_from = quiet_from
            turn.mark("speculated")
            self._registry.set_speculative(turn)
            self._submit(turn, False)

    def _set_quiet(self, position: int | None) -> None:
        self._quiet_since = position
        if position is None:
            self._in_pause.clear()
        else:
            self._in_pause.set()
            self._partials.drop_pending()  # leave the recogniser to the speculation

    def _report_level(self, block: np.ndarray, probability: float) -> None:
        now = time.monotonic()
        if now - self._last_level < 0.03:
            return
        self._last_level = now
        rms = float(np.sqrt(np.mean(block**2))) if len(block) else 0.0
        level = 20 * np.log10(rms) if rms > 1e-5 else -100.0
        self._emitter.emit(AudioLevel(float(level), probability))

    def _fast_pause(self, probability: float, block: np.ndarray) -> None:
        # The endpointer confirms speech only after min_speech_ms; holding the reply at
        # the first loud frames (or, sooner, at a sound rising out of the background)
        # makes an interruption feel instant, and a false alarm costs only a short gap.
        if self._emitter.state != State.SPEAKING:
            self._loud_frames = 0
            self._onset.reset()
            return
        # With speakers, what the echo canceller left of the reply can rise too: the
        # VAD must at least lean towards speech.
        onset = self._onset.push(block) and (
            self._echo is None or probability >= self._options.neg_threshold
        )
        if onset and self._paused_at is None:
            self._player.pause()
            self._paused_at = time.monotonic()
        if probability >= self._options.threshold:
            self._loud_frames += 1
            if self._loud_frames >= PAUSE_FRAMES and self._paused_at is None:
                self._player.pause()
                self._paused_at = time.monotonic()
        else:
            self._loud_frames = 0
            if (
                self._paused_at is not None
                and not self._endpointer.in_speech
                and time.monotonic() - self._paused_at > RESUME_AFTER
            ):
                self._paused_at = None
                self._player.resume()

    def _on_speech_started(self, event: SpeechStarted, now: float) -> None:
        if self._wake is not None:
            self._wake.heard_speech()
        turn = self._registry.current
        if turn is not None and not turn.is_cancelled:
            onset = now - (self._endpointer.position - event.at) / ASR_RATE
            silent_at = self._paused_at or now
            self._cut()
            self.barge_in_stops.append(max(0.0, silent_at - onset))
            log.info("barge-in: reply cut %.0f ms after the user began", 1000 * (silent_at - onset))
        elif self._paused_at is not None:
            self._player.resume()  # paused for nothing to cut: never leave it held
        self._paused_at = None
        self._last_partial = now
        self._emitter.set_state(State.HEARING)
