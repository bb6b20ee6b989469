"""Putting model files into the store safely: structural checks (:mod:`.check`), copying,
moving into place.

Every install (import, register, pull) builds the model's folder somewhere hidden under
the store's root and renames it to ``<root>/<id>`` only when it is complete, so a crash,
a bad file or a full disk never leaves a half-made model that the store would list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import ModelError
from ..fsutil import sha256_file
from .catalog import KINDS, ModelFile, check_model_id
from .check import check_model, companions
from .manifest import MANIFEST_NAME, Manifest, find_main, write_manifest

__all__ = [
    "STAGING_DIR",
    "collect_import",
    "copy_hashing",
    "derive_id",
    "ensure_free_space",
    "hash_into",
    "human_size",
    "install_copy",
    "list_files",
    "make_staging",
    "move_into_place",
    "sweep_leftovers",
    "validate_folder",
]

log = logging.getLogger(__name__)

STAGING_DIR = ".staging"
"""Hidden folder under the store's root where imports are assembled."""

_CHUNK = 1 << 20


def human_size(size: int | None) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as disks and hubs state sizes)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def derive_id(path: Path) -> str:
    """A model id from a file or folder name: lowercase, safe characters only.

    ``SmolLM2-135M-Instruct.Q4_1.gguf`` -> ``smollm2-135m-instruct.q4_1``.
    """
    name = path.name
    for suffix in (".onnx", ".gguf"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    model_id = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    model_id = re.sub(r"-{2,}", "-", model_id).strip("-._")
    if not model_id:
        raise ModelError(
            f"cannot make a model id from the name {path.name!r}", hint="choose one with --id"
        )
    return check_model_id(model_id[:128].rstrip("-._"))


def _check_main(kind: str, main: Path) -> list[Path]:
    """Check the model's structure (:mod:`.check`); returns the files that make it up."""
    check_model(kind, main)
    return [main, *companions(kind, main)]


def list_files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` as a POSIX relative path, manifest excluded."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            if rel != MANIFEST_NAME:
                found.append(rel)
    return found


def collect_import(path: Path, kind: str) -> tuple[list[tuple[Path, str]], str]:
    """Check that ``path`` holds a model of ``kind``; returns (source file, relative name)
    pairs to copy and the main path relative to the model's folder."""
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    if kind == "asr":
        if not path.is_dir():
            raise ModelError(
                f"{path} is a file; an asr model is a folder (CTranslate2 whisper)",
                hint="pass the folder that holds model.bin, config.json and tokenizer.json",
            )
        check_model(kind, path)
        return [(path / rel, rel) for rel in list_files(path)], "."
    if kind == "embed":
        if not path.is_dir():
            raise ModelError(
                f"{path} is a file; an embed model is a folder",
                hint="pass the folder that holds model.safetensors and tokenizer.json",
            )
        check_model(kind, path)
        return [(path / rel, rel) for rel in list_files(path)], "."
    if path.is_dir():
        # A folder holding one model file (e.g. a downloaded voice folder) is accepted too.
        path = path / find_main(kind, list_files(path), str(path))
    expected = {"llm": (".gguf",), "voice-base": (".pth", ".pt")}.get(kind, (".onnx",))
    if not path.name.lower().endswith(expected):
        what = " or ".join(expected)
        raise ModelError(
            f"{path} is not a {what} file; a {kind} model is a {what} file",
            hint=f"check --kind ({', '.join(KINDS)})",
        )
    files = _check_main(kind, path)
    return [(f, f.name) for f in files], path.name


def validate_folder(folder: Path, kind: str) -> tuple[list[str], str]:
    """Check a folder (e.g. written by training) as a model of ``kind``; returns its files
    and its main path, both relative to it."""
    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder")
    files = list_files(folder)
    if kind == "asr":
        check_model(kind, folder)
        return files, "."
    if kind == "embed":
        check_model(kind, folder)
        return files, "."
    main = find_main(kind, files, str(folder))
    _check_main(kind, folder / main)
    return files, main


def ensure_free_space(
    folder: Path, needed: int, error: type[ModelError] = ModelError, what: str = "the model"
) -> None:
    """Raise ``error`` saying how much is needed when ``folder``'s disk lacks ``needed``
    bytes (checked up front, so nothing is half-written)."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise error(
            f"not enough disk space for {what}: needs {human_size(needed)}, "
            f"{human_size(free)} free on the disk of {folder}",
            hint="free some space, or set models.dir in the config to a bigger disk",
        )


def copy_hashing(src: Path, dst: Path) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` and hash it in the same pass; returns (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while block := fin.read(_CHUNK):
            fout.write(block)
            digest.update(block)
            size += len(block)
    shutil.copystat(src, dst, follow_symlinks=True)
    return size, digest.hexdigest()


def sweep_leftovers(root: Path, max_age_s: float = 86400.0) -> None:
    """Delete what a crashed import or removal left: old staging and trash folders."""
    now = time.time()
    candidates = list((root / STAGING_DIR).glob("*")) + list(root.glob(".trash-*"))
    for folder in candidates:
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > max_age_s:
                log.info("deleting left-over %s", folder)
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def make_staging(root: Path, model_id: str) -> Path:
    """A fresh hidden folder under the root, on the same disk, to assemble a model in."""
    base = root / STAGING_DIR
    base.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(root)
    return Path(tempfile.mkdtemp(prefix=f"{model_id}.", dir=base))


def move_into_place(folder: Path, target: Path) -> None:
    """Rename a finished model folder to ``target`` in one step."""
    # On POSIX, rename() silently replaces an empty target folder; check first so an
    # existing model (even an empty folder someone made) is never clobbered.
    if target.exists():
        raise ModelError(
            f"{target} already exists",
            hint=f"remove it first (`assistant models remove {target.name}`) or choose --id",
        )
    try:
        os.rename(folder, target)
    except OSError as exc:
        raise ModelError(f"cannot move {folder} to {target}: {exc}") from exc
    log.info("installed %s", target)


def install_copy(root: Path, sources: list[tuple[Path, str]], manifest: Manifest) -> Manifest:
    """Copy ``sources`` (file, name in the model folder) into ``<root>/<id>`` with its
    manifest; built in a staging folder and renamed into place, so a failure (a bad
    file, a full disk) leaves nothing behind. Returns the manifest with the checksums."""
    root.mkdir(parents=True, exist_ok=True)
    ensure_free_space(root, sum(src.stat().st_size for src, _ in sources))
    staging = make_staging(root, manifest.id)
    try:
        hashed = []
        for src, rel in sources:
            dst = staging / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                size, sha = copy_hashing(src, dst)
            except OSError as exc:
                raise ModelError(
                    f"cannot copy {src} into the store: {exc}; nothing was installed",
                    hint=f"check free disk space and permissions of {root}",
                ) from exc
            hashed.append(ModelFile(path=rel, size=size, sha256=sha, url=None))
        manifest = _with_files(manifest, tuple(hashed))
        write_manifest(staging, manifest)
        move_into_place(staging, root / manifest.id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _with_files(manifest: Manifest, files: tuple[ModelFile, ...]) -> Manifest:
    return dataclasses.replace(manifest, files=files)


def hash_into(folder: Path, files: list[str], manifest: Manifest) -> Manifest:
    """Hash ``files`` of ``folder`` and write its manifest there; returns the manifest."""
    hashed = tuple(
        ModelFile(path=rel, size=(folder / rel).stat().st_size,
                  sha256=sha256_file(folder / rel), url=None)
        for rel in files
    )  # fmt: skip
    manifest = _with_files(manifest, hashed)
    write_manifest(folder, manifest)
    return manifest
