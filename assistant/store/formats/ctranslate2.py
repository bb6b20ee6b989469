"""CTranslate2's ``model.bin``: the header and variable index, checked against the size.

Layout (little-endian; written by ``ctranslate2/specs/model_spec.py``, read by
``src/models/model.cc``): binary version u32; from version 2 the spec name (u16 length
counting a trailing NUL, then the bytes) and its revision u32; the variable count u32;
per variable its name, rank u8, dims u32 x rank, a dtype id u8 (version >= 4; older
files store the item size) and its byte count u32 (older: item count), then the data;
from version 3 the aliases (count u32, pairs of names). The data is skipped, not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import FormatError

__all__ = ["Ct2Info", "read_ctranslate2"]

# dtype id -> item size (ctranslate2/types.h: float32, int8, int16, int32, float16, bfloat16)
_ITEM_SIZE = {0: 4, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2}
_MAX_VERSION = 6


@dataclass
class Ct2Info:
    """What a ``model.bin`` header says."""

    binary_version: int
    """Format version of the file."""
    spec: str
    """Model specification, e.g. ``WhisperSpec``."""
    revision: int
    """Revision of that specification."""
    variables: int
    """Number of stored variables (weights and attributes)."""


class _File:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle, self.size = handle, size

    def take(self, count: int, what: str) -> bytes:
        start = self.handle.tell()
        if start + count > self.size:
            raise FormatError(
                f"truncated: {what} needs bytes {start}-{start + count} but the file ends at "
                f"byte {self.size}"
            )
        return self.handle.read(count)

    def skip(self, count: int, what: str) -> None:
        start = self.handle.tell()
        if start + count > self.size:
            raise FormatError(
                f"truncated: {what} needs bytes {start}-{start + count} but the file ends at "
                f"byte {self.size}"
            )
        self.handle.seek(count, 1)

    def number(self, code: str, what: str) -> int:
        fmt = struct.Struct("<" + code)
        value: int = fmt.unpack(self.take(fmt.size, what))[0]
        return value

    def string(self, what: str) -> str:
        length = self.number("H", what)
        raw = self.take(length, what)
        if not raw or raw[-1:] != b"\0":
            raise FormatError(f"damaged: {what} is not a NUL-terminated string")
        return raw[:-1].decode("utf-8", "replace")


def read_ctranslate2(path: Path) -> Ct2Info:
    """Read and check a ``model.bin``: every variable's data must lie inside the file and
    the file must end where its index says. :class:`FormatError` says what is wrong."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        if size == 0:
            raise FormatError("the file is empty (0 bytes)")
        f = _File(handle, size)
        version = f.number("I", "the header")
        if not 1 <= version <= _MAX_VERSION:
            raise FormatError(
                f"not a CTranslate2 model: binary version {version} (this reader knows 1 to "
                f"{_MAX_VERSION})"
            )
        spec, revision = "", 1
        if version >= 2:
            spec = f.string("the spec name")
            revision = f.number("I", "the header")
        count = f.number("I", "the variable count")
        if count * 8 > size:
            raise FormatError(f"damaged: the header says {count} variables, too many for the file")
        for index in range(count):
            name = f.string(f"variable #{index}'s name")
            what = f"variable {name!r}"
            rank = f.number("B", what)
            dims = struct.unpack(f"<{rank}I", f.take(4 * rank, what))
            elements = 1
            for dim in dims:
                elements *= dim
            if version >= 4:
                type_id = f.number("B", what)
                nbytes = f.number("I", what)
                item = _ITEM_SIZE.get(type_id)
                if item is not None and nbytes != elements * item:
                    raise FormatError(
                        f"damaged: {what} of shape {list(dims)} should hold "
                        f"{elements * item} bytes, its header says {nbytes}"
                    )
            else:
                item = f.number("B", what)
                nbytes = f.number("I", what) * item
            f.skip(nbytes, what)
        if version >= 3:
            for _ in range(f.number("I", "the alias count")):
                f.string("an alias")
                f.string("an alias")
        end = handle.tell()
        if end != size:
            raise FormatError(f"damaged: the index ends at byte {end}, the file at byte {size}")
        return Ct2Info(binary_version=version, spec=spec, revision=revision, variables=count)
