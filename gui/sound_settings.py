"""Opening the desktop's own sound settings (where speakers and microphones are fixed)."""

from __future__ import annotations

import logging
import shutil
import subprocess

__all__ = ["NO_SOUND_SETTINGS", "open_sound_settings", "sound_settings_command"]

log = logging.getLogger(__name__)

_CANDIDATES = (
    ["pavucontrol"],
    ["pavucontrol-qt"],
    ["gnome-control-center", "sound"],
    ["systemsettings", "kcm_pulseaudio"],
    ["xfce4-mixer"],
)

NO_SOUND_SETTINGS = (
    "No sound settings program was found. Open your desktop's Sound settings (or install "
    "one: sudo apt install pavucontrol), check that speakers are connected and not muted, "
    "then choose them in Settings → Audio."
)
"""What to do when the desktop has no sound settings program to open."""


def sound_settings_command() -> list[str] | None:
    """The first sound settings program installed here, as a command line."""
    for command in _CANDIDATES:
        if shutil.which(command[0]):
            return command
    return None


def open_sound_settings() -> str | None:
    """Start the sound settings program; ``None`` when it started, else what to do."""
    command = sound_settings_command()
    if command is None:
        return NO_SOUND_SETTINGS
    try:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("cannot start %s: %s", command[0], exc)
        return f"{command[0]} did not start ({exc}). {NO_SOUND_SETTINGS}"
    return None
