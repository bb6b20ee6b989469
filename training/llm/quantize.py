"""Quantizing a GGUF with llama.cpp itself (``llama_model_quantize`` of llama-cpp-python):
no llama.cpp checkout, no build, no network."""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

from .errors import ExportError

__all__ = ["QUANT_TYPES", "check_quant_types", "quantize"]

log = logging.getLogger(__name__)

QUANT_TYPES = {
    "Q4_0": 2,
    "Q8_0": 7,
    "Q4_K_M": 15,
    "Q5_K_M": 17,
    "Q6_K": 18,
}
"""Quantization name -> llama.cpp's ``LLAMA_FTYPE_MOSTLY_*`` value."""


def check_quant_types(names: list[str]) -> list[str]:
    """Normalised names (upper case); :class:`ExportError` listing valid ones if unknown."""
    out = []
    for name in names:
        key = name.strip().upper()
        if key not in QUANT_TYPES and key != "F16":
            raise ExportError(
                f"unknown quantization {name!r}",
                hint=f"choose from F16, {', '.join(QUANT_TYPES)}",
            )
        out.append(key)
    return out


def quantize(source: Path, target: Path, kind: str, threads: int = 0) -> Path:
    """Write ``source`` (an F16 GGUF) quantized to ``kind`` as ``target`` (atomically)."""
    import llama_cpp

    kind = check_quant_types([kind])[0]
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[kind]
    params.nthread = threads or (os.cpu_count() or 1)
    try:
        code = llama_cpp.llama_model_quantize(
            str(source).encode(), str(tmp).encode(), ctypes.byref(params)
        )
        if code != 0 or not tmp.is_file():
            raise ExportError(
                f"llama.cpp could not quantize {source} to {kind} (code {code})",
                hint="check that the F16 GGUF loads: assistant chat on it",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("quantized %s -> %s (%s)", source, target, kind)
    return target
