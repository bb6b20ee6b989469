"""Speech recognition: the ``Transcriber`` interface and its faster-whisper engine."""

from .base import Segment, Transcriber, Transcript
from .whisper import WhisperTranscriber

__all__ = ["Segment", "Transcriber", "Transcript", "WhisperTranscriber"]
