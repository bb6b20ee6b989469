"""Speech synthesis: the ``Voice`` interface and its ONNX VITS engines."""

from .base import SpeechChunk, Voice, synthesize_all
from .piper import PiperVoice, load_voice

__all__ = ["PiperVoice", "SpeechChunk", "Voice", "load_voice", "synthesize_all"]
