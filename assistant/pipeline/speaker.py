"""The speaker stage: each piece of the reply synthesized and queued on the player while
the model writes the next; what was played, and the echo canceller's reference signal.

A speculative reply is synthesized early and held until its turn is confirmed (dropped
if it is cancelled). After a reply's last piece the stage waits for the player to reach
it, then sets the turn's ``playback_done`` for the turn worker. Every wait here ends when
the turn is cancelled, and the watchdog reports one that stops making progress.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
from typing import Any

import numpy as np

from ..audio import ASR_RATE
from ..audio.echo import EchoCanceller
from ..audio.playback import Player
from ..errors import AssistantError, AudioDeviceError
from ..reply import speakable_piece
from ..tts import ReleasesMemory, SpeechChunk, Voice
from .emitter import Emitter
from .events import SentenceSpoken, State
from .messages import EndOfReply, Sentence, SpeakerMessage, Stop
from .stage import StageThread
from .turns import Turn
from .watchdog import Watchdog

__all__ = ["Speaker"]

log = logging.getLogger(__name__)


class Speaker:
    """Speaks the pieces the turn worker sends, and reports what was played.

    Args:
        voice: the voice.
        player: where the audio goes; its callbacks are taken over by this stage.
        emitter, watchdog: the pipeline's.
        echo: the echo canceller to feed with what is played, or ``None``.
    """

    def __init__(
        self,
        voice: Voice,
        player: Player,
        emitter: Emitter,
        watchdog: Watchdog,
        echo: EchoCanceller | None = None,
    ) -> None:
        self._voice = voice
        self._player = player
        self._emitter = emitter
        self._watchdog = watchdog
        self._echo = echo
        self._queue: queue.Queue[SpeakerMessage] = queue.Queue()
        self._thread = StageThread("speaker", self._run, emitter, "tts")
        self._reference_resampler: Any = None  # soxr.ResampleStream, made on first use
        self._handled = 0
        self.volume = 1.0
        """Gain on everything played (the user's "louder"/"quieter"); 0 while muted."""
        self.muted = False
        player.on_started = self._on_audio_started
        player.on_finished = self._on_audio_finished
        if echo is not None:
            player.on_block = self._on_played_block

    # ------------------------------------------------------------------ from the turn worker

    def say(self, turn: Turn, text: str) -> None:
        """Queue a piece of ``turn``'s reply."""
        self._queue.put(Sentence(turn, text))

    def sound(self, turn: Turn, samples: np.ndarray) -> None:
        """Play ``samples`` (at the voice's rate) now, before ``turn``'s words (a chime)."""
        from ..audio import Audio

        self._player.play(Audio(self._gain(samples), self._voice.sample_rate), tag=(turn, None))

    def _gain(self, samples: np.ndarray) -> np.ndarray:
        gain = 0.0 if self.muted else self.volume
        return samples if gain == 1.0 else (samples * gain).astype(np.float32)

    def end(self, turn: Turn) -> None:
        """``turn``'s reply has no more pieces: set its ``playback_done`` once played."""
        self._queue.put(EndOfReply(turn))

    def progress(self) -> tuple[int, int]:
        """Changes while the stage makes progress (pieces handled, blocks played): what
        the watchdog looks at while a long reply is being spoken."""
        return self._handled, self._player.blocks_written

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(Stop())
        self._thread.join("a voice still synthesizing")
        # Turns still queued here will not be spoken: release whoever waits for them.
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, EndOfReply):
                message.turn.playback_done.set()
        self._reference_resampler = None  # native state: release it with the conversation

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if isinstance(message, Stop):
                return
            if isinstance(message, EndOfReply):
                self._finish(message.turn)
            else:
                self._speak(message.turn, message.text)
            self._handled += 1

    def _confirmed(self, turn: Turn) -> bool:
        with self._watchdog.waiting(
            "speaker", f"the end of the utterance that turn {turn.number} answers", "input"
        ):
            return bool(turn.wait_confirmed())

    def _finish(self, turn: Turn) -> None:
        try:
            if self._confirmed(turn):
                self._player.mark(turn.played)
                with self._watchdog.waiting(
                    "speaker",
                    f"the audio output to play turn {turn.number}'s reply",
                    "output",
                    progress=lambda: self._player.blocks_written,
                ):
                    turn.played.wait()
                try:
                    self._player.check()
                except AudioDeviceError as exc:
                    self._emitter.error(exc, "output")
        finally:
            if self._queue.empty():  # idle until the next reply: a good moment
                self._release_voice_memory()
            turn.playback_done.set()

    def _release_voice_memory(self) -> None:
        """Between replies: let the voice give back what its longest sentence took."""
        if not isinstance(self._voice, ReleasesMemory):
            return
        try:
            self._voice.release_memory()
        except Exception as exc:  # an optimisation: never worth failing a turn for
            log.warning("the voice could not release memory: %s", exc)

    def _speak(self, turn: Turn, sentence: str) -> None:
        try:
            voiced = self._synthesize(turn, sentence)
        finally:
            turn.voiced.set()  # the model may write on (see TurnWorker)
        if voiced is None:
            return
        text, chunks = voiced
        for i, chunk in enumerate(chunks):
            # A speculative reply is ready early; it plays once the turn is confirmed.
            if not self._confirmed(turn):
                return
            last = i == len(chunks) - 1
            try:
                audio = chunk.audio
                if self.muted or self.volume != 1.0:
                    audio = dataclasses.replace(audio, samples=self._gain(audio.samples))
                self._player.play(audio, tag=(turn, text if last else None))
            except AudioDeviceError as exc:
                self._emitter.error(exc, "output")
                turn.cancel()

    def _synthesize(self, turn: Turn, sentence: str) -> tuple[str, list[SpeechChunk]] | None:
        """The speakable text of one piece and its audio (``None`` when the turn is
        cancelled, the piece has nothing to say or the voice failed)."""
        if turn.is_cancelled:
            return None
        text = speakable_piece(sentence, self._voice.language)
        if text is None:
            return None
        try:
            with self._watchdog.waiting("speaker", f"the voice to say {text[:40]!r}", "tts"):
                chunks = list(self._voice.synthesize(text))
        except AssistantError as exc:
            self._emitter.error(exc, "tts")
            return None
        turn.mark("voiced")
        return text, chunks

    # ------------------------------------------------------------------ player callbacks

    def _on_audio_started(self, tag: tuple[Turn, str | None]) -> None:
        turn, _ = tag
        if turn.is_cancelled:
            return
        turn.mark("first_audio")
        self._emitter.set_state(State.SPEAKING, only_from=(State.THINKING,))

    def _on_audio_finished(self, tag: tuple[Turn, str | None], completed: bool) -> None:
        turn, sentence = tag
        if completed and sentence is not None and not turn.is_cancelled:
            turn.spoken.append(sentence)
            self._emitter.emit(SentenceSpoken(sentence, turn.number))

    def _on_played_block(self, block: np.ndarray) -> None:
        # One resampler for the whole stream: resampling 20 ms blocks one by one would
        # put a discontinuity at every block edge, which the canceller cannot match.
        # Quick (cubic) quality: it has no look-ahead, so each block's reference is
        # queued as it is played. soxr's default holds 40-60 ms back and hands it over
        # in bursts, so the echo of a short delay reached the canceller before its
        # reference (6.9 dB echo return loss on a 50 ms room, 52 dB with this one).
        if self._reference_resampler is None:
            import soxr

            self._reference_resampler = soxr.ResampleStream(
                self._player.sample_rate, ASR_RATE, 1, dtype="float32", quality="QQ"
            )
        resampled = self._reference_resampler.resample_chunk(block)
        if len(resampled) and self._echo is not None:
            self._echo.add_reference(resampled)
