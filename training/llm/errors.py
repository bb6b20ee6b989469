"""Errors of LLM training: user-facing, with what failed, where, and what to do."""

from __future__ import annotations

from ..common import TrainError

__all__ = ["DataError", "ExportError", "TrainError"]


class DataError(TrainError):
    """The training data is unusable; the message lists the bad lines (file:line: what)."""


class ExportError(TrainError):
    """The model cannot be written as GGUF (unsupported architecture, missing tensors)."""
