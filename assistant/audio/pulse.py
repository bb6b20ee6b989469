"""The sound server's own devices (PulseAudio, or PipeWire's PulseAudio service), by name.

PortAudio sees a desktop's sound server as one ALSA device ("pulse" / "default"), so a
USB headset or a webcam microphone cannot be told apart there. The server lists them
with names and descriptions ("Logitech USB Headset"); a stream opened on PortAudio's
"pulse" device goes to the one named in ``PULSE_SINK`` / ``PULSE_SOURCE`` when the
stream is created, which is how a device is chosen by name here. The variables are read
once per stream, so opening is serialised by :data:`routing_lock`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["PulseDevice", "find_pulse_device", "pulse_devices", "routed", "routing_lock"]

log = logging.getLogger(__name__)

routing_lock = threading.Lock()
"""Held while a stream is opened with ``PULSE_SINK``/``PULSE_SOURCE`` set."""

_ENV = {"sink": "PULSE_SINK", "source": "PULSE_SOURCE"}


@dataclass(frozen=True)
class PulseDevice:
    """One sink (output) or source (input) of the sound server."""

    name: str
    """The server's name for it (``alsa_output.usb-Logitech…``); stable across replugs."""
    description: str
    """What the desktop shows ("Logitech USB Headset")."""
    kind: str
    """``"sink"`` (output) or ``"source"`` (input)."""
    is_default: bool = False
    """The server's current default of its kind."""

    @property
    def is_monitor(self) -> bool:
        """A sink's monitor source (what a sink plays), not a microphone."""
        return self.kind == "source" and self.name.endswith(".monitor")


def pulse_devices(kind: str | None = None) -> list[PulseDevice]:
    """The server's sinks and sources now (empty without a server or ``pactl``).

    Args:
        kind: ``"sink"``, ``"source"`` or ``None`` for both.
    """
    if shutil.which("pactl") is None:
        return []
    kinds = [kind] if kind else ["sink", "source"]
    defaults = _defaults()
    devices: list[PulseDevice] = []
    for each in kinds:
        for entry in _pactl_json("list", f"{each}s"):
            name = str(entry.get("name", ""))
            if not name:
                continue
            devices.append(
                PulseDevice(
                    name=name,
                    description=str(entry.get("description") or name),
                    kind=each,
                    is_default=defaults.get(each) == name,
                )
            )
    return devices


def find_pulse_device(setting: str, kind: str) -> PulseDevice | None:
    """The device ``setting`` names (its name or description, any case), if present."""
    wanted = setting.strip().casefold()
    if not wanted:
        return None
    devices = pulse_devices(kind)
    for device in devices:
        if device.name.casefold() == wanted:
            return device
    for device in devices:
        if device.description.casefold() == wanted:
            return device
    return None


@contextlib.contextmanager
def routed(kind: str, name: str | None) -> Iterator[None]:
    """While open: streams created on the "pulse" device use device ``name``."""
    if name is None:
        yield
        return
    var = _ENV[kind]
    with routing_lock:
        old = os.environ.get(var)
        os.environ[var] = name
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = old


def _defaults() -> dict[str, str]:
    info = _pactl_json("info")
    if not isinstance(info, dict):
        return {}
    return {
        "sink": str(info.get("default_sink_name", "")),
        "source": str(info.get("default_source_name", "")),
    }


def _pactl_json(*args: str) -> list | dict:
    try:
        out = subprocess.run(
            ["pactl", "-f", "json", *args], capture_output=True, text=True, timeout=5, check=True
        ).stdout
        value = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("pactl %s failed: %s", " ".join(args), exc)
        return [] if args[0] == "list" else {}
    if isinstance(value, list | dict):
        return value
    return []
