"""Readers that check the structure of model files without loading their weights.

Each reader walks a file format's headers and index (GGUF, ONNX's protobuf, CTranslate2's
``model.bin``, PyTorch checkpoints) and checks that everything they point at lies inside
the file, without reading the weights themselves. They know nothing about kinds or the
store: :mod:`assistant.store.check` turns their findings into user-facing errors.
"""

from __future__ import annotations

__all__ = ["FormatError"]


class FormatError(ValueError):
    """The file is not valid in the format being read; the text says what is wrong
    (without the file's path, which the caller adds)."""
