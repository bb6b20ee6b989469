"""Downloading a hub model of the catalog: explicit, resumable, checksum-verified.

Only :meth:`ModelStore.pull` calls this; nothing in the runtime downloads on its own.
Files arrive as ``<root>/.downloads/<id>/<path>.part``. A re-run sends ``Range`` and
appends where the server supports it. Each finished file is checked against the
catalog's size and sha256, then the whole model's structure (:mod:`.check`); when all
is good the manifest is written and the folder renamed to ``<root>/<id>`` in one step,
so a model is either fully there or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChecksumError, DownloadError, ModelError
from ..fsutil import sha256_file
from .catalog import CatalogEntry, ModelFile
from .check import check_model
from .install import ensure_free_space, human_size, list_files, move_into_place
from .manifest import Manifest, find_main, write_manifest

__all__ = [
    "CHUNK_SIZE",
    "DOWNLOADS_DIR",
    "TIMEOUT_S",
    "PullCancelled",
    "file_url",
    "pull_model",
]

log = logging.getLogger(__name__)

DOWNLOADS_DIR = ".downloads"
"""Hidden folder under the store's root holding unfinished pulls."""
CHUNK_SIZE = 256 * 1024
"""Bytes read per step; a cancel request is honoured between steps."""
TIMEOUT_S = 30.0
"""Seconds to wait for a connection, and for each read, before giving up."""

_USER_AGENT = "offline-voice-assistant (assistant models pull)"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(?:\d+|\*)")

Progress = Callable[[int, "int | None"], None]


class PullCancelled(DownloadError):
    """The pull was cancelled; its partial download is kept for a later resume."""


def file_url(hub_url: str, url: str) -> str:
    """The absolute URL of a catalog file: absolute ``url`` as is, else under ``hub_url``."""
    if url.startswith(("http://", "https://")):
        return url
    return hub_url.rstrip("/") + "/" + url.lstrip("/")


@dataclass
class _Job:
    """One pull: where it writes, how it reports, when it stops."""

    entry: CatalogEntry
    work: Path
    hub_url: str
    progress: Progress | None
    cancel: threading.Event | None
    timeout: float
    done: int = 0
    total: int | None = None

    def advance(self, count: int) -> None:
        """Count bytes received (negative when a file starts over)."""
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def network_error(self, path: str, reason: object) -> DownloadError:
        return DownloadError(
            f"downloading {self.entry.id} failed at {path} ({reason}); the partial download "
            f"is kept in {self.work}",
            hint=self.resume_hint,
        )

    @property
    def resume_hint(self) -> str:
        return f"run `assistant models pull {self.entry.id}` again to resume it"


def pull_model(
    entry: CatalogEntry,
    root: Path,
    hub_url: str,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    timeout: float = TIMEOUT_S,
) -> Manifest:
    """Download every file of ``entry`` and install it as ``<root>/<id>``.

    Raises :class:`DownloadError` (partial download kept), :class:`PullCancelled`
    (likewise) or :class:`ChecksumError` (download deleted, nothing installed).
    """
    work = root / DOWNLOADS_DIR / entry.id
    work.mkdir(parents=True, exist_ok=True)
    with _exclusive(work):
        return _pull(entry, work, root, hub_url, progress, cancel, timeout)


@contextlib.contextmanager
def _exclusive(work: Path) -> Iterator[None]:
    """Hold a lock on the download folder, so two pulls of one model (say the GUI and the
    CLI) never append to the same .part file."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the checksum still catches a mixed file
        yield
        return
    with open(work.with_name(work.name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise DownloadError(
                f"another `assistant models pull {work.name}` is already running",
                hint="wait for it to finish",
            ) from exc
        yield


def _pull(
    entry: CatalogEntry,
    work: Path,
    root: Path,
    hub_url: str,
    progress: Progress | None,
    cancel: threading.Event | None,
    timeout: float,
) -> Manifest:
    job = _Job(entry, work, hub_url, progress, cancel, timeout)
    have = {f.path: _bytes_on_disk(work, f) for f in entry.files}
    remaining = sum(max((f.size or 0) - have[f.path], 0) for f in entry.files)
    ensure_free_space(work, remaining, DownloadError, what=f"model {entry.id}")
    sizes = [f.size for f in entry.files]
    job.total = None if None in sizes else sum(s or 0 for s in sizes)
    job.done = sum(have.values())
    log.info("pulling %s: %s to download", entry.id, human_size(remaining))
    try:
        done = tuple(_fetch(job, f, have[f.path]) for f in entry.files)
    except ChecksumError:
        # The hub's file differs from the catalog: keeping any of it could only mislead
        # a later resume.
        shutil.rmtree(work, ignore_errors=True)
        raise
    _drop_strays(work, {f.path for f in entry.files})
    main = find_main(entry.kind, [f.path for f in entry.files], f"catalog model {entry.id}")
    try:
        check_model(entry.kind, work if main == "." else work / main)
    except ModelError as exc:
        # Complete and as the catalog describes it, yet not a usable model (a catalog
        # entry without a checksum, or a hub file that changed): nothing to resume.
        shutil.rmtree(work, ignore_errors=True)
        problem = exc.message.replace(f"{work}{os.sep}", "")
        raise ModelError(
            f"the download of {entry.id} is not a usable model: {problem}; nothing was "
            "installed",
            hint="the hub's files do not match the catalog: report it, or import a good "
            "copy with `assistant models import`",
        ) from None
    manifest = Manifest(
        id=entry.id,
        kind=entry.kind,
        name=entry.name,
        licence=entry.licence,
        source="pulled",
        main=main,
        files=done,
        language=entry.language,
        homepage=entry.homepage,
        origin=file_url(hub_url, entry.files[0].url or ""),
    )
    write_manifest(work, manifest)
    move_into_place(work, root / entry.id)
    return manifest


def _final(work: Path, f: ModelFile) -> Path:
    return work / f.path


def _part(work: Path, f: ModelFile) -> Path:
    final = _final(work, f)
    return final.with_name(final.name + ".part")


def _bytes_on_disk(work: Path, f: ModelFile) -> int:
    for path in (_final(work, f), _part(work, f)):
        if path.is_file():
            size = path.stat().st_size
            return size if f.size is None else min(size, f.size)
    return 0


def _drop_strays(work: Path, keep: set[str]) -> None:
    # Left-overs of an earlier catalog version must not end up inside the model.
    for rel in list_files(work):
        if rel not in keep:
            (work / rel).unlink()


def _matches(f: ModelFile, size: int, sha: str) -> bool:
    return (f.size is None or size == f.size) and (f.sha256 is None or sha == f.sha256)


def _fetch(job: _Job, f: ModelFile, counted: int) -> ModelFile:
    """Download one file (resuming its .part) and check it; returns it with its sha256.

    ``counted`` is how many of its bytes the progress total already includes.
    """
    final, part = _final(job.work, f), _part(job.work, f)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_file():
        # Finished in an earlier run; check it again rather than trust it.
        size, sha = final.stat().st_size, sha256_file(final)
        if _matches(f, size, sha):
            return ModelFile(path=f.path, size=size, sha256=sha, url=f.url)
        log.warning("downloading %s again: it does not match the catalog", final)
        final.unlink()
        job.advance(-counted)
        counted = 0
    start = part.stat().st_size if part.is_file() else 0
    if f.size is not None and start > f.size:
        part.unlink()
        job.advance(-counted)
        start = 0
    digest = _hash_file(part) if start else hashlib.sha256()
    if f.size is None or start < f.size:
        url = file_url(job.hub_url, f.url or "")
        digest = _download(job, f, url, part, start, digest)
    size, actual = part.stat().st_size, digest.hexdigest()
    if not _matches(f, size, actual):
        part.unlink()
        raise ChecksumError(
            f"{job.entry.id}: {f.path} does not match the catalog (expected sha256 "
            f"{f.sha256}, {f.size} bytes; got sha256 {actual}, {size} bytes); the download "
            "was deleted and nothing was installed",
            hint="the file on the hub changed or is damaged; try again later, or report "
            "the catalog entry",
        )
    part.replace(final)
    return ModelFile(path=f.path, size=size, sha256=actual, url=f.url)


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest


def _download(
    job: _Job, f: ModelFile, url: str, part: Path, start: int, digest: hashlib._Hash
) -> hashlib._Hash:
    """Fetch ``url`` into ``part`` from byte ``start``; returns the whole file's hasher."""
    # Imported here: the runtime imports the store, and only a pull needs a network stack.
    import http.client
    import urllib.error
    import urllib.request

    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    log.debug("GET %s from byte %d", url, start)
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=job.timeout
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start and f.size is None:
            # "Range not satisfiable" past the end: the .part already holds the whole
            # file (its size was unknown); the checksum below still judges it.
            return digest
        raise DownloadError(
            f"downloading {job.entry.id} failed: {url} answered HTTP {exc.code} {exc.reason}",
            hint="check models.hub_url in the config and that the catalog entry is current"
            if exc.code in (401, 403, 404, 410)
            else job.resume_hint,
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise job.network_error(f.path, getattr(exc, "reason", exc)) from exc
    with response:
        mode = "ab"
        if start and response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                raise job.network_error(f.path, f"server sent the wrong range for bytes {start}-")
        elif response.status == 200:
            if start:
                log.info("%s ignored the Range request; downloading %s from the start", url,
                         f.path)  # fmt: skip
                job.advance(-start)
                start, digest = 0, hashlib.sha256()
            mode = "wb"
        else:
            raise job.network_error(f.path, f"unexpected HTTP status {response.status}")
        length = response.headers.get("Content-Length")
        end = start + int(length) if length and length.isdigit() else f.size
        received = start
        with open(part, mode) as out:
            while True:
                if job.cancel is not None and job.cancel.is_set():
                    raise PullCancelled(
                        f"download of {job.entry.id} cancelled; the partial download is kept "
                        f"in {job.work}",
                        hint=job.resume_hint,
                    )
                try:
                    block = response.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise job.network_error(f.path, exc) from exc
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {part}: {exc}",
                        hint="free some disk space, then " + job.resume_hint,
                    ) from exc
                digest.update(block)
                received += len(block)
                job.advance(len(block))
    if end is not None and received < end:
        raise job.network_error(f.path, f"connection closed after {received} of {end} bytes")
    return digest
