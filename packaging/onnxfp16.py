"""An ONNX model's weights stored in float16, computed in float32: made once at bundle time
for the embedded Piper voice (63 MB -> 32 MB).

Every float32 initializer of 1024 values or more is stored as float16 and fed through a
``Cast`` to float32 placed at the start of the graph. Nothing else in the graph changes:
onnxruntime folds each Cast of a constant when it creates the session (its default
graph optimizations), so the voice runs the same float32 arithmetic as before, on
weights rounded to float16 (a relative error of at most 2^-11). For the Piper voice that
changes the waveform by about -36 dB (RMS, relative) and the words not at all:
tests/test_packaging.py checks that whisper hears the same words from both and that the
waveforms correlate above 0.999. Set BUNDLE_VOICE_WEIGHTS=original to keep the file as
it is.

Usage: python packaging/onnxfp16.py SRC.onnx DST.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from assistant.fsutil import atomic_write_bytes

__all__ = ["MIN_VALUES", "convert_file"]

MIN_VALUES = 1024
"""Smaller initializers stay float32 (they hold no size worth saving)."""
_SUFFIX = "__float16"


def convert_file(source: Path, target: Path) -> tuple[int, int]:
    """Write ``source`` with its large float32 weights stored as float16 to ``target``
    (atomically); returns the number of weights converted and the bytes written. Raises
    ``ValueError`` for a file that is not an ONNX model or has nothing to convert."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    try:
        model = onnx.load(str(source))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise ValueError(f"{source} is not an ONNX model: {exc}") from exc
    graph = model.graph
    initializers, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= MIN_VALUES:
            if init.name.endswith(_SUFFIX):
                raise ValueError(f"{source} is already converted ({init.name})")
            half = numpy_helper.from_array(
                numpy_helper.to_array(init).astype(np.float16), init.name + _SUFFIX
            )
            initializers.append(half)
            cast = helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT)
            cast.name = init.name + "/cast_to_float32"
            casts.append(cast)
        else:
            initializers.append(init)
    if not casts:
        raise ValueError(f"{source} has no float32 weight of {MIN_VALUES} values or more")
    nodes = list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # the Casts first: the node order stays topological
    onnx.checker.check_model(model)

    target = Path(target)
    atomic_write_bytes(target, model.SerializeToString())
    return len(casts), target.stat().st_size


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        count, size = convert_file(Path(argv[0]), Path(argv[1]))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[1]}: {count} weights stored in float16, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
