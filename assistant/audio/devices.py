"""Finding audio devices through sounddevice (PortAudio)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import AudioDeviceError

__all__ = ["AudioDevice", "import_sounddevice", "list_devices", "parse_device"]


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device."""

    index: int
    """PortAudio's index (changes when devices come and go)."""
    name: str
    """The device's name."""
    inputs: int
    """Input channels (0 for an output-only device)."""
    outputs: int
    """Output channels."""
    default_rate: float
    """The device's native sample rate."""
    is_default_input: bool = False
    is_default_output: bool = False


def import_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into an actionable error."""
    try:
        import sounddevice
    except OSError as exc:  # the wheel needs the system's libportaudio on Linux
        raise AudioDeviceError(
            f"the PortAudio library is missing ({exc})",
            hint="install it: sudo apt-get install libportaudio2 (or run `make setup`)",
        ) from exc
    return sounddevice


def list_devices() -> list[AudioDevice]:
    """Every device PortAudio sees right now."""
    sd = import_sounddevice()
    try:
        default_in, default_out = sd.default.device
        return [
            AudioDevice(
                index=i,
                name=d["name"],
                inputs=d["max_input_channels"],
                outputs=d["max_output_channels"],
                default_rate=d["default_samplerate"],
                is_default_input=i == default_in,
                is_default_output=i == default_out,
            )
            for i, d in enumerate(sd.query_devices())
        ]
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices: {exc}") from exc


def parse_device(setting: str) -> int | str | None:
    """Config value to a sounddevice device: '' → default, '3' → index 3, else a name."""
    setting = setting.strip()
    if not setting:
        return None
    return int(setting) if setting.isdigit() else setting
