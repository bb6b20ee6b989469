"""faster-whisper (CTranslate2) speech recognition, always from a local model folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import ASR_RATE, Audio
from ..compute import resolve_device
from ..config import AsrConfig
from ..errors import ModelLoadError
from .base import Segment, Transcript
from .window import ShortWindow, trim_window

__all__ = ["WhisperTranscriber"]

log = logging.getLogger(__name__)

_REQUIRED_FILES = ("model.bin", "config.json")

SHORT_WINDOW = ShortWindow(minimum=1000)
"""The window ``asr.short_window`` encodes (see :mod:`assistant.asr.window`)."""


def max_new_tokens(seconds: float) -> int:
    """The most tokens whisper may write for ``seconds`` of audio (per 30 s window).

    Whisper can fall into a loop on a short utterance, all the more with a prompt: a
    0.65 s "Stop." heard again primed with command sentences came back as "Stop!" over
    and over, 7.3 s of writing (whisper stops at 448 tokens) while the user waited.
    People say about 5 tokens a second; 8 a second and 24 more leave room for any
    speech, and the cap of 200 keeps the longest prompt whisper takes (223 tokens)
    within its 448."""
    return min(200, 24 + int(8 * min(seconds, 30.0)))


def _model_class(window: ShortWindow | None) -> type[Any]:
    """faster-whisper's model, or one whose encoder sees only ``window`` of the input."""
    from faster_whisper import WhisperModel

    if window is None:
        return WhisperModel
    kept = window

    class ShortWindowWhisper(WhisperModel):  # type: ignore[misc]
        def encode(self, features: Any) -> Any:
            return super().encode(trim_window(features, kept))

    return ShortWindowWhisper


class WhisperTranscriber:
    """A faster-whisper model loaded from a CTranslate2 folder.

    Args:
        model_dir: folder with ``model.bin``, ``config.json`` and the tokenizer.
        device: ``auto``, ``cpu`` or ``cuda``.
        compute_type: CTranslate2 compute type; ``auto`` is int8 on CPU, float16 on CUDA.
        language: language code, or ``auto`` to detect it.
        beam_size: beam width (1 = greedy).
        threads: CPU threads, 0 = one per core.
        hotwords: words to favour (faster-whisper's ``hotwords``; ignored on a call
            given a ``prompt``).
        window: encode only the audio's part of the 30 s input window (see
            :mod:`assistant.asr.window`); ``None``: the whole window, as whisper was trained.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        language: str = "en",
        beam_size: int = 1,
        threads: int = 0,
        hotwords: str = "",
        window: ShortWindow | None = None,
    ) -> None:
        model_dir = Path(model_dir)
        # faster-whisper treats a path that is not a folder as a hub repo id and would
        # try to download it: check first, so a missing model is an error, not a fetch.
        if not model_dir.is_dir():
            raise ModelLoadError(model_dir, "the whisper model folder does not exist")
        missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
        if missing:
            raise ModelLoadError(model_dir, f"missing {', '.join(missing)}")
        self.device = resolve_device("asr", device)
        if compute_type == "auto":
            compute_type = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type
        self.language = None if language in ("", "auto") else language
        self.beam_size = beam_size
        self.hotwords = hotwords
        self.model_dir = model_dir
        self.window = window

        try:
            self._model = _model_class(window)(
                str(model_dir),
                device=self.device,
                compute_type=compute_type,
                # CTranslate2's own default oversubscribes small machines (measured on 2
                # cores: 0.28 s per utterance against 0.25 s with one thread per core).
                cpu_threads=threads or (os.cpu_count() or 1),
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadError(model_dir, str(exc).strip().splitlines()[0]) from exc
        log.info("whisper model %s loaded on %s (%s)", model_dir, self.device, compute_type)

    @classmethod
    def from_config(cls, model_dir: Path, config: AsrConfig) -> WhisperTranscriber:
        """Build from the ``[asr]`` config section and the resolved model folder."""
        return cls(
            model_dir,
            device=config.device,
            compute_type=config.compute_type,
            language=config.language,
            beam_size=config.beam_size,
            threads=config.threads,
            window=SHORT_WINDOW if config.short_window else None,
        )

    @property
    def multilingual(self) -> bool:
        """The model recognises more than English (not a ``.en`` model)."""
        return bool(getattr(self._model.model, "is_multilingual", True))

    def transcribe(
        self, audio: Audio, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """Transcribe an utterance; the audio is resampled to 16 kHz if needed.

        ``language`` overrides the configured one for this call; ``prompt`` is text
        that came before (names, spellings) to steer the recognition."""
        samples = audio.at_rate(ASR_RATE).samples
        segments_iter, info = self._model.transcribe(
            samples,
            language=language or self.language,
            initial_prompt=prompt or None,
            hotwords=None if prompt else (self.hotwords or None),
            beam_size=self.beam_size,
            # The caller has already cut the audio to speech with our own VAD.
            vad_filter=False,
            max_new_tokens=max_new_tokens(len(samples) / ASR_RATE),
        )
        segments = tuple(
            Segment(
                start=s.start,
                end=s.end,
                text=s.text.strip(),
                avg_logprob=s.avg_logprob,
                no_speech_prob=s.no_speech_prob,
            )
            for s in segments_iter
        )
        text = " ".join(s.text for s in segments if s.text)
        return Transcript(
            text=text, segments=segments, language=info.language, duration=audio.duration
        )

    def score(self, audio: Audio, texts: Sequence[str]) -> list[float]:
        """How well each of ``texts`` fits ``audio``: the log-likelihood (natural log,
        summed over its tokens and the end of the text) whisper's decoder gives it,
        teacher-forced on the audio's encoding (CTranslate2's ``align``, which reports
        each given token's probability). Higher fits better; a free transcription is
        close to the best the model can give. One encoding, all texts in one batch."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        if not texts:
            return []
        model = self._model
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language or "en",
        )
        features = model.feature_extractor(audio.at_rate(ASR_RATE).samples)
        frames = min(int(features.shape[-1]), 3000)
        stored = model.encode(pad_or_trim(features))
        if stored.device != "cpu":  # repeated on the host for the batch (a small array)
            stored = stored.to_device(ctranslate2.Device.cpu)
        encoded = np.asarray(stored)
        tokens = [[*tokenizer.encode(" " + t.strip()), tokenizer.eot] for t in texts]
        batch = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(encoded, len(tokens), axis=0))
        )
        start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        results = model.model.align(batch, start, tokens, frames)
        return [
            float(np.sum(np.log(np.maximum(np.asarray(r.text_token_probs), 1e-12))))
            for r in results
        ]
