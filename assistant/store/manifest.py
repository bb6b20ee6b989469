"""The manifest every non-embedded model carries: ``<store>/<id>/model.toml``.

It records what the model is, where it came from and the size and sha256 of each file,
so ``assistant models verify`` can check it without the catalog, and the store can list
it without opening any weights.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..fsutil import atomic_write_text
from .catalog import KINDS, ModelFile, check_model_id, is_safe_relpath

__all__ = ["MANIFEST_NAME", "SOURCES", "Manifest", "find_main", "read_manifest", "write_manifest"]

MANIFEST_NAME = "model.toml"
"""File name of the manifest inside a model's folder."""

SOURCES = ("embedded", "pulled", "imported", "trained")
"""Where an installed model came from."""

_FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """The contents of a ``model.toml``."""

    id: str
    """Model id; always equal to the folder's name."""
    kind: str
    """One of ``KINDS``."""
    name: str
    """Human-readable name."""
    licence: str
    """Licence of the weights, as the user or the catalog stated it."""
    source: str
    """``pulled``, ``imported`` or ``trained``."""
    main: str
    """Main path relative to the folder: ``.`` for asr, else the .gguf / .onnx file."""
    files: tuple[ModelFile, ...]
    """Every file with its size and sha256 (``url`` is unused here)."""
    language: str = ""
    """Language code(s), when known."""
    homepage: str = ""
    """Where to read about the model, when known."""
    origin: str = ""
    """Where the files came from: the imported path, the training run, the pull URL."""
    created: str = ""
    """When the model was installed (ISO 8601, UTC)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for TOML."""
        return {
            "format": _FORMAT,
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "licence": self.licence,
            "source": self.source,
            "main": self.main,
            "language": self.language,
            "homepage": self.homepage,
            "origin": self.origin,
            "created": self.created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "files": [
                {"path": f.path, "size": f.size, "sha256": f.sha256}
                for f in self.files
                if f.size is not None and f.sha256 is not None
            ],
        }


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write ``folder/model.toml`` atomically; returns its path."""
    import tomli_w

    path = Path(folder) / MANIFEST_NAME
    atomic_write_text(path, tomli_w.dumps(manifest.to_dict()))
    return path


def read_manifest(folder: Path) -> Manifest:
    """Read and check ``folder/model.toml``; :class:`ModelError` naming the file if bad."""
    path = Path(folder) / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(
            f"cannot read model manifest {path}: {exc}",
            hint=f"remove the folder {folder} and import or pull the model again",
        ) from exc
    try:
        manifest = _from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"model manifest {path} is invalid: {exc}",
            hint=f"remove the folder {folder} and import or pull the model again",
        ) from exc
    if manifest.id != Path(folder).name:
        raise ModelError(
            f"model manifest {path} says id {manifest.id!r}, "
            f"but its folder is {Path(folder).name!r}",
            hint="rename the folder back, or remove it and import the model again",
        )
    return manifest


def _from_dict(data: dict[str, Any]) -> Manifest:
    def text(key: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise ValueError(f"{key!r} must be a string")
        return value

    files = []
    for item in data["files"]:
        path, size, sha = item["path"], item["size"], item["sha256"]
        if not isinstance(path, str) or not is_safe_relpath(path):
            raise ValueError(f"file path {path!r} is not a relative path inside the folder")
        if not isinstance(size, int) or not isinstance(sha, str) or len(sha) != 64:
            raise ValueError(f"file {path!r} needs an integer size and a 64-digit sha256")
        files.append(ModelFile(path=path, size=size, sha256=sha.lower(), url=None))
    kind, source = text("kind"), text("source")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    main = text("main")
    if main != "." and main not in {f.path for f in files}:
        raise ValueError(f"main file {main!r} is not among its files")
    return Manifest(
        id=check_model_id(text("id")),
        kind=kind,
        name=text("name"),
        licence=text("licence", "unknown"),
        source=source,
        main=main,
        files=tuple(files),
        language=text("language", ""),
        homepage=text("homepage", ""),
        origin=text("origin", ""),
        created=text("created", ""),
    )


_MAIN_SUFFIX = {
    "llm": (".gguf", ".onnx"),
    "voice": (".onnx",),
    "vad": (".onnx",),
    "voice-base": (".pth", ".pt", ".ckpt"),
    "wake": (".onnx",),
}
"""Main-file suffixes per kind (an llm is a GGUF, or an ONNX decoder from training; a
voice base is a PyTorch checkpoint: Coqui's ``.pth``, a voice-training run's ``.pt`` or a
Piper training ``.ckpt`` with its config.json)."""


def find_main(kind: str, paths: list[str] | tuple[str, ...], where: str) -> str:
    """The main path of a model (relative to its folder) among its file ``paths``.

    asr and embed models are folders (``.``); the others have exactly one main file
    (:data:`_MAIN_SUFFIX`).
    """
    if kind in ("asr", "embed"):
        return "."
    suffixes = _MAIN_SUFFIX[kind]
    suffix = " or ".join(suffixes)
    found = [p for p in paths if p.lower().endswith(suffixes)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(sorted(found))})"
        raise ModelError(
            f"{where}: a {kind} model needs exactly one {suffix} file, found {what}",
            hint=f"keep a single {suffix} file in the folder",
        )
    return found[0]
