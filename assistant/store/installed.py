"""What an installed model is, and how the store finds one: an embedded model through its
package's metadata, any other through its folder's manifest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .catalog import CatalogEntry
from .manifest import Manifest, find_main

__all__ = ["InstalledModel", "embedded_model", "from_manifest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstalledModel:
    """A model whose files are on this machine."""

    id: str
    """Model id, as in the config and on the command line."""
    kind: str
    """``asr``, ``llm``, ``voice`` or ``vad``."""
    path: Path
    """What an engine loads: asr -> the folder; llm -> the .gguf; voice -> the .onnx
    (its .onnx.json beside it); vad -> the .onnx."""
    folder: Path
    """The folder holding all its files."""
    files: tuple[Path, ...]
    """Every file of the model (absolute paths; the manifest is not one of them)."""
    source: str
    """``embedded``, ``pulled``, ``imported`` or ``trained``."""
    licence: str
    """Licence of the weights."""
    size: int
    """Total bytes of its files."""
    name: str
    """Human-readable name."""


_OWN_DISTRIBUTION = "offline-voice-assistant"
_OWN_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds assistant/


def embedded_model(entry: CatalogEntry) -> InstalledModel | None:
    """The embedded model of ``entry`` if its package is installed with all its files.

    Found through the distribution's metadata; the package is never imported (one of
    them imports an unrelated CLI at import time).
    """
    assert entry.package is not None and entry.package_dir is not None
    if entry.package == _OWN_DISTRIBUTION:
        # Our own files (the turn model): beside this package, which also holds for an
        # editable install, where the distribution's files are the source tree.
        folder = (_OWN_ROOT / entry.package_dir).absolute()
    else:
        try:
            dist = distribution(entry.package)
        except PackageNotFoundError:
            return None
        folder = Path(str(dist.locate_file(entry.package_dir))).absolute()
    files = tuple(folder / f.path for f in entry.files)
    if not all(path.is_file() for path in files):
        log.warning("package %s is installed but lacks files of %s", entry.package, entry.id)
        return None
    main = find_main(entry.kind, [f.path for f in entry.files], f"catalog model {entry.id}")
    return InstalledModel(
        id=entry.id,
        kind=entry.kind,
        path=folder if main == "." else folder / main,
        folder=folder,
        files=files,
        source="embedded",
        licence=entry.licence,
        size=entry.size or sum(p.stat().st_size for p in files),
        name=entry.name,
    )


def from_manifest(folder: Path, manifest: Manifest) -> InstalledModel:
    """The model described by the manifest of ``folder``."""
    return InstalledModel(
        id=manifest.id,
        kind=manifest.kind,
        path=folder if manifest.main == "." else folder / manifest.main,
        folder=folder,
        files=tuple(folder / f.path for f in manifest.files),
        source=manifest.source,
        licence=manifest.licence,
        size=sum(f.size or 0 for f in manifest.files),
        name=manifest.name,
    )
