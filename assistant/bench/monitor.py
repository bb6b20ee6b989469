"""What a sound-server sink really plays, with ``time.monotonic()`` on every sample.

``bench latency --output-device SINK`` plays the barge-in replies on a real output
device (a PulseAudio sink; ``scripts/virtual-audio.sh`` makes a virtual one, ``spk``) and
records the sink's monitor source here, so that "silent at the output" includes every
buffer between the player and the speaker, which a simulated player has none of.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from ..audio.devices import import_sounddevice, resolve_device
from ..audio.pulse import routed
from ..errors import AudioDeviceError

__all__ = ["OutputMonitor"]

log = logging.getLogger(__name__)

_RATE = 16000
_BLOCK = 160  # 10 ms: a loud sample's time is known to within one block at worst


class OutputMonitor:
    """Records ``sink``'s monitor; :meth:`last_loud` says when it last played sound.

    Raises:
        AudioDeviceError: there is no such sink, or its monitor cannot be opened.
    """

    def __init__(self, sink: str, level: float = 1e-3) -> None:
        self.sink = sink
        self._level = level
        self._lock = threading.Lock()
        self._loud: list[tuple[float, float]] = []  # (first, last) loud sample of a block
        sd = import_sounddevice()
        resolved = resolve_device(f"{sink}.monitor", "input")
        if resolved.pulse_name is None:
            raise AudioDeviceError(
                f"{sink!r} is not a sound-server sink with a monitor",
                hint="name a PulseAudio sink (`pactl list short sinks`); "
                "scripts/virtual-audio.sh makes a virtual one, spk",
            )
        try:
            with routed("source", resolved.pulse_name):
                self._stream = sd.InputStream(
                    samplerate=_RATE,
                    channels=1,
                    dtype="float32",
                    blocksize=_BLOCK,
                    device=resolved.portaudio,
                    latency="low",
                    callback=self._callback,
                )
                self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(f"cannot record {sink}.monitor: {exc}") from exc

    def _callback(self, indata: np.ndarray, frames: int, when: Any, _status: Any) -> None:
        now = time.monotonic()
        # PortAudio stamps the block's first sample on the stream's clock; without a
        # stamp, the block ended just now.
        behind = when.currentTime - when.inputBufferAdcTime
        if not (when.inputBufferAdcTime > 0 and 0 <= behind < 1):
            behind = frames / _RATE
        start = now - behind
        loud = np.flatnonzero(np.abs(indata[:, 0]) >= self._level)
        if len(loud):
            with self._lock:
                first, last = int(loud[0]), int(loud[-1]) + 1
                self._loud.append((start + first / _RATE, start + last / _RATE))

    def last_loud(self, start: float, end: float) -> float | None:
        """The ``time.monotonic()`` of the last loud sample played between ``start`` and
        ``end`` (``None``: silence all along)."""
        with self._lock:
            times = [last for first, last in self._loud if last >= start and first < end]
        return min(max(times), end) if times else None

    def clear(self) -> None:
        with self._lock:
            self._loud.clear()

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # a vanished device may fail to close too
            log.debug("closing the monitor stream failed", exc_info=True)
