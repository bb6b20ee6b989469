"""Int8 weights for a CTranslate2 model, made once at bundle time.

On the CPU the assistant runs whisper with ``compute_type="int8"``: CTranslate2 then
quantizes the float16 weights of the catalogued model every time it loads them, row by
row (scale = 127 / max|row|, round half to even). This script does the same quantization
once and writes a model.bin holding the int8 weights and their scales, half the size
(whisper tiny.en: 75.5 MB -> 39.5 MB), which CTranslate2 loads without converting. On the
CPU the result is the same model: tests/test_packaging.py checks that both transcribe
recordings with identical tokens and log-probabilities. (A CUDA build computes in float16
and keeps the original file: BUNDLE_ASR_WEIGHTS=original.)

The file format (CTranslate2's ``model.bin``, binary version 6, little-endian):
    u32 version, string spec name, u32 spec revision, u32 variable count, then per
    variable: string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, bytes;
    then u32 alias count and per alias: string alias, string target.
    A string is a u16 length (with the final NUL) and the UTF-8 bytes plus NUL.
    dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16.
Quantized here are the weights CTranslate2 quantizes at load time for int8: those of the
linear and embedding layers, every ``.../weight`` of rank 2. Convolution weights (rank 3)
could hold int8 too, but at load time CTranslate2 keeps them in float for int8 compute, so
they stay as they are (quantizing them changed whisper's log-probabilities).

Usage: python packaging/ct2int8.py SRC/model.bin DST/model.bin
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.fsutil import atomic_open

__all__ = ["Ct2FormatError", "quantize_file"]

VERSION = 6
_FLOAT32, _INT8, _FLOAT16, _BFLOAT16 = 0, 1, 4, 5
_ITEM_SIZE = {0: 4, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2}


class Ct2FormatError(ValueError):
    """The file is not a CTranslate2 model.bin this script understands."""


@dataclass
class _Variable:
    name: str
    shape: tuple[int, ...]
    dtype: int
    data: bytes


def _read(f: BinaryIO, fmt: str, where: Path) -> int:
    size = struct.calcsize(fmt)
    raw = f.read(size)
    if len(raw) != size:
        raise Ct2FormatError(f"{where} ends too early: truncated or not a CTranslate2 model")
    return int(struct.unpack(fmt, raw)[0])


def _read_string(f: BinaryIO, where: Path) -> str:
    raw = f.read(_read(f, "<H", where))
    if not raw.endswith(b"\0"):
        raise Ct2FormatError(f"{where}: a name is not NUL-terminated (not a CTranslate2 model)")
    return raw[:-1].decode("utf-8")


def _write_string(f: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8") + b"\0"
    f.write(struct.pack("<H", len(raw)))
    f.write(raw)


def _load(path: Path) -> tuple[str, int, list[_Variable], list[tuple[str, str]]]:
    with path.open("rb") as f:
        version = _read(f, "<I", path)
        if version != VERSION:
            raise Ct2FormatError(
                f"{path} is CTranslate2 model format version {version}; this script reads "
                f"version {VERSION} (convert the model with a current CTranslate2)"
            )
        spec = _read_string(f, path)
        revision = _read(f, "<I", path)
        variables = []
        for _ in range(_read(f, "<I", path)):
            name = _read_string(f, path)
            shape = tuple(_read(f, "<I", path) for _ in range(_read(f, "<B", path)))
            dtype = _read(f, "<B", path)
            count = _read(f, "<I", path)
            if dtype not in _ITEM_SIZE or count != _ITEM_SIZE[dtype] * int(np.prod(shape)):
                raise Ct2FormatError(f"{path}: variable {name} has a bad type or size")
            data = f.read(count)
            if len(data) != count:
                raise Ct2FormatError(f"{path} ends inside variable {name}: truncated")
            variables.append(_Variable(name, shape, dtype, data))
        aliases = [
            (_read_string(f, path), _read_string(f, path)) for _ in range(_read(f, "<I", path))
        ]
        if f.read(1):
            raise Ct2FormatError(f"{path} has data after its last alias: not a model.bin")
    return spec, revision, variables, aliases


def _as_float32(var: _Variable) -> np.ndarray:
    if var.dtype == _FLOAT32:
        return np.frombuffer(var.data, np.float32).reshape(var.shape)
    if var.dtype == _FLOAT16:
        return np.frombuffer(var.data, np.float16).reshape(var.shape).astype(np.float32)
    # bfloat16: the high half of a float32.
    high = np.frombuffer(var.data, np.uint16).astype(np.uint32) << 16
    return high.view(np.float32).reshape(var.shape)


def _quantize(var: _Variable) -> tuple[_Variable, _Variable]:
    """The int8 weight and its per-row float32 scale, as CTranslate2 computes them."""
    rows = _as_float32(var)
    amax = np.max(np.abs(rows), axis=1)
    amax[amax == 0] = 127.0
    amax = np.maximum(amax, np.float32(127) / np.finfo(np.float32).max)
    scale = (np.float32(127) / amax).astype(np.float32)
    values = np.rint(rows * scale[:, None]).astype(np.int8)
    return (
        _Variable(var.name, var.shape, _INT8, values.tobytes()),
        _Variable(var.name + "_scale", (var.shape[0],), _FLOAT32, scale.tobytes()),
    )


def _quantizable(var: _Variable) -> bool:
    return var.name.endswith("/weight") and len(var.shape) == 2 and var.dtype in (
        _FLOAT32, _FLOAT16, _BFLOAT16,
    )  # fmt: skip


def quantize_file(source: Path, target: Path) -> tuple[int, int]:
    """Write ``source``'s model with int8 weights to ``target`` (atomically); returns the
    number of variables quantized and the bytes written. Raises :class:`Ct2FormatError`
    for a file that is not a version-6 model.bin, or one already quantized."""
    spec, revision, variables, aliases = _load(Path(source))
    out: list[_Variable] = []
    quantized = 0
    for var in variables:
        if var.name.endswith("_scale"):
            raise Ct2FormatError(f"{source} is already quantized ({var.name})")
        if _quantizable(var):
            out.extend(_quantize(var))
            quantized += 1
        else:
            out.append(var)
    if not quantized:
        raise Ct2FormatError(f"{source} has no float weight to quantize")
    target = Path(target)
    with atomic_open(target, "wb") as f:
        f.write(struct.pack("<I", VERSION))
        _write_string(f, spec)
        f.write(struct.pack("<I", revision))
        f.write(struct.pack("<I", len(out)))
        for var in sorted(out, key=lambda v: v.name):
            _write_string(f, var.name)
            f.write(struct.pack("<B", len(var.shape)))
            f.write(struct.pack(f"<{len(var.shape)}I", *var.shape))
            f.write(struct.pack("<BI", var.dtype, len(var.data)))
            f.write(var.data)
        f.write(struct.pack("<I", len(aliases)))
        for alias, name in aliases:
            _write_string(f, alias)
            _write_string(f, name)
    return quantized, target.stat().st_size


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        count, size = quantize_file(Path(argv[0]), Path(argv[1]))
    except (OSError, Ct2FormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[1]}: {count} weights in int8, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
