"""PyTorch checkpoints, checked without torch: a ``torch.save`` zip archive (PyTorch
1.6 and later) or the older pickle stream.

A zip checkpoint is checked through its central directory (at the end of the file, so a
truncated copy has lost it): it must list a ``data.pkl`` and every member must lie inside
the file. Of an old-style checkpoint only the first pickle, which holds PyTorch's magic
number, is read; nothing is unpickled (no code from the file runs).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

from . import FormatError

__all__ = ["read_checkpoint"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
_ZIP_MAGIC = b"PK\x03\x04"


def read_checkpoint(path: Path) -> str:
    """Check a PyTorch checkpoint; returns ``"zip"`` or ``"pickle"``, the format found.
    :class:`FormatError` says what is wrong."""
    size = Path(path).stat().st_size
    if size == 0:
        raise FormatError("the file is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head == _ZIP_MAGIC:
            _check_zip(handle, size)
            return "zip"
        if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
            handle.seek(0)
            _check_legacy(handle)
            return "pickle"
    raise FormatError(
        f"not a PyTorch checkpoint: it starts with {head!r}, neither a torch.save zip "
        "archive (b'PK\\x03\\x04') nor a pickle (b'\\x80')"
    )


def _check_zip(handle: io.BufferedReader, size: int) -> None:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FormatError(
            f"truncated or damaged: its zip directory cannot be read ({exc})"
        ) from None
    with archive:
        members = archive.infolist()
        if not any(m.filename == "data.pkl" or m.filename.endswith("/data.pkl") for m in members):
            raise FormatError("a zip archive but not a PyTorch checkpoint: it has no data.pkl")
        for member in members:
            if member.header_offset + member.compress_size > size:
                raise FormatError(
                    f"truncated: {member.filename} needs bytes up to "
                    f"{member.header_offset + member.compress_size}, the file ends at {size}"
                )


def _check_legacy(handle: io.BufferedReader) -> None:
    try:
        values = [arg for _, arg, _ in pickletools.genops(handle)]
    except (ValueError, EOFError) as exc:
        raise FormatError(f"truncated or damaged pickle ({exc})") from None
    if _LEGACY_MAGIC not in values:
        raise FormatError(
            "a pickle but not a PyTorch checkpoint: it does not start with torch's magic number"
        )
