"""The model catalog: every model the assistant knows, read from ``models/catalog.toml``.

The catalog is data only. It says what each model is (kind, licence, size), where its
files come from (a PyPI package that embeds them, or URLs on a hub) and the sha256 of
each file. Nothing here touches the network or imports a model package.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import site
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..config import APP_NAME
from ..errors import ModelError, ModelNotFoundError

__all__ = [
    "KINDS",
    "PIPELINE_KINDS",
    "Catalog",
    "CatalogEntry",
    "ModelFile",
    "catalog_path",
    "check_kind",
    "check_model_id",
    "is_safe_relpath",
    "is_source_catalog",
]

log = logging.getLogger(__name__)

PIPELINE_KINDS = ("asr", "llm", "voice", "vad")
"""The kinds the live pipeline uses, in its order; each has an embedded default."""
KINDS = (*PIPELINE_KINDS, "voice-base", "embed", "wake")
"""Every kind of model: the pipeline's, then ``voice-base``, a VITS checkpoint that voice
training fine-tunes from (never spoken with directly; no default), then ``embed``, a
sentence encoder for the document index (a folder: BERT safetensors + tokenizer.json,
or the ``model.zip`` of the embedded default)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MODEL_KEYS = {
    "id", "kind", "name", "licence", "homepage", "language", "size", "default",
    "package", "package_dir", "files",
}  # fmt: skip
_FILE_KEYS = {"path", "size", "sha256", "url"}


@dataclass(frozen=True)
class ModelFile:
    """One file of a catalog model."""

    path: str
    """Name inside the model's folder (POSIX separators, never absolute, never ``..``)."""
    size: int | None
    """Size in bytes, or ``None`` where the catalog does not state it."""
    sha256: str | None
    """Lowercase hex sha256, or ``None`` where no public source states it."""
    url: str | None
    """Where a pull fetches it: relative to ``models.hub_url``, or absolute; ``None`` for
    embedded models."""


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalog."""

    id: str
    """Unique id, used in the config and on the command line."""
    kind: str
    """One of :data:`KINDS`."""
    name: str
    """Human-readable name."""
    licence: str
    """SPDX id (or short text) of the weights' licence."""
    homepage: str
    """Where a person reads about the model."""
    language: str
    """Language code(s) the model handles; ``multi`` for many."""
    size: int | None
    """Total bytes of all files (what a pull downloads)."""
    default: bool
    """True for the embedded default of its kind."""
    package: str | None
    """PyPI distribution that embeds the files, or ``None`` for hub models."""
    package_dir: str | None
    """Folder inside that distribution holding the files."""
    files: tuple[ModelFile, ...]
    """The model's files, relative to its folder."""

    @property
    def embedded(self) -> bool:
        """True when the files come with a Python package rather than from a hub."""
        return self.package is not None


class Catalog:
    """The parsed catalog: an ordered, read-only collection of :class:`CatalogEntry`."""

    def __init__(self, entries: tuple[CatalogEntry, ...], path: Path | None = None) -> None:
        self.entries: tuple[CatalogEntry, ...] = tuple(entries)
        """Every model, in file order."""
        self.path = path
        """The file it was read from (``None`` when built in memory)."""
        self._by_id = {entry.id: entry for entry in self.entries}

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """Read and check a catalog file (default: :func:`catalog_path`)."""
        path = Path(path) if path is not None else catalog_path()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ModelError(
                f"cannot read the model catalog {path}: {exc}",
                hint="reinstall offline-voice-assistant or fix the file",
            ) from exc
        return cls.from_dict(data, path=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: Path | None = None) -> Catalog:
        """Build a catalog from parsed TOML, checking every entry."""
        where = str(path) if path else "catalog"
        unknown = sorted(set(data) - {"model"})
        if unknown:
            raise ModelError(f"{where}: unknown top-level key {unknown[0]!r}; only [[model]]")
        raw = data.get("model", [])
        if not isinstance(raw, list):
            raise ModelError(f"{where}: 'model' must be an array of tables ([[model]])")
        entries: list[CatalogEntry] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            entry = _parse_entry(item, f"{where}: model #{index + 1}")
            if entry.id in seen:
                raise ModelError(f"{where}: model id {entry.id!r} appears twice")
            seen.add(entry.id)
            entries.append(entry)
        for kind in KINDS:
            defaults = [e.id for e in entries if e.kind == kind and e.default]
            if len(defaults) > 1:
                raise ModelError(f"{where}: several defaults for kind {kind}: {defaults}")
        log.debug("catalog %s: %d models", where, len(entries))
        return cls(tuple(entries), path)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def find(self, model_id: str) -> CatalogEntry | None:
        """The entry with this id, or ``None``."""
        return self._by_id.get(model_id)

    def get(self, model_id: str) -> CatalogEntry:
        """The entry with this id; :class:`ModelNotFoundError` naming close ids if none."""
        entry = self._by_id.get(model_id)
        if entry is None:
            close = difflib.get_close_matches(model_id, list(self._by_id), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ModelNotFoundError(
                f"model {model_id!r} is not in the catalog",
                hint=hint + "`assistant models list --all` shows every known model",
            )
        return entry

    def of_kind(self, kind: str) -> tuple[CatalogEntry, ...]:
        """Every entry of one kind."""
        check_kind(kind)
        return tuple(e for e in self.entries if e.kind == kind)

    def default_for(self, kind: str) -> CatalogEntry:
        """The default (embedded) model of a kind."""
        for entry in self.of_kind(kind):
            if entry.default:
                return entry
        raise ModelNotFoundError(
            f"the catalog {self.path or ''} has no default {kind} model".replace("  ", " "),
            hint="reinstall offline-voice-assistant",
        )


def check_kind(kind: str) -> str:
    """Return ``kind`` if valid, else raise an error listing the valid kinds."""
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    return kind


def _source_catalog() -> Path:
    # In a source checkout (or an editable install, or a PyInstaller bundle that keeps the
    # same layout) the catalog sits in models/ beside the assistant package.
    # (this file is assistant/store/catalog.py; parents[2] is the folder above assistant/)
    return Path(__file__).resolve().parents[2] / "models" / "catalog.toml"


def is_source_catalog(path: Path) -> bool:
    """True when ``path`` is the catalog of a source checkout (so the store lives there)."""
    try:
        return Path(path).resolve() == _source_catalog()
    except OSError:
        return False


def catalog_path() -> Path:
    """Where the catalog is: ``$ASSISTANT_CATALOG``, the source checkout's, or the
    installed copy under ``<prefix>/share/offline-voice-assistant/``."""
    env = os.environ.get("ASSISTANT_CATALOG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ModelError(
                f"ASSISTANT_CATALOG is {env!r}, which is not a file",
                hint="point it at a catalog.toml or unset it to use the installed catalog",
            )
        return path
    candidates = [_source_catalog()]
    # A wheel installs the catalog as data-files: under the environment's prefix, or the
    # user base for `pip install --user`.
    for prefix in (sys.prefix, sysconfig.get_path("data"), site.getuserbase()):
        if prefix:
            candidates.append(Path(prefix) / "share" / APP_NAME / "catalog.toml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelError(
        "the model catalog is missing; looked in: " + ", ".join(map(str, candidates)),
        hint="reinstall offline-voice-assistant, or set ASSISTANT_CATALOG to a catalog.toml",
    )


def _parse_entry(item: Any, where: str) -> CatalogEntry:
    if not isinstance(item, dict):
        raise ModelError(f"{where} must be a table")
    model_id = item.get("id")
    if isinstance(model_id, str):
        where = f"{where.rsplit(':', 1)[0]}: model {model_id!r}"
    unknown = sorted(set(item) - _MODEL_KEYS)
    if unknown:
        raise ModelError(
            f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_MODEL_KEYS))}"
        )
    for key in ("id", "kind", "name", "licence"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ModelError(f"{where}: {key!r} must be a non-empty string")
    check_model_id(item["id"], where)
    if item["kind"] not in KINDS:
        raise ModelError(f"{where}: kind {item['kind']!r} is not one of {', '.join(KINDS)}")
    package, package_dir = item.get("package"), item.get("package_dir")
    if (package is None) != (package_dir is None):
        raise ModelError(f"{where}: 'package' and 'package_dir' go together")
    files = item.get("files")
    if not isinstance(files, list) or not files:
        raise ModelError(f"{where}: 'files' must be a non-empty array")
    parsed = tuple(_parse_file(f, f"{where}, file #{i + 1}") for i, f in enumerate(files))
    if package is None and any(f.url is None for f in parsed):
        raise ModelError(f"{where}: a hub model needs a 'url' on every file")
    size = _opt_int(item, "size", where)
    if size is None and all(f.size is not None for f in parsed):
        size = sum(f.size or 0 for f in parsed)
    return CatalogEntry(
        id=item["id"],
        kind=item["kind"],
        name=item["name"],
        licence=item["licence"],
        homepage=_opt_str(item, "homepage", where) or "",
        language=_opt_str(item, "language", where) or "",
        size=size,
        default=bool(item.get("default", False)),
        package=_opt_str(item, "package", where),
        package_dir=_opt_str(item, "package_dir", where),
        files=parsed,
    )


def _parse_file(item: Any, where: str) -> ModelFile:
    if not isinstance(item, dict):
        raise ModelError(f"{where} must be a table")
    unknown = sorted(set(item) - _FILE_KEYS)
    if unknown:
        raise ModelError(
            f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_FILE_KEYS))}"
        )
    path = item.get("path")
    if not isinstance(path, str) or not is_safe_relpath(path):
        raise ModelError(f"{where}: 'path' must be a relative path inside the model's folder")
    sha = _opt_str(item, "sha256", where)
    if sha is not None:
        sha = sha.lower()
        if not _SHA256.match(sha):
            raise ModelError(f"{where}: sha256 of {path} is not 64 hex digits")
    return ModelFile(
        path=path, size=_opt_int(item, "size", where), sha256=sha, url=_opt_str(item, "url", where)
    )


_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_model_id(model_id: str, where: str = "model id") -> str:
    """Return ``model_id`` if it is safe as a folder name and on a command line."""
    if not _MODEL_ID.match(model_id) or model_id.endswith("."):
        raise ModelError(
            f"{where}: id {model_id!r} is not valid",
            hint="use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return model_id


def is_safe_relpath(path: str) -> bool:
    """True for a non-empty relative POSIX path with no ``..`` and no empty parts."""
    pure = PurePosixPath(path)
    return (
        bool(path)
        and not pure.is_absolute()
        and "\\" not in path
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )


def _opt_str(item: dict[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ModelError(f"{where}: {key!r} must be a string")
    return value


def _opt_int(item: dict[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ModelError(f"{where}: {key!r} must be a non-negative integer")
    return value
