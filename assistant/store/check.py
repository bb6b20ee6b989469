"""Structural checks of model files, one per kind: is this file what its kind needs,
complete and undamaged? Run before a model enters the store (import, register) and by
``assistant models verify`` beside the checksums.

Each check reads headers and indexes only (see :mod:`.formats`), never the weights, so
it costs milliseconds to tens of milliseconds even for a 100 MB model. A failure is a
:class:`ModelError` whose message is one line naming the file and what is wrong.

A kind's check is an entry in :data:`CHECKS`; a new kind adds its function there
(the ONNX, JSON and file helpers below are meant for reuse).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .formats import FormatError
from .formats.checkpoint import read_checkpoint
from .formats.ctranslate2 import read_ctranslate2
from .formats.gguf import read_gguf
from .formats.onnx import OnnxInfo, read_onnx

__all__ = [
    "CHECKS",
    "Check",
    "check_model",
    "companions",
    "read_json",
    "read_onnx_model",
    "require_inputs",
]

log = logging.getLogger(__name__)

Check = Callable[[Path], None]
"""A kind's check: takes the model's main path (a file, or the folder for ``asr``) and
raises :class:`ModelError` when it is not a usable model of that kind."""

_REIMPORT = "the file is damaged or incomplete: copy or download it again, then import it"


def _error(path: Path, problem: str, hint: str | None = _REIMPORT) -> ModelError:
    return ModelError(f"{path}: {problem}", hint=hint)


def _from_format(path: Path, exc: FormatError, other_hint: str) -> ModelError:
    """A reader's finding as an error: damage gets the re-copy hint, a file of another
    format ``other_hint``."""
    text = str(exc)
    damaged = text.startswith(("truncated", "damaged", "the file is empty"))
    return _error(path, text, hint=_REIMPORT if damaged else other_hint)


def _nonempty(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _error(path, "missing", hint=None) from None
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror})", hint=None) from None
    if size == 0:
        raise _error(path, "is empty (0 bytes)")
    return size


def read_json(path: Path, what: str) -> dict[str, Any]:
    """``path`` parsed as a JSON object, or :class:`ModelError` naming it as ``what``."""
    _nonempty(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _error(path, f"the {what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _error(path, f"the {what} is not a JSON object")
    return data


def read_onnx_model(path: Path) -> OnnxInfo:
    """``path`` checked as an ONNX model (protobuf walk, weights' sizes); its summary."""
    _nonempty(path)
    try:
        return read_onnx(path)
    except FormatError as exc:
        raise _from_format(path, exc, "check that it is an .onnx model file") from None
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror})", hint=None) from None


def require_inputs(path: Path, info: OnnxInfo, needed: Sequence[str], what: str) -> None:
    """Refuse an ONNX graph that lacks one of the ``needed`` inputs: another kind of model."""
    missing = [name for name in needed if name not in info.inputs]
    if missing:
        raise _error(
            path,
            f"not {what}: its inputs are {', '.join(info.inputs) or 'none'}; "
            f"{what} takes {', '.join(needed)}",
            hint="check --kind, or that this is the file you meant",
        )


def companions(kind: str, main: Path) -> list[Path]:
    """Files that must come with a model's main file (a voice's ``.onnx.json``)."""
    if kind in ("voice", "wake"):
        return [main.with_name(main.name + ".json")]
    if kind == "llm" and main.suffix.lower() == ".onnx":
        return [main.with_name(name) for name in ("tokenizer.json", _ONNX_LLM_CONFIG)]
    return []


# ---------------------------------------------------------------------------- llm

_ONNX_LLM_CONFIG = "onnx_config.json"  # assistant/llm/onnx.py


def _check_llm(path: Path) -> None:
    if path.suffix.lower() == ".onnx":  # a training export for the onnxruntime backend
        graph = read_onnx_model(path)
        require_inputs(path, graph, ("input_ids", "position_ids"), "an ONNX language model")
        for companion in companions("llm", path):
            read_json(companion, "ONNX language model's " + companion.name)
        return
    _nonempty(path)
    try:
        info = read_gguf(path)
    except FormatError as exc:
        raise _from_format(
            path, exc, "llm models must be llama.cpp GGUF files; convert the model to GGUF first"
        ) from None
    if not isinstance(info.metadata.get("general.architecture"), str):
        raise _error(
            path,
            "a GGUF file without general.architecture: not a llama.cpp model",
            hint="llm models must be llama.cpp GGUF files of a language model",
        )
    if info.tensors == 0:
        raise _error(path, "a GGUF file without tensors: no weights in it")


# ---------------------------------------------------------------------------- voice

_VOICE_INPUTS = ("input", "input_lengths", "scales")
_VITS_FORMAT = "assistant-vits"  # assistant/tts/vits.py CONFIG_FORMAT


def _check_voice(path: Path) -> None:
    config_path = companions("voice", path)[0]
    if not config_path.is_file():
        raise ModelError(
            f"the voice {path} has no config file beside it: {config_path.name} is missing",
            hint=f"put {config_path.name} (it comes with the voice) next to the .onnx file",
        )
    info = read_onnx_model(path)
    config = read_json(config_path, "voice config")
    require_inputs(path, info, _VOICE_INPUTS, "a Piper/VITS voice")
    if config.get("format") == _VITS_FORMAT:
        symbols = _field(config_path, config, ("tokenizer", "symbols"), list)
        _field(config_path, config, ("audio", "sample_rate"), int)
        _field(config_path, config, ("phonemizer", "voice"), str)
        _match_symbols(path, config_path, info, len(symbols), speakers=1)
        return
    symbols = _field(config_path, config, ("num_symbols",), int)
    speakers = _field(config_path, config, ("num_speakers",), int)
    _field(config_path, config, ("audio", "sample_rate"), int)
    _field(config_path, config, ("espeak", "voice"), str)
    id_map = _field(config_path, config, ("phoneme_id_map",), dict)
    ids: list[Any] = [i for value in id_map.values() if isinstance(value, list) for i in value]
    if not ids or not all(isinstance(i, int) and 0 <= i < symbols for i in ids):
        raise _error(
            config_path,
            f"phoneme_id_map holds ids outside 0..{symbols - 1} (num_symbols = {symbols})",
            hint="the config does not belong to this voice: use the .onnx.json that came with it",
        )
    _match_symbols(path, config_path, info, symbols, speakers)


def _field(path: Path, config: dict[str, Any], keys: tuple[str, ...], kind: type) -> Any:
    value: Any = config
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    positive = not isinstance(value, int) or value > 0
    if not isinstance(value, kind) or isinstance(value, bool) or not positive:
        raise _error(
            path,
            f"the voice config lacks a valid {'.'.join(keys)}",
            hint="use the .onnx.json that came with the voice",
        )
    return value


def _match_symbols(
    path: Path, config_path: Path, info: OnnxInfo, symbols: int, speakers: int
) -> None:
    """The config must describe this graph: its phoneme embedding has one row per symbol,
    and a multi-speaker voice takes a speaker id (``sid``)."""
    if (speakers > 1) != ("sid" in info.inputs):
        raise _error(
            config_path,
            f"does not match {path.name}: the config says {speakers} speaker(s), the model "
            + ("takes a speaker id" if "sid" in info.inputs else "takes no speaker id"),
            hint="use the .onnx.json that came with this voice",
        )
    # The phoneme table is the weight that the graph's `input` (phoneme ids) indexes.
    weights = {t.name: t.dims for t in info.initializers}
    rows = {weights[table][0] for table, ids in info.lookups if ids == "input" and table in weights}
    if rows and symbols not in rows:
        raise _error(
            config_path,
            f"does not match {path.name}: the config has {symbols} phoneme symbols, the "
            f"model's phoneme table has {', '.join(map(str, sorted(rows)))}",
            hint="use the .onnx.json that came with this voice",
        )


# ---------------------------------------------------------------------------- vad

_VAD_INPUTS = ("input", "h", "c")  # Silero VAD v5/v6 as faster-whisper ships it


def _check_vad(path: Path) -> None:
    info = read_onnx_model(path)
    require_inputs(path, info, _VAD_INPUTS, "a Silero VAD")


# ---------------------------------------------------------------------------- asr

_WHISPER_SPEC = "WhisperSpec"
_ASR_HINT = (
    "asr models are faster-whisper (CTranslate2) folders, e.g. Systran/faster-whisper-tiny.en; "
    "convert others with ct2-transformers-converter"
)


def _check_asr(folder: Path) -> None:
    if not folder.is_dir():
        raise _error(
            folder,
            "is a file; an asr model is a folder (CTranslate2 whisper)",
            hint="pass the folder that holds model.bin, config.json and tokenizer.json",
        )
    names = {p.name for p in folder.iterdir() if p.is_file()}
    missing = [n for n in ("model.bin", "config.json") if n not in names]
    vocabularies = sorted(n for n in names if n.startswith("vocabulary."))
    if "tokenizer.json" not in names and not vocabularies:
        missing.append("tokenizer.json or vocabulary.*")
    if missing:
        raise ModelError(
            f"{folder} is not a CTranslate2 whisper model: missing {', '.join(missing)}",
            hint=_ASR_HINT,
        )
    model = folder / "model.bin"
    _nonempty(model)
    try:
        info = read_ctranslate2(model)
    except FormatError as exc:
        raise _from_format(model, exc, _ASR_HINT) from None
    if info.spec and info.spec != _WHISPER_SPEC:
        raise _error(
            model,
            f"a CTranslate2 {info.spec} model, not a Whisper one ({_WHISPER_SPEC})",
            hint=_ASR_HINT,
        )
    read_json(folder / "config.json", "model config")
    if "tokenizer.json" in names:
        read_json(folder / "tokenizer.json", "tokenizer")
    for name in vocabularies:
        _nonempty(folder / name)


# ---------------------------------------------------------------------------- voice-base


def _check_voice_base(path: Path) -> None:
    _nonempty(path)
    try:
        read_checkpoint(path)
    except FormatError as exc:
        raise _from_format(
            path,
            exc,
            "a voice base is a VITS checkpoint: a voice-training run's .pt "
            "(RUN/checkpoints/step-N.pt) or a Coqui VITS model .pth",
        ) from None


# ---------------------------------------------------------------------------- wake

_WAKE_FORMAT = "assistant-wake"  # assistant/wake/custom.py FORMAT
_WAKE_HINT = (
    "a wake model is a custom wake word from `assistant train wakeword` (.onnx + .onnx.json)"
)


def _check_wake(path: Path) -> None:
    config_path = companions("wake", path)[0]
    if not config_path.is_file():
        raise ModelError(
            f"the wake model {path} has no config file beside it: {config_path.name} is missing",
            hint=f"put {config_path.name} (training writes it) next to the .onnx file",
        )
    info = read_onnx_model(path)
    require_inputs(path, info, ("embeddings",), "a custom wake word classifier")
    config = read_json(config_path, "wake model config")
    if config.get("format") != _WAKE_FORMAT:
        raise _error(config_path, f"not a wake model config (format is not {_WAKE_FORMAT!r})",
                     hint=_WAKE_HINT)
    phrase = config.get("phrase")
    if not isinstance(phrase, str) or not phrase.strip():
        raise _error(config_path, "the wake model config has no phrase", hint=_WAKE_HINT)
    threshold = config.get("threshold")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not (
        0 < threshold < 1
    ):
        raise _error(config_path, "the wake model config's threshold must be between 0 and 1",
                     hint=_WAKE_HINT)


# ---------------------------------------------------------------------------- embed

_EMBED_FILES = ("model.safetensors", "config.json", "tokenizer.json")
_EMBED_HINT = (
    "embed models are BERT sentence encoders in the sentence-transformers layout "
    "(e.g. sentence-transformers/all-MiniLM-L6-v2)"
)


def _check_safetensors(path: Path, size: int, read: Callable[[int, int], bytes]) -> None:
    """A safetensors file: an 8-byte header length, a JSON header, and every tensor's
    data inside the file (no weights are read)."""
    if size < 8:
        raise _error(path, f"truncated: {size} bytes, not even a safetensors header")
    length = int.from_bytes(read(0, 8), "little")
    if length <= 0 or 8 + length > size:
        raise _error(path, f"truncated or not safetensors: a {length}-byte header in {size} bytes")
    try:
        header = json.loads(read(8, length))
    except (UnicodeDecodeError, ValueError):
        raise _error(path, "not a safetensors file: its header is not JSON", _EMBED_HINT) from None
    if not isinstance(header, dict):
        raise _error(path, "not a safetensors file: its header is not a JSON object")
    end = max(
        (int(t["data_offsets"][1]) for k, t in header.items()
         if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t),
        default=0,
    )  # fmt: skip
    if 8 + length + end > size:
        raise _error(path, f"truncated: tensor data ends at byte {8 + length + end} "
                     f"but the file has {size}")  # fmt: skip


def _check_embed(folder: Path) -> None:
    import zipfile

    if not folder.is_dir():
        raise _error(folder, "an embed model is a folder", _EMBED_HINT)
    archive = folder / "model.zip"
    if archive.is_file():  # the embedded default keeps the model zipped in its package
        try:
            with zipfile.ZipFile(archive) as zf:
                names = {Path(n).name: n for n in zf.namelist()}
                missing = [n for n in _EMBED_FILES if n not in names]
                if missing:
                    raise _error(archive, f"not a sentence-embedding model: missing "
                                 f"{', '.join(missing)}", _EMBED_HINT)  # fmt: skip
                info = zf.getinfo(names["model.safetensors"])
                if info.compress_type == zipfile.ZIP_STORED:
                    with zf.open(info) as member:
                        def read(offset: int, count: int) -> bytes:
                            member.seek(offset)
                            return member.read(count)

                        _check_safetensors(archive, info.file_size, read)
        except zipfile.BadZipFile as exc:
            raise _error(archive, f"damaged zip archive: {exc}") from None
        return
    missing = [n for n in _EMBED_FILES if not (folder / n).is_file()]
    if missing:
        raise _error(folder, f"not a sentence-embedding model: missing {', '.join(missing)}",
                     _EMBED_HINT)  # fmt: skip
    weights = folder / "model.safetensors"
    with weights.open("rb") as handle:
        def read_file(offset: int, count: int) -> bytes:
            handle.seek(offset)
            return handle.read(count)

        _check_safetensors(weights, _nonempty(weights), read_file)
    read_json(folder / "config.json", "embedding model's config.json")


CHECKS: dict[str, Check] = {
    "embed": _check_embed,
    "asr": _check_asr,
    "llm": _check_llm,
    "voice": _check_voice,
    "vad": _check_vad,
    "voice-base": _check_voice_base,
    "wake": _check_wake,
}
"""The structural check of each kind of model."""


def check_model(kind: str, path: Path) -> None:
    """Check the model of ``kind`` whose main path is ``path``; :class:`ModelError`, one
    line naming the file and the problem, when it is not usable."""
    check = CHECKS.get(kind)
    if check is None:
        # A kind without its own check yet: at least its main file must hold something.
        log.warning("no structural check for %s models; checking only that it is not empty", kind)
        if not Path(path).is_dir():
            _nonempty(Path(path))
        return
    check(Path(path))
