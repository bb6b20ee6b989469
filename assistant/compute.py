"""Choosing the compute device, CPU or CUDA, for each engine (sound devices are in
:mod:`assistant.audio.devices`).

Each engine runs on a different library, and each library is built with or without CUDA
on its own: CTranslate2 (speech recognition), llama.cpp (language model) and onnxruntime
(voice, VAD). ``auto`` picks CUDA where that engine's library can use it and falls back
to the CPU with one log line saying why; an explicit ``cuda`` that cannot be honoured
falls back too, with a warning.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

__all__ = ["ENGINE_LIBRARIES", "CudaSupport", "cpu_fallbacks", "cuda_support", "resolve_device"]

log = logging.getLogger(__name__)

ENGINE_LIBRARIES = {
    "asr": "CTranslate2",
    "llm": "llama.cpp",
    "tts": "onnxruntime",
    "vad": "onnxruntime",
}
"""Which library runs each engine (and so decides whether CUDA is usable)."""


@dataclass(frozen=True)
class CudaSupport:
    """Whether one engine's library can run on CUDA here."""

    available: bool
    """True when the library reports a usable CUDA device or provider."""
    reason: str
    """Why not (or which device), for logs and ``assistant doctor``."""
    cuda_build: bool = False
    """True when the library was built with CUDA (the CUDA variant is installed), so
    running on the CPU is a fallback worth telling the user about."""


@functools.cache
def cuda_support(engine: str) -> CudaSupport:
    """Probe the library behind ``engine`` (one of :data:`ENGINE_LIBRARIES`) for CUDA."""
    if engine not in ENGINE_LIBRARIES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINE_LIBRARIES)}")
    try:
        if engine == "asr":
            import ctranslate2

            count = ctranslate2.get_cuda_device_count()
            if count:
                return CudaSupport(True, f"CTranslate2 sees {count} CUDA device(s)")
            return CudaSupport(False, "CTranslate2 sees no CUDA device")
        if engine == "llm":
            import llama_cpp

            if llama_cpp.llama_supports_gpu_offload():
                return CudaSupport(True, "llama.cpp was built with GPU offload")
            return CudaSupport(
                False,
                "llama-cpp-python was built without GPU support "
                '(rebuild with CMAKE_ARGS="-DGGML_CUDA=on")',
            )
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            # onnxruntime-gpu lists the provider even where CUDA's libraries are missing;
            # loading the provider's library is what tells.
            missing = _missing_cuda_libraries(onnxruntime.__file__)
            if missing:
                return CudaSupport(
                    False,
                    f"onnxruntime was built with CUDA but its CUDA libraries are missing "
                    f"({missing}); install CUDA 12 and cuDNN 9",
                    cuda_build=True,
                )
            return CudaSupport(True, "onnxruntime has the CUDA execution provider", True)
        return CudaSupport(
            False, "onnxruntime has no CUDA execution provider (install the `gpu` extra)"
        )
    except Exception as exc:  # a broken CUDA install must not stop the CPU path
        return CudaSupport(False, f"probing CUDA failed: {exc}")


def _missing_cuda_libraries(onnxruntime_file: str) -> str | None:
    """Why onnxruntime's CUDA provider library cannot load (e.g. "libcublasLt.so.12:
    cannot open shared object file"), or None when it loads."""
    import ctypes
    from pathlib import Path

    provider = Path(onnxruntime_file).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not provider.is_file():
        return f"{provider.name} is not installed"
    try:
        ctypes.CDLL(str(provider))
    except OSError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


def _gpu_expected(support: CudaSupport, requested: str) -> bool:
    # Asked for, or installed for: the user expects the GPU, so a CPU run needs a word.
    return requested == "cuda" or (requested == "auto" and support.cuda_build)


def cpu_fallbacks(requested: dict[str, str]) -> list[str]:
    """One line per engine that the user expects on the GPU (``cuda`` asked for, or a
    CUDA build installed with ``auto``) but that runs on the CPU, saying why; ``requested``
    maps engine (``asr``, ``llm``, ``tts``) to its device setting. Empty when none."""
    notes = []
    for engine, device in requested.items():
        if device == "cpu":
            continue
        support = cuda_support(engine)
        if not support.available and _gpu_expected(support, device):
            notes.append(f"{engine} ({ENGINE_LIBRARIES[engine]}): {support.reason}")
    return notes


def resolve_device(engine: str, requested: str) -> str:
    """Turn ``auto|cpu|cuda`` into ``cpu`` or ``cuda`` for ``engine``."""
    if requested == "cpu":
        return "cpu"
    if requested not in ("auto", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    support = cuda_support(engine)
    if support.available:
        return "cuda"
    if _gpu_expected(support, requested):
        log.warning(
            "%s: CUDA %s but unavailable (%s); using the CPU",
            engine,
            "requested" if requested == "cuda" else "build installed",
            support.reason,
        )
    else:
        log.info("%s: using the CPU: %s", engine, support.reason)
    return "cpu"
