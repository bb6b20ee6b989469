"""ONNX models, read as protobuf wire format without the ``onnx`` package.

The runtime depends on onnxruntime but not on ``onnx`` (a training extra), and building
an onnxruntime session to check a file would load and optimise every weight (a second
or more, and the model's size in memory, for a 60 MB voice). Instead this walks the
protobuf encoding of ``ModelProto`` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto):
every field's tag and length must be valid and end inside the file, the graph must be
there, and each initializer's raw data must be as long as its shape and type say. Field
contents other than names, shapes and lengths are skipped, so this reads the index of
the file, not the weights.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import FormatError

__all__ = ["OnnxInfo", "Tensor", "read_onnx"]

# Wire types of the protobuf encoding.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

# TensorProto.DataType -> bits per element (strings, 8, have no fixed size).
_ELEMENT_BITS = {
    1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
    14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
}  # fmt: skip
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


@dataclass
class Tensor:
    """One initializer (a weight) of the graph."""

    name: str
    """Its name in the graph."""
    dims: tuple[int, ...]
    """Its shape."""
    data_type: int
    """``TensorProto.DataType`` (1 = float32, 10 = float16...)."""


@dataclass
class OnnxInfo:
    """What the protobuf of an ONNX model says about its graph."""

    ir_version: int = 0
    """ONNX IR version."""
    opsets: dict[str, int] = field(default_factory=dict)
    """Operator set version by domain (``""`` is the default domain)."""
    inputs: list[str] = field(default_factory=list)
    """Names of the graph's inputs (initializers excluded)."""
    outputs: list[str] = field(default_factory=list)
    """Names of the graph's outputs."""
    initializers: list[Tensor] = field(default_factory=list)
    """The graph's weights."""
    nodes: int = 0
    """Number of operator nodes in the main graph."""
    lookups: list[tuple[str, str]] = field(default_factory=list)
    """``(table, indices)`` inputs of each ``Gather`` node of the main graph: how an
    embedding table is read (a voice's phoneme table is gathered by its ``input``)."""


class _Wire:
    """Protobuf fields of one message occupying ``buf[start:end]``."""

    def __init__(self, buf: mmap.mmap | bytes, start: int, end: int, what: str) -> None:
        self.buf, self.start, self.end, self.what = buf, start, end, what

    def _varint(self, pos: int) -> tuple[int, int]:
        result = shift = 0
        buf, end = self.buf, self.end
        while True:
            if pos >= end:
                raise FormatError(f"truncated or damaged: {self.what} ends inside a number")
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7
            if shift > 63:
                raise FormatError(f"damaged: {self.what} holds an overlong number")

    def fields(self) -> Iterator[tuple[int, int, int, int]]:
        """``(field number, wire type, value or start, end)`` for each field; for a
        varint the value is in the third place and the fourth is unused."""
        pos = self.start
        while pos < self.end:
            at = pos
            key, pos = self._varint(pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise FormatError(f"not an ONNX model: invalid protobuf (field 0 at byte {at})")
            if wire == _VARINT:
                value, pos = self._varint(pos)
                yield number, wire, value, pos
                continue
            if wire == _BYTES:
                length, pos = self._varint(pos)
                start, pos = pos, pos + length
            elif wire == _FIXED64:
                start, pos = pos, pos + 8
            elif wire == _FIXED32:
                start, pos = pos, pos + 4
            else:
                raise FormatError(
                    f"not an ONNX model: invalid protobuf (wire type {wire} at byte {at}, "
                    f"in {self.what})"
                )
            if pos > self.end:
                raise FormatError(
                    f"truncated: {self.what} needs bytes up to {pos} but the file ends at "
                    f"byte {self.end}"
                    if self.end == len(self.buf)
                    else f"damaged: a field of {self.what} runs past its end"
                )
            yield number, wire, start, pos

    def sub(self, start: int, end: int, what: str) -> _Wire:
        return _Wire(self.buf, start, end, what)

    def text(self, start: int, end: int) -> str:
        return bytes(self.buf[start:end]).decode("utf-8", "replace")

    def packed(self, start: int, end: int) -> list[int]:
        values, wire = [], self.sub(start, end, self.what)
        pos = start
        while pos < end:
            value, pos = wire._varint(pos)
            values.append(value)
        return values


def read_onnx(path: Path) -> OnnxInfo:
    """Walk an ONNX file's protobuf and check it; :class:`FormatError` says what is
    wrong. External tensor data (``data_location = EXTERNAL``) must exist beside it."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise FormatError("the file is empty (0 bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _model(_Wire(buf, 0, size, "the model"), Path(path).parent)


def _model(wire: _Wire, folder: Path) -> OnnxInfo:
    info = OnnxInfo()
    graphs = 0
    for number, kind, a, b in wire.fields():
        if number == 1 and kind == _VARINT:
            info.ir_version = a
        elif number == 7 and kind == _BYTES:
            graphs += 1
            _graph(wire.sub(a, b, "the graph"), info, folder)
        elif number == 8 and kind == _BYTES:
            domain, version = "", 0
            for n, k, x, y in wire.sub(a, b, "an opset import").fields():
                if n == 1 and k == _BYTES:
                    domain = wire.text(x, y)
                elif n == 2 and k == _VARINT:
                    version = x
            info.opsets[domain] = version
    if graphs == 0:
        raise FormatError("not an ONNX model: it has no graph")
    if graphs > 1:
        raise FormatError(f"damaged: it holds {graphs} graphs")
    if info.ir_version == 0:
        raise FormatError("not an ONNX model: it states no IR version")
    return info


def _graph(wire: _Wire, info: OnnxInfo, folder: Path) -> None:
    inputs: list[str] = []
    for number, kind, a, b in wire.fields():
        if kind != _BYTES:
            continue
        if number == 1:
            info.nodes += 1
            _node(wire.sub(a, b, "a node"), info)
        elif number == 5:
            info.initializers.append(_tensor(wire.sub(a, b, "an initializer"), folder))
        elif number in (11, 12):
            name = ""
            for n, k, x, y in wire.sub(a, b, "a graph input or output").fields():
                if n == 1 and k == _BYTES:
                    name = wire.text(x, y)
            (inputs if number == 11 else info.outputs).append(name)
    weights = {t.name for t in info.initializers}
    # IR < 4 lists initializers among the inputs too; they are not inputs one feeds.
    info.inputs = [name for name in inputs if name not in weights]


def _node(wire: _Wire, info: OnnxInfo) -> None:
    inputs, op_type = [], ""
    for number, kind, a, b in wire.fields():
        if number == 1 and kind == _BYTES:
            inputs.append(wire.text(a, b))
        elif number == 4 and kind == _BYTES:
            op_type = wire.text(a, b)
    if op_type == "Gather" and len(inputs) == 2:
        info.lookups.append((inputs[0], inputs[1]))


def _tensor(wire: _Wire, folder: Path) -> Tensor:
    name, dims, data_type, raw, location = "", [], 0, None, 0
    external: dict[str, str] = {}
    for number, kind, a, b in wire.fields():
        if number == 1:
            dims.extend([a] if kind == _VARINT else wire.packed(a, b) if kind == _BYTES else [])
        elif number == 2 and kind == _VARINT:
            data_type = a
        elif number == 8 and kind == _BYTES:
            name = wire.text(a, b)
        elif number == 9 and kind == _BYTES:
            raw = b - a
        elif number == 13 and kind == _BYTES:
            key = value = ""
            for n, k, x, y in wire.sub(a, b, "external data").fields():
                if n == 1 and k == _BYTES:
                    key = wire.text(x, y)
                elif n == 2 and k == _BYTES:
                    value = wire.text(x, y)
            external[key] = value
        elif number == 14 and kind == _VARINT:
            location = a
    tensor = Tensor(name=name, dims=tuple(dims), data_type=data_type)
    if location == _EXTERNAL:
        _check_external(tensor, external, folder)
    elif raw is not None:
        expected = _nbytes(tensor)
        if expected is not None and raw != expected:
            raise FormatError(
                f"damaged: weight {name!r} of shape {list(tensor.dims)} should hold "
                f"{expected} bytes, it holds {raw}"
            )
    return tensor


def _nbytes(tensor: Tensor) -> int | None:
    bits = _ELEMENT_BITS.get(tensor.data_type)
    if bits is None:
        return None
    count = 1
    for dim in tensor.dims:
        count *= dim
    return -(-count * bits // 8)


def _check_external(tensor: Tensor, external: dict[str, str], folder: Path) -> None:
    location = external.get("location", "")
    path = folder / location
    if not location or Path(location).is_absolute() or ".." in Path(location).parts:
        raise FormatError(f"weight {tensor.name!r} has an invalid external location")
    try:
        size = path.stat().st_size
    except OSError:
        raise FormatError(
            f"weight {tensor.name!r} is stored in {location}, which is missing beside it"
        ) from None
    offset = int(external.get("offset", "0") or 0)
    length = external.get("length")
    needed = int(length) if length else (_nbytes(tensor) or 0)
    if offset + needed > size:
        raise FormatError(
            f"truncated: weight {tensor.name!r} needs bytes {offset}-{offset + needed} of "
            f"{location}, which has {size}"
        )
