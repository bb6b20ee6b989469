"""``assistant --self-test``: proves an installation works, with no microphone, speakers,
display or network.

It finds the default models (inside the bundle when the app is a PyInstaller bundle),
checks them against the catalog, reports CUDA per engine, loads every engine, runs one
spoken turn from a WAV that ships with the app (speech recognition, the language model,
the voice), and opens and closes the desktop app's main window on Qt's offscreen
platform. Each step prints one line; the first failure raises :class:`SelfTestError`.

The user's config, model store and history are left alone: the test runs the catalog's
default models with built-in settings, in a temporary data folder.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .config import Config
from .errors import AssistantError

__all__ = ["QUESTION_WAV", "SelfTestError", "StepResult", "is_frozen", "run_self_test"]

log = logging.getLogger(__name__)

QUESTION_WAV = Path(__file__).resolve().parent / "assets" / "selftest-question.wav"
"""The spoken question of the self-test ("What is the capital of France?", 16 kHz)."""


class SelfTestError(AssistantError):
    """A step of the self-test failed; the message names the step."""


@dataclass
class StepResult:
    """One step of the self-test."""

    name: str
    """Short name (``models``, ``engines``, ``turn``, ...)."""
    detail: str
    """What it did and found, one line."""
    seconds: float
    """How long it took."""


@dataclass
class SelfTestReport:
    """Every step that ran, in order."""

    steps: list[StepResult] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def self_test_config() -> Config:
    """Built-in settings on the catalog's default models; a short, repeatable reply."""
    config = Config()
    config.llm.temperature = 0.0
    config.llm.seed = 0
    config.llm.max_tokens = 32
    config.audio.echo_cancellation = "off"
    return config


def run_self_test(
    *, gui: bool = True, out: Callable[[str], None] = print, wav: Path | None = None
) -> SelfTestReport:
    """Run every step, printing one line each through ``out``.

    Args:
        gui: also open and close the main window (needs the GUI; skipped with a line
            saying so when PySide6 is not installed, e.g. a source install without the
            ``gui`` extra).
        out: where the lines go.
        wav: the spoken question (default :data:`QUESTION_WAV`).

    Raises:
        SelfTestError: a step failed (the message names it and why).
    """
    report = SelfTestReport()
    config = self_test_config()
    with _scratch_home() as home:
        out(f"self-test: assistant {__version__}, {_where()}")

        def step(name: str, action: Callable[[], str]) -> None:
            start = time.perf_counter()
            try:
                detail = action()
            except SelfTestError:
                raise
            except AssistantError as exc:
                raise SelfTestError(f"self-test step {name!r} failed: {exc.message}",
                                    hint=exc.hint) from exc  # fmt: skip
            except Exception as exc:
                raise SelfTestError(
                    f"self-test step {name!r} failed: {type(exc).__name__}: {exc}",
                    hint="run with --debug for the traceback; reinstall the app if a "
                    "library or model file is missing",
                ) from exc
            result = StepResult(name, detail, time.perf_counter() - start)
            report.steps.append(result)
            out(f"  ok  {name:<8} {result.seconds:6.2f} s  {detail}")

        from .store import ModelStore
        from .store.catalog import Catalog

        store = ModelStore(home / "models", Catalog.load(), hub_url=config.models.hub_url)
        step("models", lambda: _check_models(store, config))
        step("devices", _devices)
        holder: dict[str, object] = {}
        step("engines", lambda: _load_engines(config, store, holder))
        step("turn", lambda: _spoken_turn(config, holder, wav or QUESTION_WAV))
        if gui:
            checks = _plugged_checks()
            for name, check in checks:
                step(name, functools.partial(_run_check, check, config, holder, home))
            if not checks:
                step("window", lambda: "skipped: the GUI is not installed "
                                       "(pip install 'offline-voice-assistant[gui]')")  # fmt: skip
    out(f"self-test passed in {report.seconds:.1f} s")
    return report


def _where() -> str:
    if is_frozen():
        where = f"bundle {Path(sys.executable).resolve().parent}"
    else:
        where = f"source/installed package {Path(__file__).resolve().parents[1]}"
    return f"{where}, Python {platform.python_version()}, {platform.machine()}"


@contextmanager
def _scratch_home() -> Iterator[Path]:
    """A temporary data and config home, so nothing of the user's is read or written."""
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    with tempfile.TemporaryDirectory(prefix="assistant-selftest-") as tmp:
        home = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(home / "data")
        os.environ["XDG_CONFIG_HOME"] = str(home / "config")
        try:
            yield home
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _check_models(store: object, config: Config) -> str:
    from .store import ModelStore

    assert isinstance(store, ModelStore)
    ids = [config.vad.model, config.asr.model, config.llm.model, config.tts.voice]
    found = []
    for kind, model_id in zip(("vad", "asr", "llm", "voice"), ids, strict=True):
        model = store.resolve(kind, model_id)
        result = store.verify(model_id)
        if not result.ok:
            raise SelfTestError(
                f"model {model_id} does not match the catalog: {'; '.join(result.problems)}",
                hint="reinstall the app: a model file is damaged",
            )
        found.append(model)
    size = sum(m.size for m in found) / 1e6
    folders = sorted({str(_common_root(m.folder)) for m in found})
    return f"{', '.join(ids)} ({size:.0f} MB, sha256 checked) in {', '.join(folders)}"


def _common_root(folder: Path) -> Path:
    # The bundle's data folder (or site-packages) rather than four model folders.
    here = Path(sys.executable).resolve().parent if is_frozen() else None
    if here is not None and here in folder.parents:
        return here
    return folder.parent


def _devices() -> str:
    from .compute import ENGINE_LIBRARIES, cuda_support

    parts = []
    for engine, library in ENGINE_LIBRARIES.items():
        support = cuda_support(engine)
        parts.append(f"{engine}: {'CUDA' if support.available else 'CPU'}")
        if not support.available:
            log.info("%s (%s): %s", engine, library, support.reason)
    return ", ".join(parts)


def _load_engines(config: Config, store: object, holder: dict[str, object]) -> str:
    from .engines import Engines
    from .store import ModelStore

    assert isinstance(store, ModelStore)
    times = []
    loaded: dict[str, object] = {}
    for name, load in _loaders():
        start = time.perf_counter()
        loaded[name] = load(config, store)
        times.append(f"{name} {time.perf_counter() - start:.2f} s")
    holder["engines"] = Engines(**loaded)  # type: ignore[arg-type]
    return ", ".join(times)


def _loaders() -> list[tuple[str, Callable[..., object]]]:
    from .engines import load_chat_model, load_transcriber, load_turn_model, load_vad, load_voice

    return [("vad", load_vad), ("transcriber", load_transcriber),
            ("chat", load_chat_model), ("voice", load_voice),
            ("turn", load_turn_model)]  # fmt: skip


def _spoken_turn(config: Config, holder: dict[str, object], wav: Path) -> str:
    from .audio import read_audio
    from .engines import Engines
    from .oneshot import run_turn

    engines = holder["engines"]
    assert isinstance(engines, Engines)
    if not wav.is_file():
        raise SelfTestError(f"the self-test's question {wav} is missing", hint="reinstall the app")
    result = run_turn(read_audio(wav), engines, config, source=str(wav))
    heard = result.heard.text.strip()
    if not heard:
        raise SelfTestError(f"speech recognition heard nothing in {wav}")
    audio = result.reply.audio
    if not result.reply.text.strip() or audio is None or audio.duration <= 0:
        raise SelfTestError(
            f"no spoken reply to {heard!r} (reply text {result.reply.text!r})",
            hint="run `assistant talk -i QUESTION.wav --debug` to see where it stops",
        )
    reply = " ".join(result.reply.text.split())
    shown = reply[:60] + ("..." if len(reply) > 60 else "")
    return f"heard {heard!r}; replied {shown!r} ({audio.duration:.1f} s of speech)"


def _plugged_checks() -> list[tuple[str, Callable[[object, Config, Path], object]]]:
    """The checks other packages plug in (the desktop app's window: entry points
    ``assistant.selftest``); the runtime never imports them itself."""
    from . import plugins

    return [(name, check) for name, check in plugins.load("assistant.selftest")
            if callable(check)]  # fmt: skip


def _run_check(
    check: Callable[[object, Config, Path], object], config: Config, holder: dict[str, object],
    home: Path,
) -> str:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a window check, no display
    return str(check(holder["engines"], config, home))
