"""Errors of LLM training: user-facing, with what failed, where, and what to do."""

from __future__ import annotations

from assistant.errors import AssistantError

__all__ = ["DataError", "ExportError", "TrainError"]


class TrainError(AssistantError):
    """A training step cannot run: bad options, a missing run folder, a missing base."""


class DataError(TrainError):
    """The training data is unusable; the message lists the bad lines (file:line: what)."""


class ExportError(TrainError):
    """The model cannot be written as GGUF (unsupported architecture, missing tensors)."""
