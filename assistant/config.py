"""Configuration: typed dataclasses, stored as TOML in the platform's config directory.

The file is plain data. ``Config.from_dict`` checks every key and type and names the
valid choices when something is wrong; ``Config.to_dict`` writes it back. Nothing here
reads argparse namespaces: the CLI builds a ``Config`` and passes it down.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from .errors import ConfigError
from .fsutil import atomic_write_text

__all__ = [
    "APP_NAME",
    "DEVICES",
    "TURN_MODES",
    "AsrConfig",
    "AudioConfig",
    "Config",
    "LlmConfig",
    "ModelsConfig",
    "ServeConfig",
    "TtsConfig",
    "TurnConfig",
    "VadConfig",
    "WakeConfig",
    "config_dir",
    "data_dir",
    "default_config_path",
    "load_config",
    "save_config",
]

APP_NAME = "offline-voice-assistant"

DEVICES = ("auto", "cpu", "cuda")
"""Valid values of every engine's ``device`` setting."""

TURN_MODES = ("eager", "balanced", "patient")
"""Valid values of ``turn.mode`` (:data:`assistant.turnmodel.MODES`)."""

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant running on the user's own computer. "
    "Answer in one to three short, plain sentences that read well aloud. "
    "No lists, no markdown, no emoji."
)


@dataclass
class AsrConfig:
    """Speech recognition (faster-whisper)."""

    model: str = "whisper-tiny.en"
    """Model id in the store (``assistant models list``)."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda``."""
    compute_type: str = "auto"
    """CTranslate2 compute type; ``auto`` is int8 on CPU, float16 on CUDA."""
    language: str = "en"
    """Spoken language code, or ``auto`` to detect it (multilingual models only)."""
    beam_size: int = 1
    """Beam width; 1 is greedy and fastest."""
    threads: int = 0
    """CPU threads; 0 uses one per core."""
    short_window: bool = True
    """Encode only the first 10 s of whisper's 30 s input window for short utterances
    (several times faster: see ``assistant.asr.window``; the end-of-turn waits are set
    for it); ``false``: the whole window, as whisper was trained."""
    backend: str = "local"
    """``local`` (the model from the store) or ``openai``: an OpenAI-compatible
    transcription endpoint at ``base_url``, with ``model`` naming the model there."""
    base_url: str = ""
    """The remote server's API root, e.g. ``http://gpu-box:8080/v1`` (backend openai)."""
    api_key: str = ""
    """Bearer key for the remote server (``$ASSISTANT_ASR_API_KEY`` overrides it)."""


@dataclass
class LlmConfig:
    """Language model (llama.cpp on a GGUF file)."""

    model: str = "smollm2-135m-instruct"
    """Model id in the store."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda`` (``cuda`` offloads all layers)."""
    context_size: int = 2048
    """Context window in tokens; history is trimmed to fit it."""
    max_tokens: int = 256
    """Longest reply in tokens."""
    temperature: float = 0.7
    """Sampling temperature; 0 is greedy and deterministic."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    seed: int = -1
    """Sampling seed; -1 picks a random one each run."""
    threads: int = 0
    """CPU threads; 0 picks one per physical core (on small machines one is left free
    while generating; the prompt is read on all of them)."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Instructions given to the model before every conversation."""
    backend: str = "local"
    """``local`` (the model file from the store) or ``openai``: any OpenAI-compatible
    server at ``base_url``, with ``model`` naming the model there. Off by default; the
    only network use besides explicit model pulls."""
    base_url: str = ""
    """The remote server's API root, e.g. ``http://gpu-box:8080/v1`` (backend openai)."""
    api_key: str = ""
    """Bearer key for the remote server; empty sends none (``$ASSISTANT_LLM_API_KEY``
    overrides it)."""
    timeout_s: float = 120.0
    """How long to wait for the remote server to answer (backend openai)."""


@dataclass
class TtsConfig:
    """Speech synthesis (an ONNX VITS voice)."""

    voice: str = "piper-en_US-joe-medium"
    """Voice id in the store."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda``."""
    speaking_rate: float = 1.0
    """1.0 is the voice's natural pace; 1.2 is 20% faster."""
    speaker: int | None = None
    """Speaker index for multi-speaker voices."""


@dataclass
class VadConfig:
    """Voice activity detection and endpointing (Silero VAD): the ``[vad]`` section, and
    the one record the segmentation in :mod:`assistant.vad` takes (the model id aside,
    every field is a rule of how speech probabilities become segments)."""

    model: str = "silero-vad-v6"
    """Model id in the store."""
    threshold: float = 0.5
    """Speech probability at which speech starts."""
    neg_threshold: float = 0.35
    """Probability below which a frame inside speech counts as silence."""
    min_speech_ms: int = 250
    """Shorter bursts are ignored as noise."""
    min_silence_ms: int = 700
    """Silence that ends an utterance (a segment, in a whole clip)."""
    pre_roll_ms: int = 300
    """Audio kept from before speech start, so the first syllable is not lost."""
    post_roll_ms: int = 200
    """Audio kept after speech end. Streaming keeps at most ``min_silence_ms`` of it: the
    end is known only after that much silence, and waiting longer would add latency."""

    def validate(self) -> None:
        """Check the thresholds and durations (:class:`ConfigError` names the bad one)."""
        for name in ("threshold", "neg_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"vad.{name} must be between 0 and 1, not {value}")
        if self.neg_threshold > self.threshold:
            raise ConfigError("vad.neg_threshold must not exceed vad.threshold")
        for name in ("min_speech_ms", "min_silence_ms", "pre_roll_ms", "post_roll_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"vad.{name} must be >= 0, not {getattr(self, name)}")


@dataclass
class TurnConfig:
    """When the user's turn is over: the learned end-of-turn model and how eager it is."""

    model: str = "turn-en"
    """End-of-turn model id in the store (kind ``turn``)."""
    mode: str = "patient"
    """``eager`` (answers sooner, cuts in more), ``balanced`` or ``patient`` (the default: it
    cuts in less often than the punctuation rule it replaced, and still answers sooner)."""


@dataclass
class AudioConfig:
    """Audio devices (sounddevice names or indexes; empty means the system default)."""

    input_device: str = ""
    """Microphone, by name or index."""
    output_device: str = ""
    """Speakers, by name or index."""
    echo_cancellation: str = "auto"
    """``auto`` (WebRTC when available, else half-duplex gating), ``webrtc``, ``gate``,
    or ``off`` (headphones: nothing to cancel)."""
    echo_delay_ms: int = 0
    """Hint for the echo canceller: extra delay from playback to microphone."""


@dataclass
class ModelsConfig:
    """Where models live and where ``assistant models pull`` fetches them from."""

    dir: str = ""
    """Model store directory; empty means the default (see ``assistant doctor``)."""
    hub_url: str = "https://huggingface.co"
    """Base URL that catalog paths are relative to."""


@dataclass
class GuiConfig:
    """The desktop app's own preferences (the runtime ignores them)."""

    close_to_tray: bool = False
    """Closing the window keeps the assistant running in the system tray."""


@dataclass
class WakeConfig:
    """Wake word: while asleep only a small detector listens, for one of ``words``."""

    enabled: bool = False
    """Wait for a wake word before each request (hands-free mode)."""
    words: list[str] = field(default_factory=lambda: ["hey_jarvis"])
    """Pretrained words (hey_jarvis, okay_nabu, alexa, hey_mycroft) or ids of ``wake``
    models in the store (``assistant train wakeword``)."""
    sensitivity: dict[str, float] = field(default_factory=dict)
    """Per word, 0..1; 0.5 (the default) is the model's own threshold, higher wakes
    more easily (and falsely more often)."""
    follow_up_s: float = 5.0
    """After a reply, speech within this many seconds needs no wake word."""
    chime: bool = True
    """Play a short chime when the wake word is heard."""


@dataclass
class ServeConfig:
    """``assistant serve``: the OpenAI-compatible HTTP API and the Wyoming services."""

    enabled: bool = False
    """The desktop app runs the server while it is open."""
    host: str = "127.0.0.1"
    """Address to bind; anything but loopback requires ``api_key``."""
    port: int = 8080
    """HTTP port of the OpenAI-compatible API."""
    api_key: str = ""
    """Bearer key clients must send (``$ASSISTANT_SERVE_API_KEY`` overrides it)."""
    wyoming_port: int = 0
    """TCP port of the Wyoming services (speech-to-text, voices, handle); 0 = off."""
    cors_origins: str = ""
    """Comma-separated origins allowed by CORS; empty sends no CORS headers."""
    max_body_mb: int = 25
    """Largest request body (uploads included), in MiB."""
    body_timeout_s: float = 30.0
    """A request body that takes longer to arrive is refused with 408."""
    request_timeout_s: float = 300.0
    """Longest a single request may run before its work is stopped."""
    max_queue: int = 64
    """Requests that may wait per engine; more are refused with 429."""
    asr_slots: int = 1
    """Transcriptions run at once (each engine is loaded once and shared)."""


@dataclass
class Config:
    """The whole configuration."""

    asr: AsrConfig = field(default_factory=AsrConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    gui: GuiConfig = field(default_factory=GuiConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> Config:
        """Build a config from plain data, checking every key and value."""
        return _from_dict(cls, data, source)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for TOML (``None`` values are left out: TOML has no null)."""
        return _drop_none(dataclasses.asdict(self))

    def validate(self) -> None:
        """Check values that have a fixed set of choices or a range."""
        for section in ("asr", "llm", "tts"):
            device = getattr(self, section).device
            if device not in DEVICES:
                raise ConfigError(
                    f"{section}.device is {device!r}; valid choices: {', '.join(DEVICES)}"
                )
        if self.turn.mode not in TURN_MODES:
            raise ConfigError(
                f"turn.mode is {self.turn.mode!r}; valid choices: {', '.join(TURN_MODES)}"
            )
        if not 0.0 < self.tts.speaking_rate <= 4.0:
            raise ConfigError(f"tts.speaking_rate must be in (0, 4], not {self.tts.speaking_rate}")
        if self.llm.context_size < 256:
            raise ConfigError(f"llm.context_size must be at least 256, not {self.llm.context_size}")
        if self.llm.max_tokens < 1 or self.llm.max_tokens >= self.llm.context_size:
            raise ConfigError(
                f"llm.max_tokens must be between 1 and llm.context_size - 1, "
                f"not {self.llm.max_tokens}"
            )
        echo_modes = ("auto", "webrtc", "gate", "off")
        if self.audio.echo_cancellation not in echo_modes:
            raise ConfigError(
                f"audio.echo_cancellation is {self.audio.echo_cancellation!r}; "
                f"valid choices: {', '.join(echo_modes)}"
            )
        if self.asr.beam_size < 1:
            raise ConfigError(f"asr.beam_size must be at least 1, not {self.asr.beam_size}")
        self.vad.validate()
        if self.wake.enabled and not self.wake.words:
            raise ConfigError("wake.enabled is true but wake.words is empty; name a wake word")
        for word, value in self.wake.sensitivity.items():
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"wake.sensitivity.{word} must be between 0 and 1, not {value}")
        if not 0.0 <= self.wake.follow_up_s <= 120.0:
            raise ConfigError(
                f"wake.follow_up_s must be between 0 and 120, not {self.wake.follow_up_s}"
            )
        _validate_remote(self)


def _validate_remote(config: Config) -> None:
    """The remote backends of ``[asr]`` and ``[llm]``, and the ``[serve]`` section."""
    for name in ("asr", "llm"):
        section = getattr(config, name)
        if section.backend not in ("local", "openai"):
            raise ConfigError(
                f"{name}.backend is {section.backend!r}; valid choices: local, openai"
            )
        if section.backend == "openai" and not section.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{name}.base_url must be an http:// or https:// URL with backend openai, "
                f"not {section.base_url!r}",
                hint='e.g. base_url = "http://gpu-box:8080/v1"',
            )
    serve = config.serve
    for name in ("port", "wyoming_port"):
        value = getattr(serve, name)
        if not 0 <= value <= 65535:
            raise ConfigError(f"serve.{name} must be a port number (0-65535), not {value}")
    for name in ("max_body_mb", "max_queue", "asr_slots"):
        if getattr(serve, name) < 1:
            raise ConfigError(f"serve.{name} must be at least 1, not {getattr(serve, name)}")


_T = TypeVar("_T")


def _from_dict(cls: type[_T], data: Any, where: str) -> _T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise _unknown_key(unknown[0], sorted(fields), where, section=cls is Config)
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{where}.{name}")
    return cls(**values)


def _unknown_key(key: str, valid: list[str], where: str, *, section: bool) -> ConfigError:
    """The error for a mistyped key or section, with the nearest valid name."""
    import difflib

    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if section:
        guess = f" (did you mean [{close[0]}]?)" if close else ""
        return ConfigError(
            f"unknown section [{key}]{guess}; the sections are: "
            + ", ".join(f"[{name}]" for name in valid)
        )
    guess = f" (did you mean {where}.{close[0]}?)" if close else ""
    return ConfigError(
        f"unknown setting {where}.{key}{guess}; valid keys in [{where}]: " + ", ".join(valid)
    )


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, where.split(".", 1)[-1])  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, not {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): _coerce(item, v, f"{where}.{k}") for k, v in value.items()}
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option in (str, bool) and type(value) is option:
            return value
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{where} must be {names}, not {value!r}")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def config_dir() -> Path:
    """The platform's config directory for this app (``~/.config/...`` on Linux)."""
    return platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    """The platform's data directory for this app (``~/.local/share/...`` on Linux)."""
    return platformdirs.user_data_path(APP_NAME)


def default_config_path() -> Path:
    """``$ASSISTANT_CONFIG`` if set, else ``config.toml`` in :func:`config_dir`."""
    env = os.environ.get("ASSISTANT_CONFIG")
    return Path(env) if env else config_dir() / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing default file gives the defaults.

    A path given explicitly must exist. ``$ASSISTANT_MODELS_DIR`` overrides
    ``models.dir`` (handy for tests and portable installs).
    """
    explicit = path is not None
    path = path or default_config_path()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"cannot read config file {path}: {exc}",
                hint="fix the file or delete it to go back to the defaults",
            ) from exc
        try:
            config = Config.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from exc
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    else:
        config = Config()
    env_models = os.environ.get("ASSISTANT_MODELS_DIR")
    if env_models:
        config.models.dir = env_models
    try:
        config.validate()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from exc
    return config


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write the config as TOML, atomically; returns the path written."""
    import tomli_w

    config.validate()
    path = path or default_config_path()
    atomic_write_text(path, tomli_w.dumps(config.to_dict()))
    return path
