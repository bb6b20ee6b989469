"""GGUF (llama.cpp) files: header, metadata and tensor index, checked against the size.

Layout (little-endian; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
``GGUF``, version u32, tensor count u64, metadata count u64, the metadata key/value
pairs, one info record per tensor (name, dims, ggml type, offset), then the tensor data,
starting at the next multiple of ``general.alignment`` (default 32). Only the header and
index are read (memory-mapped): for a 100 MB model that is a few MB of tokenizer
metadata, not the weights.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from . import FormatError

__all__ = ["GgufInfo", "read_gguf"]

MAGIC = b"GGUF"

# Metadata value types with a fixed size, by type id; 8 = string, 9 = array.
_SCALARS = {
    vtype: struct.Struct("<" + code)
    for vtype, code in {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
                        10: "Q", 11: "q", 12: "d"}.items()
}  # fmt: skip
_STRING, _ARRAY = 8, 9

# ggml tensor types: id -> (elements per block, bytes per block), from ggml's type
# traits (gguf-py's GGML_QUANT_SIZES). An id missing here is checked by offset only.
_QK_K = 256
_GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (_QK_K, 4 + _QK_K // 16 + _QK_K // 4),  # Q2_K
    11: (_QK_K, 2 + _QK_K // 4 + _QK_K // 8 + 12),  # Q3_K
    12: (_QK_K, 4 + _QK_K // 2 + 12),  # Q4_K
    13: (_QK_K, 4 + _QK_K // 2 + _QK_K // 8 + 12),  # Q5_K
    14: (_QK_K, 2 + _QK_K // 2 + _QK_K // 4 + _QK_K // 16),  # Q6_K
    15: (_QK_K, 4 + _QK_K + _QK_K // 8),  # Q8_K
    16: (_QK_K, 2 + _QK_K // 4),  # IQ2_XXS
    17: (_QK_K, 2 + _QK_K // 4 + _QK_K // 32),  # IQ2_XS
    18: (_QK_K, 2 + _QK_K // 4 + _QK_K // 8),  # IQ3_XXS
    19: (_QK_K, 2 + _QK_K // 8 + _QK_K // 16),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (_QK_K, 2 + _QK_K // 4 + _QK_K // 8 + _QK_K // 32 + 4),  # IQ3_S
    22: (_QK_K, 2 + _QK_K // 4 + _QK_K // 16),  # IQ2_S
    23: (_QK_K, 4 + _QK_K // 2 + _QK_K // 64),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (_QK_K, _QK_K // 8 + _QK_K // 16 + _QK_K // 32),  # IQ1_M
    30: (1, 2),  # BF16
    34: (_QK_K, 2 + 4 * 13),  # TQ1_0
    35: (_QK_K, 2 + 64),  # TQ2_0
    39: (32, 17),  # MXFP4
}
_MAX_DIMS = 4

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass
class GgufInfo:
    """What the header and index of a GGUF file say."""

    version: int
    """GGUF format version (2 or 3)."""
    metadata: dict[str, object] = field(default_factory=dict)
    """Scalar and string metadata values by key (arrays are left out)."""
    tensors: int = 0
    """Number of tensors."""
    data_offset: int = 0
    """Where the tensor data starts in the file."""


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def need(self, count: int, what: str) -> int:
        start = self.pos
        if count < 0 or start + count > self.size:
            raise FormatError(
                f"truncated: {what} needs bytes {start}-{start + count} but the file ends at "
                f"byte {self.size}"
            )
        self.pos = start + count
        return start

    def u32(self, what: str) -> int:
        value: int = _U32.unpack_from(self.buf, self.need(4, what))[0]
        return value

    def u64(self, what: str) -> int:
        value: int = _U64.unpack_from(self.buf, self.need(8, what))[0]
        return value

    def string(self, what: str) -> bytes:
        length = self.u64(what)
        start = self.need(length, what)
        return bytes(self.buf[start : start + length])

    def skip_strings(self, count: int, what: str) -> None:
        # The hot loop of the whole check (a tokenizer holds 50k-250k strings): locals
        # only, no method call per string.
        buf, pos, size, unpack = self.buf, self.pos, self.size, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                break
            pos += 8 + unpack(buf, pos)[0]
        else:
            if pos <= size:
                self.pos = pos
                return
        raise FormatError(f"truncated: {what} runs past the end of the file at byte {size}")

    def count(self, value: int, min_item: int, what: str) -> int:
        # A count that cannot fit in the rest of the file means a damaged header; say so
        # before looping over billions of items.
        if value * min_item > self.size - self.pos:
            raise FormatError(
                f"damaged or truncated: {what} says {value} items, more than the "
                f"{self.size - self.pos} bytes left can hold"
            )
        return value


def _value(reader: _Reader, vtype: int, key: str, depth: int = 0) -> object:
    """Read one metadata value: scalars and strings are returned, arrays skipped."""
    what = f"metadata {key!r}"
    if vtype in _SCALARS:
        scalar = _SCALARS[vtype]
        value: object = scalar.unpack_from(reader.buf, reader.need(scalar.size, what))[0]
        return value
    if vtype == _STRING:
        return reader.string(what).decode("utf-8", "replace")
    if vtype != _ARRAY:
        raise FormatError(f"damaged metadata: {what} has unknown value type {vtype}")
    if depth > 2:
        raise FormatError(f"damaged metadata: {what} nests arrays too deeply")
    item_type = reader.u32(what)
    count = reader.u64(what)
    if item_type in _SCALARS:
        item_size = _SCALARS[item_type].size
        reader.need(reader.count(count, item_size, what) * item_size, what)
    elif item_type == _STRING:
        reader.skip_strings(reader.count(count, 8, what), what)
    elif item_type == _ARRAY:
        for _ in range(reader.count(count, 12, what)):
            _value(reader, _ARRAY, key, depth + 1)
    else:
        raise FormatError(f"damaged metadata: {what} has unknown item type {item_type}")
    return None


def read_gguf(path: Path) -> GgufInfo:
    """Read and check the header and tensor index of a GGUF file: every tensor's data
    must lie inside the file. :class:`FormatError` says what is wrong."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise FormatError("the file is empty (0 bytes)")
        if size < 4:
            raise FormatError(f"not a GGUF file: only {size} bytes")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _read(buf, size)


def _read(buf: mmap.mmap, size: int) -> GgufInfo:
    if buf[:4] != MAGIC:
        raise FormatError(
            f"not a GGUF file: it starts with {bytes(buf[:4])!r}, not the magic bytes b'GGUF'"
        )
    reader = _Reader(buf, size)
    reader.pos = 4
    version = reader.u32("the header")
    if version not in (2, 3):
        raise FormatError(f"unsupported GGUF version {version} (llama.cpp reads 2 and 3)")
    n_tensors = reader.u64("the header")
    n_kv = reader.u64("the header")
    info = GgufInfo(version=version)
    for _ in range(reader.count(n_kv, 12, "the metadata count")):
        key = reader.string("a metadata key").decode("utf-8", "replace")
        vtype = reader.u32(f"metadata {key!r}")
        value = _value(reader, vtype, key)
        if value is not None:
            info.metadata[key] = value
    alignment = info.metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise FormatError(f"damaged metadata: general.alignment is {alignment!r}")
    tensors = []
    for index in range(reader.count(n_tensors, 24, "the tensor count")):
        name = reader.string(f"tensor #{index}'s name").decode("utf-8", "replace")
        what = f"tensor {name!r}"
        n_dims = reader.u32(what)
        if not 1 <= n_dims <= _MAX_DIMS:
            raise FormatError(f"damaged tensor index: {what} has {n_dims} dimensions")
        dims = [reader.u64(what) for _ in range(n_dims)]
        ggml_type = reader.u32(what)
        offset = reader.u64(what)
        tensors.append((name, dims, ggml_type, offset))
    data_offset = -(-reader.pos // alignment) * alignment
    info.tensors, info.data_offset = len(tensors), data_offset
    for name, dims, ggml_type, offset in tensors:
        _check_tensor(name, dims, ggml_type, offset, data_offset, alignment, size)
    return info


def _check_tensor(
    name: str, dims: list[int], ggml_type: int, offset: int, data_offset: int,
    alignment: int, size: int,
) -> None:  # fmt: skip
    what = f"tensor {name!r}"
    if offset % alignment:
        raise FormatError(f"damaged tensor index: {what} is not aligned to {alignment} bytes")
    start = data_offset + offset
    count = 1
    for dim in dims:
        count *= dim
    layout = _GGML_TYPES.get(ggml_type)
    if layout is None:
        # A type newer than this table: its size is unknown, its start must still be inside.
        nbytes = 0
    else:
        block, block_bytes = layout
        if dims[0] % block:
            raise FormatError(
                f"damaged tensor index: {what} has a row of {dims[0]} values, not a multiple "
                f"of its type's block of {block}"
            )
        nbytes = count // block * block_bytes
    if start + nbytes > size:
        raise FormatError(
            f"truncated: {what} needs bytes {start}-{start + nbytes} but the file ends at "
            f"byte {size}"
        )
