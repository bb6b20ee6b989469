"""Silero VAD (v5/v6 ONNX graph) run with onnxruntime directly.

The graph takes a batch of windows and an LSTM state:

- ``input``: ``(n_windows, 576)`` float32, each window 64 samples of context (the tail of
  the previous 512-sample frame, zeros before the first) followed by 512 new samples at
  16 kHz;
- ``h``, ``c``: ``(1, 1, 128)`` float32 LSTM state, zeros at the start of a stream.

It returns ``speech_probs`` ``(n_windows,)`` and the state after the last window, ``hn``
and ``cn`` ``(1, 1, 128)``. The state flows through the windows of one call in order, so
a whole clip is one session call and gives exactly what feeding it frame by frame gives.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import AudioFormatError, ModelLoadError

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["CONTEXT_SAMPLES", "FRAME_SAMPLES", "SAMPLE_RATE", "SileroVad", "Vad"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""The only rate the 576-sample graph is made for (Hz)."""
FRAME_SAMPLES = 512
"""New samples per window: 32 ms at 16 kHz."""
CONTEXT_SAMPLES = 64
"""Samples of the previous frame prepended to each window."""
_STATE_SHAPE = (1, 1, 128)
# Windows per session call in `probabilities`: bounds the input tensor (10,000 windows is
# 320 s of audio, 23 MB) on long files while keeping one call for anything shorter.
_MAX_WINDOWS_PER_CALL = 10_000
_DEVICES = ("auto", "cpu", "cuda")


@runtime_checkable
class Vad(Protocol):
    """What the pipeline and the :class:`~assistant.vad.Endpointer` need from a VAD."""

    frame_samples: int
    """Samples per frame that ``__call__`` takes."""
    sample_rate: int
    """Rate of those samples (Hz)."""

    def reset(self) -> None:
        """Forget the stream so far (start of a new stream)."""

    def __call__(self, frame: np.ndarray) -> float:
        """Speech probability of the next frame, shape ``(frame_samples,)`` float32."""
        ...

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of every frame of a whole clip (a fresh stream; a last
        partial frame zero-padded)."""
        ...


class SileroVad:
    """Silero VAD on one 16 kHz stream; implements :class:`Vad`.

    Args:
        model_path: the ``silero_vad*.onnx`` file (v5 or v6: inputs ``input``, ``h``, ``c``).
        device: ``cpu``, ``cuda`` or ``auto``. ``cuda`` uses onnxruntime's CUDA provider
            when it has one and otherwise falls back to the CPU, saying why in the log.
            ``auto`` means the CPU: the graph is so small that a GPU launch per 32 ms
            frame costs more than it saves.
        threads: onnxruntime intra-op threads; one is plenty for 30 frames a second.

    Raises:
        ModelLoadError: the file is missing, not ONNX, or not a Silero VAD graph.
        ValueError: ``device`` is not one of the choices.
    """

    frame_samples: int = FRAME_SAMPLES
    sample_rate: int = SAMPLE_RATE

    def __init__(self, model_path: Path | str, *, device: str = "cpu", threads: int = 1) -> None:
        import onnxruntime as ort

        if device not in _DEVICES:
            raise ValueError(f"device is {device!r}; valid choices: {', '.join(_DEVICES)}")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelLoadError(
                self.model_path,
                "the file does not exist",
                hint="check the path, or run `assistant models list` to see installed models",
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; they surface as ModelLoadError anyway
        providers = _providers(device, ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=providers
            )
        except Exception as exc:  # onnxruntime's errors share no base class but Exception
            raise ModelLoadError(self.model_path, f"onnxruntime rejected it ({exc})") from exc
        _check_signature(self._session, self.model_path)
        if "CUDAExecutionProvider" in providers and (
            "CUDAExecutionProvider" not in self._session.get_providers()
        ):
            log.warning(
                "Silero VAD runs on the CPU: onnxruntime could not start its CUDA provider "
                "(CUDA or cuDNN libraries missing?)"
            )
        self.device = "cuda" if "CUDAExecutionProvider" in self._session.get_providers() else "cpu"
        self._h = np.zeros(_STATE_SHAPE, np.float32)
        self._c = np.zeros(_STATE_SHAPE, np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, np.float32)
        log.debug("loaded Silero VAD %s on %s", self.model_path, self.device)

    def reset(self) -> None:
        """Zero the LSTM state and the context: the next frame starts a new stream."""
        self._h = np.zeros(_STATE_SHAPE, np.float32)
        self._c = np.zeros(_STATE_SHAPE, np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """Speech probability of the next 512-sample frame of the stream.

        Args:
            frame: shape ``(512,)``, 16 kHz float32 in [-1, 1].
        """
        frame = np.asarray(frame, dtype=np.float32)
        if frame.shape != (FRAME_SAMPLES,):
            raise AudioFormatError(
                f"a VAD frame must have shape ({FRAME_SAMPLES},), not {frame.shape}",
                hint="buffer audio with the Endpointer, or use probabilities() on a whole clip",
            )
        window = np.concatenate([self._context, frame])[np.newaxis, :]  # (1, 576)
        probs, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = frame[-CONTEXT_SAMPLES:].copy()
        return float(probs[0])

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of every 512-sample frame of a whole clip.

        The streaming state is reset before and after, so the result equals feeding the
        frames one by one to a fresh instance. A last partial frame is zero-padded.

        Args:
            samples: shape ``(n,)``, 16 kHz float32.

        Returns:
            shape ``(ceil(n / 512),)`` float32; frame ``i`` covers samples
            ``[512 * i, 512 * (i + 1))``.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise AudioFormatError(f"VAD input must be mono (n,), not shape {samples.shape}")
        self.reset()
        if len(samples) == 0:
            return np.zeros(0, np.float32)
        n_frames = -(-len(samples) // FRAME_SAMPLES)
        padded = np.zeros(n_frames * FRAME_SAMPLES, np.float32)
        padded[: len(samples)] = samples
        frames = padded.reshape(n_frames, FRAME_SAMPLES)  # (n_frames, 512)
        windows = np.empty((n_frames, CONTEXT_SAMPLES + FRAME_SAMPLES), np.float32)
        windows[0, :CONTEXT_SAMPLES] = 0.0
        windows[1:, :CONTEXT_SAMPLES] = frames[:-1, -CONTEXT_SAMPLES:]
        windows[:, CONTEXT_SAMPLES:] = frames  # (n_frames, 576)
        h, c = self._h, self._c
        out = []
        for i in range(0, n_frames, _MAX_WINDOWS_PER_CALL):
            probs, h, c = self._session.run(
                None, {"input": windows[i : i + _MAX_WINDOWS_PER_CALL], "h": h, "c": c}
            )
            out.append(probs)
        self.reset()
        return np.concatenate(out).astype(np.float32, copy=False).reshape(n_frames)


def _providers(device: str, available: list[str]) -> list[str]:
    if device != "cuda":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    log.warning(
        "Silero VAD runs on the CPU: this onnxruntime has no CUDA provider "
        "(install the `gpu` extra, onnxruntime-gpu, to use the GPU)"
    )
    return ["CPUExecutionProvider"]


def _check_signature(session: ort.InferenceSession, path: Path) -> None:
    """Reject an ONNX file that is some other model (a voice, a v4 VAD with ``state``)."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    width = inputs.get("input", [None, None])[-1]
    if set(inputs) != {"input", "h", "c"} or width != CONTEXT_SAMPLES + FRAME_SAMPLES:
        raise ModelLoadError(
            path,
            f"not a Silero VAD v5/v6 graph (inputs {inputs}, outputs {outputs}; "
            f"expected input (n, {CONTEXT_SAMPLES + FRAME_SAMPLES}), h, c)",
        )
    if len(outputs) != 3:
        raise ModelLoadError(path, f"not a Silero VAD v5/v6 graph (outputs {outputs})")
