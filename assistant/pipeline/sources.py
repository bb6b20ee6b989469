"""Where the pipeline's audio comes from: the microphone, or files played in real time.

A source yields blocks of 16 kHz mono float32 samples. A real-time source paces its
blocks like a microphone would, so everything downstream (endpointing, barge-in, the
latency figures) behaves as it does live.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..audio import ASR_RATE, Audio
from ..audio.devices import import_sounddevice, resolve_device
from ..audio.pulse import routed
from ..errors import AudioDeviceError

__all__ = ["AudioSource", "MicrophoneSource", "ScriptedSource", "Utterance"]

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.03
"""Block length every source delivers (30 ms)."""


class AudioSource(Protocol):
    """Blocks of 16 kHz mono float32 audio."""

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield blocks until the source ends or is closed; raises AudioDeviceError when
        the device fails."""
        ...

    def close(self) -> None:
        """Stop delivering (from any thread)."""
        ...


class MicrophoneSource:
    """A sounddevice input stream at the device's own rate, resampled to 16 kHz.

    Args:
        device: config value of ``audio.input_device`` ('' for the default).
    """

    def __init__(self, device: str = "") -> None:
        self.device = device
        self._closed = threading.Event()

    def blocks(self) -> Iterator[np.ndarray]:
        import soxr

        sd = import_sounddevice()
        resolved = resolve_device(self.device, "input")
        chosen = resolved.portaudio
        try:
            rate = int(sd.query_devices(chosen, "input")["default_samplerate"])
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(
                f"no audio input device{f' {self.device!r}' if self.device else ''}: {exc}",
                hint="connect a microphone or pick another audio.input_device "
                "(`assistant devices` lists them)",
            ) from exc
        blocks: queue.Queue[np.ndarray | BaseException] = queue.Queue()

        def callback(indata: np.ndarray, frames: int, timing: Any, status: Any) -> None:
            if status:
                log.debug("input status: %s", status)
            blocks.put(indata[:, 0].copy())

        resampler = soxr.ResampleStream(rate, ASR_RATE, 1, dtype="float32")
        try:
            with routed("source", resolved.pulse_name):
                stream = sd.InputStream(
                    samplerate=rate,
                    channels=1,
                    dtype="float32",
                    device=chosen,
                    blocksize=int(rate * BLOCK_SECONDS),
                    callback=callback,
                    finished_callback=lambda: blocks.put(
                        AudioDeviceError("the input stream ended")
                    ),
                )
                stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(f"cannot open the microphone: {exc}") from exc
        log.info("microphone open at %d Hz", rate)
        # A suspended PulseAudio source can take a few seconds to deliver its first block.
        timeout = 5.0
        try:
            while not self._closed.is_set():
                try:
                    item = blocks.get(timeout=timeout)
                except queue.Empty as exc:
                    raise AudioDeviceError("the microphone stopped delivering audio") from exc
                timeout = 2.0
                if isinstance(item, BaseException):
                    if self._closed.is_set():
                        return
                    raise item
                out = resampler.resample_chunk(item)
                if len(out):
                    yield out
        finally:
            stream.close()

    def close(self) -> None:
        self._closed.set()


@dataclass(frozen=True)
class Utterance:
    """Audio that a scripted source plays at a given time."""

    at: float
    """Seconds from the start of the script."""
    audio: Audio
    """What to play (converted to 16 kHz)."""
    gain: float = 1.0
    """Level multiplier."""


class ScriptedSource:
    """Plays utterances at set times over silence, in real time (or as fast as possible).

    Callables may be added to the script: ``(at, fn)`` calls ``fn()`` when the script
    reaches ``at`` (a test pressing push-to-talk, say). A ``mix`` callback returns audio
    to add to each block (the speakers' echo in a room). The source keeps delivering
    silence after the last utterance until ``duration`` or :meth:`close`.
    """

    def __init__(
        self,
        script: Sequence[Utterance | tuple[float, Callable[[], None]]],
        *,
        duration: float | None = None,
        realtime: bool = True,
        noise_db: float = -70.0,
        mix: Callable[[int], np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        self._utterances = [u for u in script if isinstance(u, Utterance)]
        self._actions = sorted((a for a in script if isinstance(a, tuple)), key=lambda a: a[0])
        self._duration = duration
        self._realtime = realtime
        self._noise = 10 ** (noise_db / 20)
        self._mix = mix
        self._rng = np.random.default_rng(seed)
        self._closed = threading.Event()
        self._late: queue.Queue[tuple[int, np.ndarray]] = queue.Queue()
        self.position = 0
        """Samples delivered so far."""
        self.onsets: list[float] = []
        """``time.monotonic()`` at which each utterance's first sample was delivered."""

    def play_now(self, audio: Audio, gain: float = 1.0) -> None:
        """Start playing ``audio`` at the current position (from any thread)."""
        self._late.put((self.position, audio.at_rate(ASR_RATE).samples * gain))

    def blocks(self) -> Iterator[np.ndarray]:
        block = int(ASR_RATE * BLOCK_SECONDS)
        clips = [(int(u.at * ASR_RATE), u.audio.at_rate(ASR_RATE).samples * u.gain)
                 for u in self._utterances]  # fmt: skip
        actions = list(self._actions)
        start = time.monotonic()
        while not self._closed.is_set():
            t0 = self.position
            if self._duration is not None and t0 >= self._duration * ASR_RATE:
                return
            while actions and actions[0][0] * ASR_RATE <= t0:
                actions.pop(0)[1]()
            while not self._late.empty():
                clips.append(self._late.get())
            out = (self._rng.standard_normal(block) * self._noise).astype(np.float32)
            for begin, samples in clips:
                lo, hi = max(begin, t0), min(begin + len(samples), t0 + block)
                if lo < hi:
                    if lo == begin:
                        self.onsets.append(time.monotonic())
                    out[lo - t0 : hi - t0] += samples[lo - begin : hi - begin]
            if self._mix is not None:
                out += self._mix(block)
            self.position += block
            if self._realtime:
                delay = start + self.position / ASR_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield out

    def close(self) -> None:
        self._closed.set()
