"""Finding audio devices through sounddevice (PortAudio)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import AudioDeviceError

__all__ = [
    "AudioDevice",
    "ResolvedDevice",
    "import_sounddevice",
    "list_devices",
    "parse_device",
    "resolve_device",
]


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
    from .alsa import silence_alsa_messages

    silence_alsa_messages()  # before PortAudio starts: it prints while probing too
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


@dataclass(frozen=True)
class ResolvedDevice:
    """How to open the device a config value names."""

    portaudio: int | str | None
    """The PortAudio device to open (``None``: PortAudio's default)."""
    pulse_name: str | None = None
    """The sound server's sink or source to route the stream to (see :mod:`.pulse`)."""


def resolve_device(setting: str, kind: str) -> ResolvedDevice:
    """Config value to the device to open: '' → default, '3' → PortAudio index 3, a
    sound-server sink/source name or description ("Logitech USB Headset") → routed
    through PortAudio's "pulse" device, else a PortAudio name.

    Args:
        setting: ``audio.input_device`` or ``audio.output_device``.
        kind: ``"input"`` or ``"output"``.

    Raises:
        AudioDeviceError: the setting names a sound-server device that is not there now
            (unplugged), or no device at all.
    """
    chosen = parse_device(setting)
    if chosen is None or isinstance(chosen, int):
        return ResolvedDevice(chosen)
    from .pulse import find_pulse_device, pulse_devices

    pulse_kind = "sink" if kind == "output" else "source"
    found = find_pulse_device(chosen, pulse_kind)
    sd = import_sounddevice()
    if found is not None:
        return ResolvedDevice(_pulse_portaudio_device(sd, kind), found.name)
    try:
        sd.query_devices(chosen, kind)
    except ValueError:
        if pulse_devices(pulse_kind):  # a sound server runs, without this device now
            raise AudioDeviceError(
                f"the {kind} device {chosen!r} is not connected",
                hint="plug it in (it is used as soon as it appears), or pick another "
                f"audio.{kind}_device in Settings (`assistant devices` lists them)",
            ) from None
        raise AudioDeviceError(
            f"no {kind} device is called {chosen!r}",
            hint=f"pick another audio.{kind}_device (`assistant devices` lists them)",
        ) from None
    return ResolvedDevice(chosen)


def _pulse_portaudio_device(sd: Any, kind: str) -> int | str | None:
    """PortAudio's device that reaches the sound server ("pulse"), else its default."""
    channels = "max_output_channels" if kind == "output" else "max_input_channels"
    try:
        for index, device in enumerate(sd.query_devices()):
            if device["name"] == "pulse" and device[channels] > 0:
                return index
    except sd.PortAudioError:
        pass
    return None
