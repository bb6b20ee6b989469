"""Playing audio as it arrives, with an immediate stop."""

from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from ..errors import AudioDeviceError
from .devices import import_sounddevice, parse_device
from .io import Audio

__all__ = ["Player"]

log = logging.getLogger(__name__)

_BLOCK_SECONDS = 0.05  # write granularity: how quickly stop() takes effect


class Player:
    """Plays queued audio on an output device from a worker thread.

    ``play`` returns at once; ``wait`` blocks until everything queued was heard;
    ``stop`` drops what is queued and silences the device within ~50 ms.

    Args:
        sample_rate: rate of everything that will be played (the voice's).
        device: config value of ``audio.output_device`` ('' for the default).
    """

    def __init__(self, sample_rate: int, device: str = "") -> None:
        sd = import_sounddevice()
        self.sample_rate = sample_rate
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate, channels=1, dtype="float32", device=parse_device(device)
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(
                f"cannot open the audio output device{f' {device!r}' if device else ''}: {exc}",
                hint="connect speakers or headphones, pick another audio.output_device "
                "(`assistant doctor` lists them), or write to a file with --output",
            ) from exc
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._thread.start()

    def play(self, audio: Audio) -> None:
        """Queue audio to play after what is already queued."""
        if audio.sample_rate != self.sample_rate:
            audio = audio.at_rate(self.sample_rate)
        self._raise_error()
        self._idle.clear()
        self._queue.put(audio.samples)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until all queued audio has been played; False on timeout."""
        self._queue.put(None)  # marks the end of what is queued now
        done = self._idle.wait(timeout)
        self._raise_error()
        return done

    def stop(self) -> None:
        """Drop queued audio and stop at once."""
        self._stop.set()
        while not self._queue.empty():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)

    def close(self) -> None:
        """Stop and release the device."""
        self._closed = True
        self.stop()
        self._thread.join(timeout=2)
        try:
            self._stream.close()
        except Exception:  # closing a vanished device must not mask the real error
            log.debug("closing the output stream failed", exc_info=True)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise AudioDeviceError(f"audio playback failed: {error}") from error

    def _run(self) -> None:
        block = max(1, int(self.sample_rate * _BLOCK_SECONDS))
        while True:
            samples = self._queue.get()
            if samples is None:
                if self._closed:
                    return
                if self._queue.empty():
                    self._stop.clear()
                    self._idle.set()
                continue
            try:
                for start in range(0, len(samples), block):
                    if self._stop.is_set():
                        break
                    self._stream.write(samples[start : start + block].reshape(-1, 1))
            except Exception as exc:  # reported to the caller on its next call
                log.error("audio playback failed: %s", exc)
                self._error = exc
                self._stop.set()
