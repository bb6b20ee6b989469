"""Audio in and out: reading and converting files, writing WAVs, devices, playback."""

from .devices import AudioDevice, list_devices, parse_device
from .io import ASR_RATE, Audio, read_audio, resample, to_mono, write_wav

__all__ = [
    "ASR_RATE",
    "Audio",
    "AudioDevice",
    "list_devices",
    "parse_device",
    "read_audio",
    "resample",
    "to_mono",
    "write_wav",
]
