"""Keeping the assistant from hearing itself: acoustic echo cancellation of the microphone
against what the speaker plays.

On open speakers the assistant's own voice reaches the microphone, delayed (the output and
input buffers plus the air, tens of milliseconds) and coloured by the room. Left alone it
would start a turn, or barge in on itself. An :class:`EchoCanceller` takes the playback as
the *reference* (:meth:`~EchoCanceller.add_reference`, as it is handed to the speaker) and
removes its echo from the microphone (:meth:`~EchoCanceller.process`), so that only the
user's voice is left for the VAD.

Two engines, both at 16 kHz float32 mono, any chunk size:

- :class:`WebRtcEchoCanceller`: WebRTC's audio processing module (AEC3), through the
  ``livekit`` package's wheels. It adapts to the delay and the room, and keeps the user's
  voice during double talk.
- :class:`HalfDuplexGate`: the fallback where ``livekit`` is missing. It mutes the
  microphone while the assistant talks, unless the microphone is clearly louder than the
  echo it expects, so a user who speaks up can still barge in.

Both work in 10 ms frames. The reference is queued and consumed one frame per microphone
frame, so a burst of reference (a whole sentence handed over at once) is taken as playing
from then on in real time, not all in the first 10 ms.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import AudioError, AudioFormatError
from .io import ASR_RATE

__all__ = [
    "ECHO_MODES",
    "EchoCanceller",
    "HalfDuplexGate",
    "PassThrough",
    "WebRtcEchoCanceller",
    "make_echo_canceller",
    "webrtc_available",
]

log = logging.getLogger(__name__)

ECHO_MODES = ("auto", "webrtc", "gate", "off")
"""Valid ``mode`` values of :func:`make_echo_canceller`."""

_FRAME_MS = 10  # WebRTC's APM takes exactly 10 ms frames; the gate uses the same
_MAX_REFERENCE_MS = 2000  # reference queued beyond this is stale: its sound is long gone
_WEBRTC_RATES = (8000, 16000, 32000, 48000)


@runtime_checkable
class EchoCanceller(Protocol):
    """Removes the echo of the playback from the microphone signal.

    ``add_reference`` and ``process`` may be called from different threads (the player's
    and the microphone's).
    """

    sample_rate: int
    """Rate of both the reference and the microphone samples (Hz)."""

    def add_reference(self, samples: np.ndarray) -> None:
        """Queue what is being played, shape ``(n,)`` float32, as it goes to the speaker."""
        ...

    def process(self, mic: np.ndarray) -> np.ndarray:
        """The microphone samples ``(n,)`` with the echo removed, same length ``(n,)``."""
        ...

    def reset(self) -> None:
        """Forget the queued reference, the buffers and what the engine has learned."""
        ...


def _mono(samples: np.ndarray, what: str) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2 and samples.shape[1] == 1:
        samples = samples[:, 0]
    if samples.ndim != 1:
        raise AudioFormatError(
            f"the echo canceller takes mono {what}, shape (n,), not {samples.shape}"
        )
    return samples


class PassThrough:
    """``mode="off"``: the microphone passes unchanged (headphones need nothing more)."""

    def __init__(self, sample_rate: int = ASR_RATE) -> None:
        self.sample_rate = sample_rate

    def add_reference(self, samples: np.ndarray) -> None:
        """Ignored."""

    def process(self, mic: np.ndarray) -> np.ndarray:
        """``mic`` itself, as float32 ``(n,)``."""
        return _mono(mic, "microphone audio")

    def reset(self) -> None:
        """Nothing to forget."""


class _Framed:
    """What both engines share: the reference queue, and cutting the microphone stream into
    frames while returning exactly as many samples as came in.

    ``process`` returns processed samples in order. When a chunk does not end on a frame
    boundary, its tail waits for the next chunk, and zeros stand in for it in this chunk's
    output: the output then lags the input by that many samples from there on (at most one
    frame, 10 ms, over the whole stream; none when chunks are whole frames).
    """

    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0 or sample_rate % 100:
            raise ValueError(
                f"echo cancellation needs a rate divisible by 100 Hz, not {sample_rate}"
            )
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * _FRAME_MS // 1000
        self._lock = threading.Lock()
        self._max_reference = sample_rate * _MAX_REFERENCE_MS // 1000
        self._clear()

    def _clear(self) -> None:
        self._reference: deque[np.ndarray] = deque()
        self._reference_len = 0
        self._ref_pending = np.zeros(0, np.float32)
        self._mic_pending = np.zeros(0, np.float32)
        self._out: deque[np.ndarray] = deque()
        self._out_len = 0

    def add_reference(self, samples: np.ndarray) -> None:
        """Queue played audio; it is consumed one frame per microphone frame.

        Hand audio over as it goes to the device (a block at a time), not a whole reply in
        advance: what runs more than 2 s ahead of the microphone is dropped as stale.
        """
        samples = _mono(samples, "reference audio")
        if len(samples) == 0:
            return
        with self._lock:
            buffered = np.concatenate([self._ref_pending, samples])
            whole = len(buffered) // self.frame_samples * self.frame_samples
            for start in range(0, whole, self.frame_samples):
                self._reference.append(buffered[start : start + self.frame_samples].copy())
            self._reference_len += whole
            self._ref_pending = buffered[whole:].copy()
            dropped = 0
            while self._reference_len > self._max_reference:
                self._reference.popleft()
                self._reference_len -= self.frame_samples
                dropped += 1
        if dropped:
            log.debug("echo reference ran %d frames ahead of the microphone: dropped", dropped)

    def _next_reference(self) -> np.ndarray | None:
        with self._lock:
            if not self._reference:
                return None
            self._reference_len -= self.frame_samples
            return self._reference.popleft()

    def process(self, mic: np.ndarray) -> np.ndarray:
        """Remove the echo from the next microphone chunk; same length out as in."""
        mic = _mono(mic, "microphone audio")
        buffered = np.concatenate([self._mic_pending, mic])
        whole = len(buffered) // self.frame_samples * self.frame_samples
        for start in range(0, whole, self.frame_samples):
            frame = buffered[start : start + self.frame_samples]
            out = self._process_frame(frame, self._next_reference())
            self._out.append(out)
            self._out_len += len(out)
        self._mic_pending = buffered[whole:].copy()
        return self._take(len(mic))

    def _take(self, n: int) -> np.ndarray:
        result = np.zeros(n, np.float32)
        # Zeros first when short: they are the lag described in the class docstring.
        at = n - min(n, self._out_len)
        while at < n:
            head = self._out[0]
            used = min(len(head), n - at)
            result[at : at + used] = head[:used]
            at += used
            if used == len(head):
                self._out.popleft()
            else:
                self._out[0] = head[used:]
            self._out_len -= used
        return result

    def reset(self) -> None:
        """Forget the queued reference and the buffered microphone audio."""
        with self._lock:
            self._clear()

    def _process_frame(self, mic: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """One frame, ``(frame_samples,)`` each; ``reference`` is ``None`` when nothing is
        queued (nothing is playing)."""
        raise NotImplementedError


def _to_pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def _import_livekit_rtc() -> Any:
    """``livekit.rtc`` (ImportError when it is not installed)."""
    from livekit import rtc

    return rtc


def _livekit_rtc() -> Any:
    """``livekit.rtc``, checked to work: building an APM loads the native library, which
    importing alone does not.

    Raises:
        AudioError: it is missing or does not start.
    """
    try:
        rtc = _import_livekit_rtc()
        rtc.AudioProcessingModule(echo_cancellation=True)
    except ImportError as exc:
        raise AudioError(
            f"WebRTC echo cancellation needs the livekit package ({exc})",
            hint="install it with `pip install livekit`, or set the echo mode to gate",
        ) from exc
    except (OSError, RuntimeError) as exc:
        raise AudioError(
            f"livekit's audio processing failed to start ({exc})",
            hint="reinstall it with `pip install --force-reinstall livekit`, or set the "
            "echo mode to gate",
        ) from exc
    return rtc


def webrtc_available() -> tuple[bool, str]:
    """Whether :class:`WebRtcEchoCanceller` can run here, and if not, why."""
    try:
        _livekit_rtc()
    except AudioError as exc:
        return False, exc.message
    return True, ""


class WebRtcEchoCanceller(_Framed):
    """WebRTC's echo canceller (AEC3) with a high-pass filter, via ``livekit.rtc``.

    Args:
        sample_rate: 8000, 16000, 32000 or 48000 Hz.
        delay_ms: hint for the delay from handing a reference sample over to its echo
            reaching :meth:`process` (output latency plus input latency, in ms). AEC3
            estimates the true delay itself; the hint only speeds up the start.
        noise_suppression: also run WebRTC's noise suppressor on the microphone.

    Raises:
        AudioError: ``livekit`` is missing or does not start (see :func:`webrtc_available`).
    """

    def __init__(
        self, sample_rate: int = ASR_RATE, delay_ms: int = 0, *, noise_suppression: bool = False
    ) -> None:
        if sample_rate not in _WEBRTC_RATES:
            raise ValueError(
                f"WebRTC echo cancellation runs at {', '.join(map(str, _WEBRTC_RATES))} Hz, "
                f"not {sample_rate}"
            )
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, not {delay_ms}")
        self._rtc = _livekit_rtc()
        self.delay_ms = delay_ms
        self._noise_suppression = noise_suppression
        self._silence = np.zeros(sample_rate * _FRAME_MS // 1000, np.int16)
        super().__init__(sample_rate)
        self._apm = self._new_apm()

    def _new_apm(self) -> Any:
        return self._rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=self._noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )

    def reset(self) -> None:
        """Forget the buffers and start a fresh engine (it re-learns the room)."""
        super().reset()
        self._apm = self._new_apm()

    def _process_frame(self, mic: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        rtc, n = self._rtc, self.frame_samples
        # Silence when nothing plays keeps the far end's clock running in step with the
        # near end's, which AEC3's delay estimator relies on.
        far = self._silence if reference is None else _to_pcm16(reference)
        self._apm.process_reverse_stream(rtc.AudioFrame(far.tobytes(), self.sample_rate, 1, n))
        self._apm.set_stream_delay_ms(self.delay_ms)  # WebRTC wants it before every frame
        near = rtc.AudioFrame(bytearray(_to_pcm16(mic).tobytes()), self.sample_rate, 1, n)
        self._apm.process_stream(near)  # in place
        pcm = np.frombuffer(near.data, dtype=np.int16, count=n)
        return pcm.astype(np.float32) / 32768.0


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


class HalfDuplexGate(_Framed):
    """The fallback: mute the microphone while the assistant is heard, unless the
    microphone is clearly louder than the echo expected from what was played.

    Per 10 ms frame: the *expected echo* is the loudest reference frame of the last
    ``hangover_ms`` (which covers the delay and the room's reverberation tail) times the
    echo path's gain. While it is above ``reference_floor_db``, a microphone frame passes
    only if it is ``margin_db`` louder than the expected echo; otherwise it is scaled by
    ``attenuation``. A passing frame keeps the gate open for ``hold_ms``, so the user's
    quieter syllables are not chopped. With nothing played for ``hangover_ms`` the
    microphone passes unchanged.

    The echo path's gain is learned: it starts at ``echo_gain_db`` (0 dB: the echo is
    assumed as loud as the playback itself, which is safe for ordinary speaker volumes)
    and follows the loudest echo seen in frames the gate kept shut, rising quickly and
    falling slowly; it never goes below ``min_echo_gain_db``.

    The trade-off, against real echo cancellation: while the assistant talks, the user is
    heard only when louder than its echo by ``margin_db`` (6 dB by default: speaking up,
    or being nearer the microphone than the speaker is), and not at all with a loud
    speaker next to the microphone; what passes still carries the echo, so the speech
    recogniser hears both voices. Until the gain is learned (the first second or so of
    playback) the user needs to be as loud as the playback plus the margin.

    Args:
        sample_rate: rate of both signals (Hz).
        hangover_ms: how long played audio keeps the gate armed after it is handed over.
        margin_db: how much louder than the expected echo the microphone must be to pass.
        echo_gain_db: initial echo path gain, microphone level over playback level.
        min_echo_gain_db: the lowest the learned gain may go.
        reference_floor_db: reference level (dBFS, RMS) below which it counts as silence.
        attenuation: factor applied to the microphone while shut (0 mutes it).
        hold_ms: how long the gate stays open after a frame that opened it.
    """

    def __init__(
        self,
        sample_rate: int = ASR_RATE,
        *,
        hangover_ms: int = 300,
        margin_db: float = 6.0,
        echo_gain_db: float = 0.0,
        min_echo_gain_db: float = -40.0,
        reference_floor_db: float = -50.0,
        attenuation: float = 0.0,
        hold_ms: int = 100,
    ) -> None:
        if hangover_ms < _FRAME_MS or hold_ms < 0:
            raise ValueError(
                f"hangover_ms must be >= {_FRAME_MS} and hold_ms >= 0, "
                f"not {hangover_ms} and {hold_ms}"
            )
        if not 0.0 <= attenuation <= 1.0:
            raise ValueError(f"attenuation must be in [0, 1], not {attenuation}")
        super().__init__(sample_rate)
        self.margin_db = margin_db
        self.reference_floor_db = reference_floor_db
        self.attenuation = attenuation
        self._initial_gain_db = echo_gain_db
        self._min_gain_db = min_echo_gain_db
        self._hangover_frames = hangover_ms // _FRAME_MS
        self._hold_frames = hold_ms // _FRAME_MS
        self._reset_state()

    def _reset_state(self) -> None:
        self._recent_ref_db: deque[float] = deque(maxlen=self._hangover_frames)
        self.echo_gain_db = self._initial_gain_db
        """The learned echo path gain (dB)."""
        self._hold = 0

    def reset(self) -> None:
        """Forget the buffers and the learned echo gain."""
        super().reset()
        self._reset_state()

    def _process_frame(self, mic: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        ref_db = -200.0 if reference is None else _db(float(np.mean(np.square(reference))))
        self._recent_ref_db.append(ref_db)
        loudest_ref = max(self._recent_ref_db)
        if loudest_ref < self.reference_floor_db:
            self._hold = 0
            return mic
        expected = loudest_ref + self.echo_gain_db
        mic_db = _db(float(np.mean(np.square(mic))))
        if mic_db >= expected + self.margin_db:
            self._hold = self._hold_frames
            return mic
        if self._hold > 0:
            self._hold -= 1
            return mic
        # Shut, so taken as echo: learn its gain. Fast up (a louder room than assumed must
        # not leak for long), slow down (pauses in the playback are not a quieter room).
        seen = mic_db - loudest_ref
        rate = 0.3 if seen > self.echo_gain_db else 0.01
        self.echo_gain_db = max(
            self._min_gain_db, self.echo_gain_db + rate * (seen - self.echo_gain_db)
        )
        return mic * self.attenuation


def make_echo_canceller(
    mode: str = "auto", sample_rate: int = ASR_RATE, delay_ms: int = 0
) -> EchoCanceller:
    """The echo canceller a config's ``mode`` asks for.

    Args:
        mode: ``auto`` (WebRTC when ``livekit`` is usable, else the gate, with one log line
            saying why), ``webrtc``, ``gate`` or ``off`` (pass through: for headphones).
        sample_rate: rate of the reference and the microphone (Hz).
        delay_ms: WebRTC's delay hint (see :class:`WebRtcEchoCanceller`).

    Raises:
        ValueError: ``mode`` is not one of :data:`ECHO_MODES`.
        AudioError: ``mode="webrtc"`` and ``livekit`` is not usable.
    """
    if mode not in ECHO_MODES:
        raise ValueError(
            f"echo cancellation mode must be one of {', '.join(ECHO_MODES)}, not {mode!r}"
        )
    if mode == "off":
        return PassThrough(sample_rate)
    if mode == "gate":
        return HalfDuplexGate(sample_rate)
    if mode == "webrtc":
        return WebRtcEchoCanceller(sample_rate, delay_ms)
    usable, why = webrtc_available()
    if usable and sample_rate in _WEBRTC_RATES:
        return WebRtcEchoCanceller(sample_rate, delay_ms)
    if usable:
        why = f"WebRTC does not run at {sample_rate} Hz"
    log.info("echo cancellation: using the half-duplex gate: %s", why)
    return HalfDuplexGate(sample_rate)
