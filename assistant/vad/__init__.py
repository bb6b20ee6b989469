"""Voice activity detection: Silero VAD on onnxruntime, speech segments of a clip, and the
streaming endpointer that tells the pipeline when the user starts and stops talking."""

from .endpointer import Endpointer, EndpointEvent, SpeechEnded, SpeechStarted
from .segments import SpeechSegment, speech_segments, trim_to_speech
from .silero import SileroVad, Vad

__all__ = [
    "EndpointEvent",
    "Endpointer",
    "SileroVad",
    "SpeechEnded",
    "SpeechSegment",
    "SpeechStarted",
    "Vad",
    "speech_segments",
    "trim_to_speech",
]
