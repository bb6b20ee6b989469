"""Exception types of the runtime.

Every error a user can cause (a bad file, a missing model, a missing device) is an
:class:`AssistantError`. Its message says what failed and on which file; its ``hint`` says
what to do about it. The CLI prints both on one line each and exits non-zero, without a
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AssistantError",
    "AudioDeviceError",
    "AudioError",
    "AudioFormatError",
    "ChecksumError",
    "ConfigError",
    "DownloadError",
    "EngineError",
    "ModelError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NoSpeechError",
]


class AssistantError(Exception):
    """Base of every user-facing error.

    Args:
        message: what failed, naming the file or model concerned.
        hint: what the user can do about it, or ``None`` when there is nothing to add.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(AssistantError):
    """The configuration file is unreadable or holds an invalid value."""


class ModelError(AssistantError):
    """Base of the model store's errors."""


class ModelNotFoundError(ModelError):
    """A model id is not installed or not in the catalog."""


class ModelLoadError(ModelError):
    """A model file exists but an engine could not load it (corrupt, truncated, wrong kind)."""

    def __init__(self, path: Path | str, reason: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(
            f"cannot load model file {self.path}: {reason}",
            hint=hint
            or "the file is damaged or not the right kind of model; run "
            "`assistant models verify` and re-import or re-pull it",
        )


class ChecksumError(ModelError):
    """A file's sha256 does not match the catalog or the store's manifest."""


class DownloadError(ModelError):
    """A pull failed: network error, HTTP error, or a full disk."""


class AudioError(AssistantError):
    """Base of audio errors."""


class AudioFormatError(AudioError):
    """A file is not readable audio, or audio has an unusable shape."""


class NoSpeechError(AudioError):
    """The input holds no speech (empty, silent, or noise only)."""


class AudioDeviceError(AudioError):
    """An audio device is missing, busy or failed."""


class EngineError(AssistantError):
    """An engine failed while running (not while loading)."""
