"""Playing audio as it arrives, with pause, resume and an immediate stop.

The same player drives a real output device (sounddevice) or a simulated speaker that
consumes audio at real-time pace without hardware (tests, benchmarks). Each queued piece
carries a tag; callbacks say when a piece starts reaching the output and when it ended
(played through, or cut), and every block written is offered to a listener, which is how
the echo canceller learns what the speakers are saying.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AudioDeviceError
from .devices import import_sounddevice, resolve_device
from .io import Audio
from .pulse import routed

__all__ = ["RETRY_SECONDS", "Player"]

log = logging.getLogger(__name__)

_BLOCK_SECONDS = 0.02  # write granularity: how quickly stop() and pause() take effect

_SIMULATED_SLACK = 0.2
"""A simulated speaker more than this behind its clock (the machine stalled) starts a
new clock instead of rushing to catch up."""

RETRY_SECONDS = 1.0
"""Without an output device: how often a new piece tries to open it again."""


@dataclass
class _Item:
    samples: np.ndarray
    tag: Any


class _Marker:
    """Queued by wait() and mark(): everything before it has been played when it is
    reached."""

    def __init__(self, done: threading.Event | None = None) -> None:
        self.done = done or threading.Event()


class Player:
    """Plays queued audio on an output device from a worker thread.

    ``play`` returns at once; ``wait`` blocks until everything queued was heard;
    ``stop`` drops what is queued and silences the output within one block (20 ms);
    ``pause``/``resume`` hold and continue the current piece.

    Args:
        sample_rate: rate of everything that will be played (the voice's).
        device: config value of ``audio.output_device`` ('' for the default).
        simulated: no device: blocks are kept in :attr:`played` (tests, benchmarks).
        realtime: with ``simulated``, consume blocks at real-time pace like a device
            (False: as fast as possible).
        allow_missing: without an output device, start anyway: pieces are dropped (the
            callbacks still run, so a conversation goes on in text) and the device is
            tried again before each piece, at most every :data:`RETRY_SECONDS`, so
            speakers that are plugged in later are used without a restart.
        keep: with ``simulated``, keep every block in :attr:`played` (False: a long run,
            a soak, must not grow with what it played).
    """

    on_started: Callable[[Any], None] | None = None
    """Called with a piece's tag when its first block goes to the output."""
    on_finished: Callable[[Any, bool], None] | None = None
    """Called with a piece's tag and whether it played to the end (False: cut by stop)."""
    on_block: Callable[[np.ndarray], None] | None = None
    """Called with every block written (silence included), at the output's rate."""
    on_available: Callable[[bool, str], None] | None = None
    """With ``allow_missing``: called (from the player's thread) when the output device
    goes away or comes back, with the error's message (empty when back)."""

    def __init__(
        self,
        sample_rate: int,
        device: str = "",
        *,
        simulated: bool = False,
        realtime: bool = True,
        allow_missing: bool = False,
        keep: bool = True,
    ) -> None:
        self.sample_rate = sample_rate
        self._keep = keep
        self._realtime = realtime
        self._simulated = simulated
        self._device = device
        self._stream: Any = None
        self.played: list[np.ndarray] = []
        """Simulated mode: every block that was "played"."""
        self.played_at: list[float] = []
        """Simulated mode: when each block of :attr:`played` ended (``time.monotonic()``)."""
        self._allow_missing = allow_missing
        self.missing: AudioDeviceError | None = None
        """With ``allow_missing``: why there is no output now (``None`` while there is)."""
        self._retry_at = 0.0
        self._pulse_name: str | None = None  # the sound server's device, when chosen so
        self._checked_at = time.monotonic()
        if not simulated:
            try:
                self._open_stream()
            except AudioDeviceError as exc:
                if not allow_missing:
                    raise
                log.warning("%s; replies are shown as text only", exc.message)
                self.missing = exc
                self._retry_at = time.monotonic() + RETRY_SECONDS
        self._queue: queue.Queue[_Item | _Marker | None] = queue.Queue()
        self._generation = 0  # bumped by stop(): pieces queued before it are dropped
        self._paused = threading.Event()
        self._busy = False
        self._error: BaseException | None = None
        self._closed = False
        self._written = 0
        self._due: float | None = None  # simulated real time: when the written audio ends
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """True while something is queued or playing."""
        return self._busy

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume` (or :meth:`stop`)."""
        return self._paused.is_set()

    def play(self, audio: Audio, tag: Any = None) -> None:
        """Queue audio to play after what is already queued."""
        if audio.sample_rate != self.sample_rate:
            audio = audio.at_rate(self.sample_rate)
        self._raise_error()
        self._busy = True
        self._queue.put(_Item(audio.samples, (self._generation, tag)))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until all queued audio has been played (or stopped); False on timeout."""
        marker = _Marker()
        self._queue.put(marker)
        done = marker.done.wait(timeout)
        self._raise_error()
        return done

    def mark(self, done: threading.Event) -> None:
        """Set ``done`` once everything queued so far has been played (or stopped);
        returns at once (then :meth:`check` raises a playback failure, if any)."""
        self._queue.put(_Marker(done))

    def check(self) -> None:
        """Raise the playback failure since the last call, if any.

        Raises:
            AudioDeviceError: the output failed.
        """
        self._raise_error()

    @property
    def blocks_written(self) -> int:
        """Blocks written to the output so far (silence included): it grows while the
        player makes progress."""
        return self._written

    def stop(self) -> None:
        """Drop queued audio and go silent at once."""
        self._generation += 1
        self._paused.clear()

    def pause(self) -> None:
        """Hold playback (the output plays silence) until :meth:`resume` or :meth:`stop`."""
        self._paused.set()

    def resume(self) -> None:
        """Continue a paused piece."""
        self._paused.clear()

    def close(self) -> None:
        """Stop and release the device."""
        self._closed = True
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout=2)
        self._drop_stream()

    def _open_stream(self) -> None:
        sd = import_sounddevice()
        resolved = resolve_device(self._device, "output")
        try:
            with routed("sink", resolved.pulse_name):
                stream = sd.OutputStream(
                    samplerate=self.sample_rate,
                    channels=1,
                    dtype="float32",
                    device=resolved.portaudio,
                    latency="low",
                )
                stream.start()
            self._pulse_name = resolved.pulse_name
            self._checked_at = time.monotonic()
        except (sd.PortAudioError, ValueError) as exc:
            where = f" {self._device!r}" if self._device else ""
            raise AudioDeviceError(
                f"cannot open the audio output device{where}: {exc}",
                hint="connect speakers or headphones, pick another audio.output_device "
                "(`assistant devices` lists them), or write to a file with --output",
            ) from exc
        self._stream = stream

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception:  # a vanished device may fail to close too
                log.debug("closing the output stream failed", exc_info=True)

    def _flush(self) -> None:
        """Silence the output now: drop the audio written but not yet played (the
        device's and the sound server's buffers, tens of milliseconds) by aborting the
        stream, and start it again for what comes next. Called on the player's thread
        only, between writes."""
        if self._stream is None:
            return
        try:
            self._stream.abort()
            self._stream.start()
        except Exception as exc:  # a broken stream fails its next write: reopened then
            log.debug("flushing the output failed: %s", exc)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise AudioDeviceError(f"audio playback failed: {error}") from error

    def _write(self, block: np.ndarray) -> None:
        if not self._simulated:
            if self._stream is None:  # lost earlier: the device may be back
                self._open_stream()
                log.info("audio output is back")
            self._stream.write(block.reshape(-1, 1))
        else:
            if self._realtime:
                self._keep_time(len(block))
            if self._keep:
                self.played_at.append(time.monotonic())
                self.played.append(block)
        self._written += 1
        if self.on_block is not None:
            self.on_block(block)

    def _keep_time(self, samples: int) -> None:
        # A device takes samples at its clock's rate: sleeping each block's length
        # would run slow by every wake-up's lateness (about 5 % here), and the echo of
        # the reply in a simulated room would then drift from the canceller's reference.
        now = time.monotonic()
        if self._due is None or now - self._due > _SIMULATED_SLACK:
            self._due = now
        self._due += samples / self.sample_rate
        if self._due > now:
            time.sleep(self._due - now)

    def _run(self) -> None:
        block = max(1, int(self.sample_rate * _BLOCK_SECONDS))
        silence = np.zeros(block, np.float32)
        while True:
            if self._queue.empty():
                self._due = None  # a simulated speaker runs dry while nothing comes
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Marker):
                self._busy = not self._queue.empty()
                item.done.set()
                continue
            generation, tag = item.tag
            if generation != self._generation:
                self._finished(tag, False)
                continue
            if not self._output_ready():  # no device: the piece is shown, not heard
                self._finished(tag, True)
                if self._queue.empty():
                    self._busy = False
                continue
            try:
                completed = self._play_item(item.samples, generation, tag, block, silence)
            except Exception as exc:  # reported to the caller on its next call
                log.error("audio playback failed: %s", exc)
                if self._allow_missing:  # say so, and try the device again later
                    self._set_missing(
                        exc
                        if isinstance(exc, AudioDeviceError)
                        else AudioDeviceError(f"audio playback failed: {exc}")
                    )
                else:
                    self._error = exc
                self._generation += 1
                completed = False
                # Reopened on the next piece: a device that comes back works again.
                self._drop_stream()
            self._finished(tag, completed)
            if self._queue.empty():
                self._busy = False

    def _output_ready(self) -> bool:
        """With ``allow_missing``: is there an output (tried again when it is time)? A
        device chosen by name that was unplugged is let go (the sound server would move
        the stream elsewhere), so that it is used again once plugged back."""
        if self._simulated or not self._allow_missing:
            return True
        now = time.monotonic()
        if self._stream is not None:
            if self._pulse_name is None or now < self._checked_at + RETRY_SECONDS:
                return True
            self._checked_at = now
            from .pulse import find_pulse_device

            if find_pulse_device(self._pulse_name, "sink") is not None:
                return True
            self._drop_stream()
            self._set_missing(
                AudioDeviceError(f"the output device {self._device!r} is not connected")
            )
            return False
        if self.missing is not None and now < self._retry_at:
            return False
        try:
            self._open_stream()
        except AudioDeviceError as exc:
            self._set_missing(exc)
            return False
        if self.missing is not None:
            log.info("audio output is back")
            self.missing = None
            if self.on_available is not None:
                self.on_available(True, "")
        return True

    def _set_missing(self, exc: AudioDeviceError) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        was_missing, self.missing = self.missing is not None, exc
        if not was_missing and self.on_available is not None:
            self.on_available(False, exc.message)

    def _play_item(
        self, samples: np.ndarray, generation: int, tag: Any, block: int, silence: np.ndarray
    ) -> bool:
        start = 0
        started = False
        flushed = False
        while start < len(samples):
            if generation != self._generation or self._closed:
                self._flush()
                return False
            if self._paused.is_set():
                if not flushed:  # what the device still holds would play on: drop it
                    self._flush()
                    flushed = True
                self._write(silence)
                continue
            flushed = False
            if not started and self.on_started is not None:
                self.on_started(tag)
            started = True
            self._write(samples[start : start + block])
            start += block
        return True

    def _finished(self, tag: Any, completed: bool) -> None:
        if self.on_finished is not None:
            self.on_finished(tag, completed)
