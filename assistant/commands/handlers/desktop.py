"""The desktop, only when asked: open an application by its desktop-entry name, a
folder or a web address in the default program (``xdg-open``)."""

from __future__ import annotations

import configparser
import difflib
import logging
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..context import Answer, CommandContext

__all__ = ["INTENTS", "DesktopEntry", "desktop_entries", "exec_argv", "find_entry"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesktopEntry:
    name: str
    exec: str
    path: Path
    keywords: tuple[str, ...] = ()


def _data_dirs() -> list[Path]:
    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
    dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [Path(home), *(Path(d) for d in dirs.split(":") if d)]


def desktop_entries() -> list[DesktopEntry]:
    """The applications in ``$XDG_DATA_HOME`` and ``$XDG_DATA_DIRS`` (the first of a
    file name wins, as the specification says), without hidden ones."""
    seen: set[str] = set()
    entries: list[DesktopEntry] = []
    for base in _data_dirs():
        folder = base / "applications"
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.desktop")):
            file_id = path.relative_to(folder).as_posix().replace("/", "-")
            if file_id in seen:
                continue
            seen.add(file_id)
            parser = configparser.RawConfigParser(interpolation=None, strict=False)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            try:
                parser.read(path, encoding="utf-8")
                section = parser["Desktop Entry"]
            except (configparser.Error, KeyError, UnicodeDecodeError):
                continue
            if section.get("Type", "Application") != "Application":
                continue
            if section.get("NoDisplay") == "true" or section.get("Hidden") == "true":
                continue
            if not section.get("Exec") or not section.get("Name"):
                continue
            keywords = tuple(
                k.strip().lower() for k in section.get("Keywords", "").split(";") if k.strip()
            )
            entries.append(DesktopEntry(section["Name"], section["Exec"], path, keywords))
    return entries


def find_entry(name: str, entries: list[DesktopEntry]) -> DesktopEntry | None:
    """The entry called ``name``: exact name, then file name, then a close spelling."""
    wanted = name.lower().strip()
    by_name = {e.name.lower(): e for e in entries}
    if wanted in by_name:
        return by_name[wanted]
    for entry in entries:
        if entry.path.stem.lower().rsplit(".", 1)[-1] == wanted or wanted in entry.keywords:
            return entry
    close = difflib.get_close_matches(wanted, list(by_name), n=1, cutoff=0.8)
    return by_name[close[0]] if close else None


def exec_argv(entry: DesktopEntry) -> list[str]:
    """The Exec line as arguments, field codes (%f, %U, ...) removed."""
    argv = shlex.split(entry.exec)
    out = [re.sub(r"%[fFuUdDnNickvm]", "", a).replace("%%", "%") for a in argv]
    return [a for a in out if a]


def _run(argv: list[str]) -> bool:
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("could not run %s: %s", argv, exc)
        return False
    return True


_FOLDERS = {
    "home": "", "documents": "Documents", "downloads": "Downloads", "music": "Music",
    "pictures": "Pictures", "photos": "Pictures", "videos": "Videos", "desktop": "Desktop",
}  # fmt: skip


def _open(slots: dict[str, Any], ctx: CommandContext) -> Answer | None:
    if "url" in slots:
        url = str(slots["url"])
        if not url.startswith(("http://", "https://")):
            url = "https://" + url
        if not _run([*ctx.desktop.opener, url]):
            return Answer("I couldn't open that address.", declined=True)
        return Answer(f"Opening {slots['url']}.", data={"url": url})
    if "folder" in slots:
        name = str(slots["folder"]).lower()
        if name not in _FOLDERS:
            return Answer(f"I don't know a folder called {name}.", declined=True)
        path = Path.home() / _FOLDERS[name]
        if not _run([*ctx.desktop.opener, str(path)]):
            return Answer("I couldn't open that folder.", declined=True)
        return Answer(
            f"Opening your {name} folder." if name != "home" else "Opening your home folder.",
            data={"path": str(path)},
        )
    name = str(slots["app"])
    entry = find_entry(name, desktop_entries())
    if entry is None:
        if slots.get("strict"):
            return None  # "start the engine" is not a request to open anything
        return Answer(f"I couldn't find an application called {name}.", declined=True)
    argv = [*(ctx.desktop.launcher or []), *exec_argv(entry)]
    if not _run(argv):
        return Answer(f"I couldn't start {entry.name}.", declined=True)
    return Answer(f"Opening {entry.name}.", data={"argv": argv, "entry": str(entry.path)})


INTENTS = {"Open": _open}
