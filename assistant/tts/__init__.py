"""Speech synthesis: the ``Voice`` interface and its ONNX VITS engines."""

from .base import ReleasesMemory, SpeechChunk, Voice, synthesize_all
from .piper import PiperVoice, load_voice
from .vits import VitsTokenizer, VitsVoice, phonemize

__all__ = [
    "PiperVoice",
    "ReleasesMemory",
    "SpeechChunk",
    "VitsTokenizer",
    "VitsVoice",
    "Voice",
    "load_voice",
    "phonemize",
    "synthesize_all",
]
