"""A smaller ICU data library for the bundle, with the standard library and binutils only.

PySide6's Qt links against its own ICU, whose data library ``libicudata.so.NN`` (32 MB
for ICU 73) is nothing but one exported symbol, ``icudtNN_dat``: an ICU *common data
package* (the ``.dat`` that ``icupkg`` reads and writes, format ``CmnD`` 1.0) holding
every locale, collation, converter and break-iterator item of ICU. This module reads
that package out of the library, keeps the items the app can use (the policy is at
:func:`keeps`), writes the package again and links it into a library with the same
soname and the same symbol, so the wheel's ``libicuuc`` loads it unchanged.

No ICU tool is needed: the container format is a header, a table of contents and the
items, and it is stable across ICU versions (Debian 12's ``icupkg`` of ICU 72 reads the
ICU 73 package and writes it back byte for byte; :func:`CommonData.to_bytes` does the
same). The library is assembled with ``as`` and linked with ``ld`` (binutils, which the
build already needs for ``strip``).

    python packaging/icudata.py list LIB          # every item: kept or dropped, its size
    python packaging/icudata.py trim LIB OUT      # write the trimmed library to OUT
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "KEEP_CONVERTERS",
    "CommonData",
    "IcuDataError",
    "TrimResult",
    "build_library",
    "keeps",
    "read_common_data",
    "trim_library",
    "trimmed",
]

# ------------------------------------------------------------------------- the policy
#
# What Qt 6 Core asks ICU for (qtbase src/corelib), and so what the data must still hold:
#   - QCollator (qcollator_icu.cpp: ucol_open with the locale's name; also QFileDialog's
#     sorting and QString::localeAwareCompare): coll/ucadata.icu and coll/root.res, the
#     root collation every locale starts from, plus the English tailorings;
#   - QString/QLocale toUpper/toLower (qlocale_icu.cpp: u_strToUpper/u_strToLower): the
#     case data is compiled into libicuuc, no item here;
#   - QStringConverter/QStringDecoder/QStringEncoder for encodings Qt does not implement
#     itself (qstringconverter.cpp: ucnv_open): cnvalias.icu and one .cnv table each;
#   - QTimeZone's display names (qtimezonelocale.cpp: ucal_getTimeZoneDisplayName):
#     zone/, metaZones, timezoneTypes, zoneinfo64, windowsZones.
#   QTextBoundaryFinder and text layout use Qt's own Unicode tables (qunicodetools.cpp),
#   not ICU's break iterators; QLocale's names and formats come from Qt's own CLDR data.
#
# So, for an app with an English UI:
#   - keep every item that is not locale data (supplementalData, likelySubtags, plurals,
#     the normalisation and StringPrep data, each tree's pool.res and res_index.res, ...:
#     all small), except the three groups below;
#   - keep locale data (root.res, en.res, ... in every tree) for root, en and en_* only:
#     another language's collation, zone, currency, unit and language names fall back to
#     English (ICU's default locale) or root;
#   - drop transliteration (translit/: Qt never calls utrans), the break iterators'
#     word dictionaries (brkitr/*.dict: CJK, Thai, Lao, Burmese, Khmer; 3 MB; the rules,
#     *.brk, stay) and the conversion tables (.cnv) other than KEEP_CONVERTERS.

KEEP_CONVERTERS = {
    # Qt 5's built-in single-byte codecs (qsimplecodec), as ICU 73's alias table names
    # their tables (ucnv_open(name) + ucnv_getName). UTF-*, US-ASCII and ISO-8859-1 are
    # algorithmic in ICU, and Qt does them itself anyway. The CJK multi-byte tables
    # (Shift_JIS, EUC-*, GBK, GB18030, Big5: 100-550 kB each) and IBM's EBCDIC ones go.
    "ibm-912_P100-1995": "ISO-8859-2",
    "ibm-913_P100-2000": "ISO-8859-3",
    "ibm-914_P100-1995": "ISO-8859-4",
    "ibm-915_P100-1995": "ISO-8859-5",
    "ibm-1089_P100-1995": "ISO-8859-6",
    "ibm-9005_X110-2007": "ISO-8859-7",
    "ibm-5012_P100-1999": "ISO-8859-8",
    "ibm-920_P100-1995": "ISO-8859-9",
    "iso-8859_10-1998": "ISO-8859-10",
    "iso-8859_11-2001": "ISO-8859-11",
    "ibm-921_P100-1995": "ISO-8859-13",
    "iso-8859_14-1998": "ISO-8859-14",
    "ibm-923_P100-1998": "ISO-8859-15",
    "ibm-5346_P100-1998": "windows-1250",
    "ibm-5347_P100-1998": "windows-1251",
    "ibm-5348_P100-1997": "windows-1252",
    "ibm-5349_P100-1998": "windows-1253",
    "ibm-5350_P100-1998": "windows-1254",
    "ibm-9447_P100-2002": "windows-1255",
    "ibm-9448_X100-2005": "windows-1256",
    "ibm-9449_P100-2002": "windows-1257",
    "ibm-5354_P100-1998": "windows-1258",
    "windows-874-2000": "windows-874, TIS-620",
    "ibm-878_P100-1996": "KOI8-R",
    "ibm-1168_P100-2002": "KOI8-U",
    "ibm-437_P100-1995": "IBM437",
    "ibm-850_P100-1995": "IBM850",
    "ibm-866_P100-1995": "IBM866",
    "ibm-874_P100-1995": "IBM874",
    "ibm-1051_P100-1995": "hp-roman8",
    "macos-0_2-10.2": "macintosh (Apple Roman)",
}
"""Conversion tables kept (item name without ``.cnv``) -> the encodings they serve."""

REQUIRED = (
    "root.res", "en.res", "pool.res", "res_index.res", "cnvalias.icu", "coll/root.res",
    "coll/ucadata.icu", "zone/root.res", "zone/en.res", "metaZones.res", "zoneinfo64.res",
)  # fmt: skip
"""Items the trimmed package must hold (what Qt's uses above need): the trim fails if
one is missing, e.g. because a newer ICU renamed it."""

_KEPT_LOCALES = re.compile(r"(root|en|en_[A-Za-z0-9_]*)")
# A locale's item: language (2-3 letters) and optional _Script, _REGION, _VARIANT parts,
# some empty (coll/de__PHONEBOOK); "res_index" looks like one but is each tree's index.
_LOCALE_ITEM = re.compile(r"(root|[a-z]{2,3}(_[A-Za-z0-9]*)*)\.res")
_DROPPED_TREES = ("translit/",)
_DROPPED_SUFFIXES = (".dict",)


def keeps(name: str) -> bool:
    """Whether the item ``name`` (as listed in the package, less its ``icudtNNl/``
    prefix: ``coll/en.res``, ``ibm-5348_P100-1997.cnv``) stays in the trimmed package."""
    if name.startswith(_DROPPED_TREES) or name.endswith(_DROPPED_SUFFIXES):
        return False
    leaf = name.rsplit("/", 1)[-1]
    if leaf.endswith(".cnv"):
        return leaf.removesuffix(".cnv") in KEEP_CONVERTERS
    if leaf != "res_index.res" and _LOCALE_ITEM.fullmatch(leaf):
        return bool(_KEPT_LOCALES.fullmatch(leaf.removesuffix(".res")))
    return True


# ------------------------------------------------------------------------- the format


class IcuDataError(Exception):
    """The ICU data library cannot be read or trimmed; the message says why and what to
    do."""


_SYMBOL = re.compile(rb"icudt\d+_dat")


def read_common_data(library: Path) -> tuple[str, bytes]:
    """The exported ``icudtNN_dat`` symbol of the ELF shared library ``library``: its name
    and its bytes (the common data package)."""
    data = Path(library).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise IcuDataError(f"{library} is not a 64-bit little-endian ELF library")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]  # fmt: skip
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 11:  # SHT_DYNSYM: what the dynamic linker sees
            continue
        strings = sections[link][4]
        for at in range(offset, offset + size, entsize):
            name_at, _, _, shndx, value, length = struct.unpack_from("<IBBHQQ", data, at)
            end = data.index(b"\0", strings + name_at)
            name = data[strings + name_at : end]
            if _SYMBOL.fullmatch(name) and 0 < shndx < len(sections):
                _, skind, _, addr, soffset, _, _, _, _, _ = sections[shndx]
                if skind == 8:  # SHT_NOBITS: no bytes in the file
                    break
                start = soffset + value - addr
                return name.decode(), data[start : start + length]
    raise IcuDataError(
        f"{library} exports no icudtNN_dat symbol: it is not ICU's data library, or ICU "
        "was built with its data as files (then there is nothing to trim: drop this step)"
    )


@dataclass(frozen=True)
class CommonData:
    """An ICU common data package (``.dat``): its header, and its items in the order of
    its table of contents (sorted by name: ICU looks them up by binary search)."""

    header: bytes
    """The data header (size, magic, ``CmnD`` format, copyright), kept as it is."""
    prefix: str
    """What every item's name starts with, e.g. ``icudt73l/``."""
    items: dict[str, bytes]
    """Item name (less the prefix) -> its bytes, each a multiple of 16 long (with the
    padding that aligns the next item)."""

    @classmethod
    def parse(cls, data: bytes) -> CommonData:
        if len(data) < 32:
            raise IcuDataError("the ICU data is too short to be a common data package")
        header_size, magic1, magic2 = struct.unpack_from("<HBB", data, 0)
        big_endian, charset = data[8], data[9]
        if (magic1, magic2) != (0xDA, 0x27) or data[12:16] != b"CmnD" or data[16] != 1:
            raise IcuDataError("the ICU data is not a common data package (CmnD 1.x)")
        if big_endian or charset:
            raise IcuDataError("the ICU data is not little-endian ASCII (icudtNNl)")
        count = struct.unpack_from("<I", data, header_size)[0]
        toc = [struct.unpack_from("<II", data, header_size + 4 + 8 * i) for i in range(count)]
        ends = [offset for _, offset in toc[1:]] + [len(data) - header_size]
        if any(end < offset for (_, offset), end in zip(toc, ends, strict=True)):
            raise IcuDataError("the ICU data's items are not stored in name order")
        names = []
        for name_at, _ in toc:
            start = header_size + name_at
            names.append(data[start : data.index(b"\0", start)].decode("ascii"))
        prefix = names[0].split("/", 1)[0] + "/" if names else ""
        if not prefix or not all(n.startswith(prefix) for n in names):
            raise IcuDataError(f"the ICU data's items do not share one prefix ({prefix!r})")
        items = {
            name.removeprefix(prefix): data[header_size + offset : header_size + end]
            for name, (_, offset), end in zip(names, toc, ends, strict=True)
        }
        return cls(header=data[:header_size], prefix=prefix, items=items)

    def to_bytes(self) -> bytes:
        """The package as ``icupkg`` writes it: header, item count, (name offset, data
        offset) pairs relative to the end of the header, the names, 0xaa up to a multiple
        of 16, the items."""
        names = [(self.prefix + n).encode("ascii") + b"\0" for n in self.items]
        toc_size = 4 + 8 * len(names)
        names_size = sum(len(n) for n in names)
        pad = -(len(self.header) + toc_size + names_size) % 16
        toc = [struct.pack("<I", len(names))]
        name_at, data_at = toc_size, toc_size + names_size + pad
        for name, item in zip(names, self.items.values(), strict=True):
            toc.append(struct.pack("<II", name_at, data_at))
            name_at += len(name)
            data_at += len(item)
        return b"".join([self.header, *toc, *names, b"\xaa" * pad, *self.items.values()])

    def only(self, keep: set[str]) -> CommonData:
        """The package with the items named in ``keep`` only."""
        return CommonData(self.header, self.prefix,
                          {n: b for n, b in self.items.items() if n in keep})  # fmt: skip


# ------------------------------------------------------------------------- the library


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise IcuDataError(
            f"`{name}` is missing: trimming the ICU data needs binutils "
            "(scripts/setup.sh installs it; or: apt-get install binutils)"
        )
    return found


def build_library(package: bytes, symbol: str, soname: str, out: Path) -> None:
    """Write ``out``, an ELF shared library ``soname`` whose only export is ``symbol``:
    the bytes of ``package``, 16-byte aligned and read-only (like the one ICU builds)."""
    out = Path(out)
    work = out.parent / f"{out.name}.build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "icudata.dat").write_bytes(package)
    (work / "icudata.s").write_text(
        "\t.section .rodata\n"
        f"\t.globl {symbol}\n"
        f"\t.type {symbol}, @object\n"
        "\t.balign 16\n"
        f"{symbol}:\n"
        '\t.incbin "icudata.dat"\n'
        f"\t.size {symbol}, . - {symbol}\n"
        '\t.section .note.GNU-stack,"",@progbits\n'
    )
    commands = [
        [_tool("as"), "--64", "-o", "icudata.o", "icudata.s"],
        [_tool("ld"), "-shared", "-soname", soname, "--hash-style=gnu", "--build-id",
         "-z", "noexecstack", "-o", str(out.resolve()), "icudata.o"],
    ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise IcuDataError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    shutil.rmtree(work)


@dataclass(frozen=True)
class TrimResult:
    """What :func:`trim_library` did."""

    source_bytes: int
    """Size of the original library file."""
    trimmed_bytes: int
    """Size of the trimmed library file."""
    kept: int
    """Items kept."""
    dropped: int
    """Items dropped."""

    def summary(self) -> str:
        return (f"ICU data {self.source_bytes / 1e6:.1f} MB -> {self.trimmed_bytes / 1e6:.1f} MB "
                f"({self.kept} items kept, {self.dropped} dropped)")  # fmt: skip


def trim_library(source: Path, out: Path) -> TrimResult:
    """Write to ``out`` the ICU data library ``source`` with only the items :func:`keeps`
    accepts, then read it back and check it holds exactly that package."""
    symbol, data = read_common_data(source)
    package = CommonData.parse(data)
    missing_tables = sorted(t for t in KEEP_CONVERTERS if f"{t}.cnv" not in package.items)
    if missing_tables:
        raise IcuDataError(
            f"{source} has no conversion table {', '.join(missing_tables)}: this ICU names "
            "its tables differently; update KEEP_CONVERTERS in packaging/icudata.py"
        )
    trimmed_package = package.only({n for n in package.items if keeps(n)})
    missing = [n for n in REQUIRED if n not in trimmed_package.items]
    if missing:
        raise IcuDataError(
            f"the trimmed ICU data would lack {', '.join(missing)}, which Qt needs; "
            "fix the policy in packaging/icudata.py"
        )
    wanted = trimmed_package.to_bytes()
    build_library(wanted, symbol, Path(source).name, out)
    if read_common_data(out) != (symbol, wanted):
        raise IcuDataError(f"{out} does not hold the trimmed ICU data it was built from")
    return TrimResult(
        source_bytes=Path(source).stat().st_size,
        trimmed_bytes=Path(out).stat().st_size,
        kept=len(trimmed_package.items),
        dropped=len(package.items) - len(trimmed_package.items),
    )


_LIBRARY = re.compile(r"libicudata\.so\.\d+")


def trimmed(
    binaries: Sequence[tuple[str, str, str]], workdir: Path
) -> tuple[list[tuple[str, str, str]], list[TrimResult]]:
    """``binaries`` (PyInstaller TOC entries: name in the bundle, source, type) with each
    ICU data library (``libicudata.so.NN``) replaced by a trimmed copy under ``workdir``,
    and what each trim did. Raises :class:`IcuDataError` if there is none to trim."""
    result, done = [], []
    for name, source, kind in binaries:
        if _LIBRARY.fullmatch(Path(name).name):
            target = Path(workdir) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            done.append(trim_library(Path(source), target))
            source = str(target)
        result.append((name, source, kind))
    if not done:
        raise IcuDataError(
            "no libicudata.so.NN among the bundle's libraries: PySide6 no longer ships "
            "ICU's data library (or it moved); check the bundle, then drop the ICU step "
            "from packaging/assistant.spec"
        )
    return result, done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="icudata", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list the items: kept (+) or dropped (-), sizes")
    listing.add_argument("library", type=Path)
    trim = sub.add_parser("trim", help="write the trimmed library")
    trim.add_argument("library", type=Path)
    trim.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            _, data = read_common_data(args.library)
            for name, item in CommonData.parse(data).items.items():
                print(f"{'+' if keeps(name) else '-'} {len(item):9d}  {name}")
        else:
            print(trim_library(args.library, args.out).summary())
    except (IcuDataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
