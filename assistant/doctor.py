"""Health checks behind ``assistant doctor``: each says what is wrong and how to fix it."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .compute import ENGINE_LIBRARIES, cuda_support
from .config import AsrConfig, Config, LlmConfig, default_config_path
from .errors import AssistantError

__all__ = ["RUNTIME_PACKAGES", "Check", "run_checks"]

RUNTIME_PACKAGES = (
    "numpy",
    "onnxruntime",
    "faster-whisper",
    "ctranslate2",
    "llama-cpp-python",
    "piper-tts",
    "sounddevice",
    "soundfile",
    "soxr",
    "platformdirs",
    "pymicro-wakeword",
    "pymicro-features",
    "livekit-wakeword",
)
"""Distributions the runtime needs (the embedded models are checked as models)."""

_SETUP_FIX = "run `make setup` (or: pip install -e .)"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    area: str
    """What was checked (Python, a package, a model, a device...)."""
    status: str
    """``ok``, ``warn`` (works, but worse) or ``fail`` (something will not work)."""
    detail: str
    """What was found."""
    fix: str = ""
    """What to do about a warn or fail."""


def run_checks(
    config: Config, store: object | None, config_path: Path | None = None
) -> list[Check]:
    """Every check, in display order. ``store`` is a ModelStore, or ``None`` if it could
    not be opened (then the models are reported as failing)."""
    checks = [_python()]
    checks += [_package(name) for name in RUNTIME_PACKAGES]
    checks.append(_config_file(config_path))
    checks += _models(config, store)
    checks += _audio()
    checks += [
        _cuda(engine, getattr(config, section).device)
        for engine, section in (("asr", "asr"), ("llm", "llm"), ("tts", "tts"))
    ]
    return checks


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check(
        "python",
        "ok" if ok else "fail",
        f"{platform.python_version()} at {sys.executable}",
        "" if ok else "use Python 3.11 or newer",
    )


def _package(name: str) -> Check:
    try:
        return Check(f"package {name}", "ok", version(name))
    except PackageNotFoundError:
        return Check(f"package {name}", "fail", "not installed", _SETUP_FIX)


def _config_file(path: Path | None) -> Check:
    path = path or default_config_path()
    if path.exists():
        return Check("config", "ok", str(path))
    return Check("config", "ok", f"{path} (not written yet: defaults in use)")


def _models(config: Config, store: object | None) -> list[Check]:
    active: tuple[tuple[str, str], ...] = (
        ("asr", config.asr.model),
        ("llm", config.llm.model),
        ("voice", config.tts.voice),
        ("vad", config.vad.model),
        ("turn", config.turn.model),
    )
    if store is None:
        return [
            Check(
                f"{kind} model", "fail", f"{model_id}: the model store cannot be opened", _SETUP_FIX
            )
            for kind, model_id in active
        ]
    checks = [Check("model store", "ok", str(store.root))]  # type: ignore[attr-defined]
    for kind in ("asr", "llm"):
        if getattr(config, kind).backend == "openai":
            active = tuple(a for a in active if a[0] != kind)
            checks.append(_remote(kind, getattr(config, kind)))
    for kind, model_id in active:
        try:
            model = store.resolve(kind, model_id)  # type: ignore[attr-defined]
            result = store.verify(model_id)  # type: ignore[attr-defined]
        except AssistantError as exc:
            checks.append(Check(f"{kind} model", "fail", exc.message, exc.hint or _SETUP_FIX))
            continue
        if result.ok:
            checks.append(Check(f"{kind} model", "ok", f"{model_id} ({model.source}), verified"))
        else:
            checks.append(
                Check(
                    f"{kind} model",
                    "fail",
                    f"{model_id}: " + "; ".join(result.problems),
                    f"re-install it: `assistant models remove {model_id}` then pull or import it "
                    "again (embedded models: `make setup`)",
                )
            )
    return checks


def _remote(kind: str, section: AsrConfig | LlmConfig) -> Check:
    """A remote engine: shown, since it is the one network use besides pulls (not
    contacted: the doctor opens no connection)."""
    env = f"ASSISTANT_{kind.upper()}_API_KEY"
    key = "with an API key" if section.api_key or os.environ.get(env) else "no API key"
    what = "audio" if kind == "asr" else "replies"
    return Check(
        f"{kind} model",
        "ok",
        f"remote: {section.model} at {section.base_url} ({key}); {what} go over the network",
    )


def _audio() -> list[Check]:
    from .audio.devices import list_devices

    try:
        devices = list_devices()
    except AssistantError as exc:
        return [Check("audio", "fail", exc.message, exc.hint or "")]
    inputs = [d for d in devices if d.inputs]
    outputs = [d for d in devices if d.outputs]

    def describe(found: list, default_attr: str) -> str:
        default = next((d.name for d in found if getattr(d, default_attr)), None)
        names = ", ".join(d.name for d in found[:4]) + (" …" if len(found) > 4 else "")
        return f"{len(found)} device(s): {names}" + (f"; default {default}" if default else "")

    fix_in = "connect a microphone; `assistant talk --input FILE` works without one"
    fix_out = "connect speakers or headphones; --output FILE writes replies to a WAV"
    return [
        Check(
            "audio input",
            "ok" if inputs else "warn",
            describe(inputs, "is_default_input") if inputs else "no input device",
            "" if inputs else fix_in,
        ),
        Check(
            "audio output",
            "ok" if outputs else "warn",
            describe(outputs, "is_default_output") if outputs else "no output device",
            "" if outputs else fix_out,
        ),
    ]


def _cuda(engine: str, requested: str) -> Check:
    support = cuda_support(engine)
    area = f"cuda {engine} ({ENGINE_LIBRARIES[engine]})"
    if support.available:
        return Check(area, "ok", support.reason)
    status = "warn" if requested == "cuda" else "ok"
    detail = f"CPU: {support.reason}"
    return Check(area, status, detail, "see README, GPU section" if status == "warn" else "")
