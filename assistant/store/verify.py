"""Checking model files against their expected size and sha256, with a small cache.

Hashing a model takes a second or more, so the result of every hash is remembered in
``<store>/.verify-cache.json`` keyed by the file's absolute path, size and mtime. The
listing reads only that cache (and ``stat``), so it stays instant; a file that changed
since it was hashed shows as unchecked until it is verified again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_text, sha256_file

__all__ = ["CACHE_NAME", "ExpectedFile", "VerifyCache", "VerifyResult", "check_file", "state_of"]

log = logging.getLogger(__name__)

CACHE_NAME = ".verify-cache.json"
"""File name of the cache in the store's root."""

_FORMAT = 1
_LOCK = threading.Lock()


@dataclass
class VerifyResult:
    """The outcome of verifying one model."""

    id: str
    """The model's id."""
    ok: bool
    """True when every file exists with the expected size and sha256, and the model
    passes its structural check (:mod:`.check`)."""
    problems: list[str] = field(default_factory=list)
    """One line per problem: a file missing, a size or sha256 mismatch (expected and
    actual), or what the structural check found (file and problem)."""


@dataclass(frozen=True)
class ExpectedFile:
    """A file to check and what it should be."""

    path: Path
    """Absolute path on disk."""
    name: str
    """Name to show (relative to the model's folder)."""
    size: int | None
    """Expected size in bytes, or ``None`` when unknown."""
    sha256: str | None
    """Expected hex sha256, or ``None`` when unknown (then only the size is checked)."""


class VerifyCache:
    """The sha256 of files already hashed, valid while their size and mtime are unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        """Where the cache lives (``<store>/.verify-cache.json``)."""
        self._files: dict[str, dict[str, Any]] = self._read()
        self._changed: dict[str, dict[str, Any] | None] = {}

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # A damaged cache only costs a re-hash; never fail a command over it.
            log.warning("ignoring unreadable verify cache %s: %s", self.path, exc)
            return {}
        files = data.get("files") if isinstance(data, dict) else None
        return files if isinstance(files, dict) and data.get("format") == _FORMAT else {}

    def lookup(self, path: Path, stat: os.stat_result) -> str | None:
        """The cached sha256 of ``path`` if it was hashed at this size and mtime."""
        entry = self._files.get(str(Path(path).absolute()))
        if (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
        ):
            sha = entry.get("sha256")
            return sha if isinstance(sha, str) else None
        return None

    def record(self, path: Path, stat: os.stat_result, sha256: str) -> None:
        """Remember a hash just computed (saved by :meth:`save`)."""
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
        key = str(Path(path).absolute())
        self._files[key] = entry
        self._changed[key] = entry

    def mark_broken(self, path: Path, problem: str) -> None:
        """Remember that the model holding ``path`` failed its structural check, for as
        long as the file keeps the size and mtime it was hashed at."""
        key = str(Path(path).absolute())
        entry = self._files.get(key)
        if isinstance(entry, dict):
            entry = {**entry, "problem": problem}
            self._files[key] = entry
            self._changed[key] = entry

    def problem(self, path: Path, stat: os.stat_result) -> str | None:
        """The structural problem remembered by :meth:`mark_broken`, while still valid."""
        entry = self._files.get(str(Path(path).absolute()))
        if self.lookup(path, stat) is None or not isinstance(entry, dict):
            return None
        problem = entry.get("problem")
        return problem if isinstance(problem, str) else None

    def forget_under(self, folder: Path) -> None:
        """Drop every entry for files inside ``folder`` (after removing a model)."""
        prefix = str(Path(folder).absolute()) + os.sep
        for key in [k for k in self._files if k.startswith(prefix)]:
            del self._files[key]
            self._changed[key] = None

    def save(self) -> None:
        """Write the changes, merged into what is on disk now, atomically.

        Merging keeps entries another process wrote meanwhile; a failure to write (a
        read-only store) is logged and otherwise ignored.
        """
        if not self._changed:
            return
        with _LOCK:
            files = self._read()
            for key, entry in self._changed.items():
                if entry is None:
                    files.pop(key, None)
                else:
                    files[key] = entry
            try:
                atomic_write_text(
                    self.path, json.dumps({"format": _FORMAT, "files": files}, indent=1)
                )
            except OSError as exc:
                log.warning("cannot write verify cache %s: %s", self.path, exc)
                return
            self._files = files
            self._changed = {}


def check_file(expected: ExpectedFile, cache: VerifyCache) -> str | None:
    """Hash one file and compare it; returns a problem line, or ``None`` when it is good."""
    try:
        stat = expected.path.stat()
    except FileNotFoundError:
        return f"{expected.name}: missing ({expected.path})"
    except OSError as exc:
        return f"{expected.name}: cannot read ({exc})"
    if expected.size is not None and stat.st_size != expected.size:
        return (
            f"{expected.name}: size mismatch: expected {expected.size} bytes, found {stat.st_size}"
        )
    try:
        actual = sha256_file(expected.path)
    except OSError as exc:
        return f"{expected.name}: cannot read ({exc})"
    cache.record(expected.path, stat, actual)
    if expected.sha256 is not None and actual != expected.sha256:
        return f"{expected.name}: sha256 mismatch: expected {expected.sha256}, actual {actual}"
    return None


def state_of(files: list[ExpectedFile], cache: VerifyCache) -> str:
    """``verified``, ``failed`` or ``unchecked``, from ``stat`` and the cache only."""
    state = "verified"
    for expected in files:
        try:
            stat = expected.path.stat()
        except OSError:
            return "failed"
        if expected.size is not None and stat.st_size != expected.size:
            return "failed"
        cached = cache.lookup(expected.path, stat)
        if cached is None:
            state = "unchecked"
        elif (expected.sha256 is not None and cached != expected.sha256) or cache.problem(
            expected.path, stat
        ) is not None:
            return "failed"
    return state
