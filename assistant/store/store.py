"""The model store: which models are installed, where their files are, and managing them.

Two places hold models. Embedded defaults live inside PyPI packages and are found
through package metadata (the package is never imported: one of them imports an
unrelated CLI). Every other model is a folder ``<root>/<id>/`` with a ``model.toml``
manifest: pulled from a hub, imported from a path, or registered by training.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ..config import ModelsConfig, data_dir
from ..errors import ModelError, ModelNotFoundError
from .catalog import Catalog, ModelFile, check_kind, check_model_id, is_source_catalog
from .check import check_model
from .install import (
    collect_import,
    derive_id,
    hash_into,
    human_size,
    install_copy,
    move_into_place,
    sweep_leftovers,
    validate_folder,
)
from .installed import InstalledModel, embedded_model, from_manifest
from .manifest import MANIFEST_NAME, Manifest, read_manifest
from .verify import CACHE_NAME, ExpectedFile, VerifyCache, VerifyResult, check_file, state_of

__all__ = ["InstalledModel", "ModelStore"]

log = logging.getLogger(__name__)


def _a(kind: str) -> str:
    # "an asr", "an llm" (said "el"), "a voice", "a vad".
    return f"an {kind}" if kind in ("asr", "llm") else f"a {kind}"


def _structure_problem(model: InstalledModel) -> str | None:
    """What the structural check finds wrong with ``model``, its paths relative to the
    model's folder; ``None`` when it passes."""
    try:
        check_model(model.kind, model.path)
    except ModelError as exc:
        return exc.message.replace(f"{model.folder}{os.sep}", "")
    return None


class ModelStore:
    """Installed models: the embedded ones plus the folders under ``root``."""

    def __init__(self, root: Path, catalog: Catalog, hub_url: str = "https://huggingface.co"):
        self.root = Path(root).expanduser().absolute()
        """Folder holding one sub-folder per non-embedded model."""
        self.catalog = catalog
        """Every model the assistant knows."""
        self.hub_url = hub_url
        """Base URL that relative catalog URLs are resolved against by :meth:`pull`."""
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, models_config: ModelsConfig) -> ModelStore:
        """The store the config describes: ``models.dir``, else ``models/store`` in a
        source checkout, else the platform's data folder."""
        catalog = Catalog.load()
        if models_config.dir:
            root = Path(models_config.dir).expanduser()
        elif catalog.path is not None and is_source_catalog(catalog.path):
            root = catalog.path.parent / "store"
        else:
            root = data_dir() / "models"
        return cls(root, catalog, hub_url=models_config.hub_url)

    # ------------------------------------------------------------------ finding models

    def installed(self) -> list[InstalledModel]:
        """Every installed model: embedded ones first (catalog order), then by id."""
        models = [m for e in self.catalog if e.embedded and (m := embedded_model(e))]
        embedded_ids = {m.id for m in models}
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if folder.name.startswith(".") or not (folder / MANIFEST_NAME).is_file():
                    continue
                if folder.name in embedded_ids:
                    log.warning("ignoring %s: its id is taken by an embedded model", folder)
                    continue
                try:
                    models.append(from_manifest(folder, read_manifest(folder)))
                except ModelError as exc:
                    # One broken folder must not hide the others; `get` reports it fully.
                    log.warning("skipping %s", exc)
        return models

    def get(self, model_id: str) -> InstalledModel:
        """The installed model with this id, or :class:`ModelNotFoundError` saying how to
        get it."""
        model = self._find(model_id)
        if model is None:
            raise self._not_found(model_id)
        return model

    def resolve(self, kind: str, model_id: str) -> InstalledModel:
        """Like :meth:`get`, but the model must be of ``kind``."""
        check_kind(kind)
        model = self._find(model_id)
        if model is None:
            raise self._not_found(model_id, kind)
        if model.kind != kind:
            raise ModelError(
                f"model {model_id!r} is {_a(model.kind)}, not {_a(kind)}",
                hint=self._installed_hint(kind),
            )
        return model

    def _find(self, model_id: str) -> InstalledModel | None:
        entry = self.catalog.find(model_id)
        if entry is not None and entry.embedded:
            return embedded_model(entry)
        if model_id.startswith(".") or "/" in model_id or os.sep in model_id:
            return None
        folder = self.root / model_id
        if (folder / MANIFEST_NAME).is_file():
            return from_manifest(folder, read_manifest(folder))
        return None

    def _installed_hint(self, kind: str | None) -> str:
        ids = [m.id for m in self.installed() if kind is None or m.kind == kind]
        what = f"installed {kind} models" if kind else "installed models"
        listed = f"{what}: {', '.join(ids)}; " if ids else f"no {what}; "
        return listed + "`assistant models list --all` shows what can be pulled"

    def _not_found(self, model_id: str, kind: str | None = None) -> ModelNotFoundError:
        entry = self.catalog.find(model_id)
        if entry is not None and entry.embedded:
            return ModelNotFoundError(
                f"model {model_id!r} is not installed: it comes with the Python package "
                f"{entry.package}, which is missing or incomplete",
                hint=f"pip install --force-reinstall {entry.package}",
            )
        if entry is not None:
            return ModelNotFoundError(
                f"model {model_id!r} is not installed",
                hint=f"`assistant models pull {model_id}` downloads it ({human_size(entry.size)})",
            )
        known = [m.id for m in self.installed()] + [e.id for e in self.catalog]
        close = [k for k in known if model_id.lower() in k.lower()]
        close += difflib.get_close_matches(model_id, known, n=3, cutoff=0.6)
        prefix = f"did you mean {', '.join(list(dict.fromkeys(close))[:3])}? " if close else ""
        return ModelNotFoundError(
            f"unknown model {model_id!r}", hint=prefix + self._installed_hint(kind)
        )

    # ------------------------------------------------------------------ verifying

    def _cache(self) -> VerifyCache:
        return VerifyCache(self.root / CACHE_NAME)

    def _expected(self, model: InstalledModel) -> list[ExpectedFile]:
        if model.source == "embedded":
            files: tuple[ModelFile, ...] = self.catalog.get(model.id).files
        else:
            files = read_manifest(model.folder).files
            # A pulled model is also held to the catalog, where it states a checksum.
            entry = self.catalog.find(model.id)
            if model.source == "pulled" and entry is not None and not entry.embedded:
                stated = {f.path: f for f in entry.files if f.sha256}
                files = tuple(stated.get(f.path, f) for f in files)
        return [
            ExpectedFile(path=model.folder / f.path, name=f.path, size=f.size, sha256=f.sha256)
            for f in files
        ]

    def verify(self, model_id: str) -> VerifyResult:
        """Hash every file of a model and compare sizes and sha256s, and check its
        structure (:func:`.check.check_model`); both remembered in the verify cache for
        :meth:`verified_state`."""
        model = self.get(model_id)
        cache = self._cache()
        expected = self._expected(model)
        problems = [p for f in expected if (p := check_file(f, cache))]
        # A missing file is reported above already; the structural check would only
        # repeat it.
        if all(f.path.exists() for f in expected):
            broken = _structure_problem(model)
            if broken is not None:
                problems.append(broken)
                for f in expected:
                    cache.mark_broken(f.path, broken)
        with self._lock:
            cache.save()
        if problems:
            log.warning("model %s failed verification: %s", model_id, "; ".join(problems))
        return VerifyResult(id=model.id, ok=not problems, problems=problems)

    def verified_state(self, model: InstalledModel) -> str:
        """``verified``, ``failed`` or ``unchecked``, from the verify cache only."""
        try:
            return state_of(self._expected(model), self._cache())
        except ModelError:
            return "failed"

    def _remember_hashes(self, model: InstalledModel, files: tuple[ModelFile, ...]) -> None:
        # The files were hashed while copied or downloaded: record that, so the listing
        # shows them verified without hashing them again.
        cache = self._cache()
        for f in files:
            path = model.folder / f.path
            with contextlib.suppress(OSError):
                if f.sha256:
                    cache.record(path, path.stat(), f.sha256)
        with self._lock:
            cache.save()

    # ------------------------------------------------------------------ installing

    def _refuse_existing(self, model_id: str) -> None:
        entry = self.catalog.find(model_id)
        if (entry is not None and entry.embedded) or (self.root / model_id).exists():
            raise ModelError(
                f"a model with id {model_id!r} already exists",
                hint=f"remove it first (`assistant models remove {model_id}`) or choose "
                "another id with --id",
            )

    def import_path(
        self,
        path: Path,
        kind: str,
        id: str | None = None,
        name: str | None = None,
        licence: str = "unknown",
    ) -> InstalledModel:
        """Copy a model from ``path`` into the store (the original is left untouched).

        llm: a .gguf file; voice: a Piper .onnx with its .onnx.json beside it; asr: a
        CTranslate2 whisper folder; vad: an .onnx file.
        """
        path = Path(path).expanduser().absolute()
        check_kind(kind)
        sources, main = collect_import(path, kind)
        model_id = check_model_id(id) if id else derive_id(path)
        self._refuse_existing(model_id)
        return self._copied_in(
            sources,
            Manifest(
                id=model_id,
                kind=kind,
                name=name or path.name,
                licence=licence,
                source="imported",
                main=main,
                files=(),
                origin=str(path),
            ),
        )

    def register(
        self,
        folder: Path,
        kind: str,
        id: str,
        source: str = "trained",
        name: str | None = None,
        licence: str = "unknown",
        language: str = "",
        homepage: str = "",
        origin: str = "",
    ) -> InstalledModel:
        """Add a model folder that other code wrote (training) to the store.

        ``<root>/<id>`` itself gets its manifest written in place (re-registering
        rewrites it); a folder elsewhere under the root is moved in; one outside the
        root is copied in.
        """
        folder = Path(folder).expanduser().absolute()
        check_kind(kind)
        check_model_id(id)
        files, main = validate_folder(folder, kind)
        manifest = Manifest(
            id=id,
            kind=kind,
            name=name or id,
            licence=licence,
            source=source,
            main=main,
            files=(),
            language=language,
            homepage=homepage,
            origin=origin or str(folder),
        )
        target = self.root / id
        entry = self.catalog.find(id)
        if entry is not None and entry.embedded:
            self._refuse_existing(id)
        if folder.resolve() == target.resolve():
            manifest = hash_into(folder, files, manifest)
        else:
            self._refuse_existing(id)
            inside = self.root.resolve() in folder.resolve().parents
            if not inside:
                return self._copied_in([(folder / rel, rel) for rel in files], manifest)
            in_root = folder.parent.resolve() == self.root.resolve()
            if in_root and (folder / MANIFEST_NAME).is_file():
                raise ModelError(
                    f"{folder} is the installed model {folder.name!r}",
                    hint=f"register it under its own id {folder.name!r}, or remove it first",
                )
            # Training wrote it inside the store (same disk): move instead of copying.
            manifest = hash_into(folder, files, manifest)
            move_into_place(folder, target)
        model = self.get(id)
        self._remember_hashes(model, manifest.files)
        return model

    def _copied_in(self, sources: list[tuple[Path, str]], manifest: Manifest) -> InstalledModel:
        manifest = install_copy(self.root, sources, manifest)
        model = self.get(manifest.id)
        self._remember_hashes(model, manifest.files)
        return model

    def remove(self, model_id: str) -> None:
        """Delete a pulled, imported or trained model (embedded ones come with a package)."""
        model = self.get(model_id)
        if model.source == "embedded":
            package = self.catalog.get(model_id).package
            raise ModelError(
                f"model {model_id!r} is embedded in the Python package {package} and cannot "
                "be removed from the store",
                hint="to stop using it, choose another model in the config; its files go "
                f"away only with the package (if nothing else needs {package})",
            )
        # Rename first so a half-deleted folder is never listed as a model.
        trash = Path(tempfile.mkdtemp(prefix=f".trash-{model_id}.", dir=self.root))
        os.rename(model.folder, trash / model_id)
        shutil.rmtree(trash, ignore_errors=True)
        sweep_leftovers(self.root)
        cache = self._cache()
        cache.forget_under(model.folder)
        with self._lock:
            cache.save()
        log.info("removed model %s (%s)", model_id, model.folder)

    def pull(
        self,
        model_id: str,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> InstalledModel:
        """Download a hub model of the catalog into the store (see :mod:`.pull`)."""
        from .pull import pull_model

        entry = self.catalog.get(model_id)
        if entry.embedded:
            installed = embedded_model(entry) is not None
            raise ModelError(
                f"model {model_id!r} is "
                + ("already installed" if installed else "not downloaded: it comes")
                + f" with the Python package {entry.package}",
                hint=None if installed else f"pip install {entry.package}",
            )
        if (self.root / model_id).exists():
            raise ModelError(
                f"model {model_id!r} is already installed in {self.root / model_id}",
                hint=f"`assistant models remove {model_id}` first to download it again",
            )
        manifest = pull_model(entry, self.root, self.hub_url, progress=progress, cancel=cancel)
        model = self.get(model_id)
        self._remember_hashes(model, manifest.files)
        return model
