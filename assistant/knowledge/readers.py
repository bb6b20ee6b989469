"""Reading documents into titled sections of plain text.

Every reader returns :class:`Section` s: a heading path ("Boiler > Pressure") and the
paragraphs under it, so the splitter can cut along headings and paragraphs. Text,
Markdown, HTML, PDF (pypdf), DOCX and ODT (both zip + XML, read with the standard
library). A file that cannot be read raises :class:`DocumentError` with a reason the
index records and shows.
"""

from __future__ import annotations

import html
import logging
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from ..store.install import human_size

__all__ = [
    "MAX_FILE_BYTES",
    "SUFFIXES",
    "DocumentError",
    "Section",
    "read_document",
]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
"""Files larger than this are not read (recorded as too large)."""

SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx",
            ".odt")  # fmt: skip
"""File name endings the index reads; other files in a folder are passed over."""


class DocumentError(Exception):
    """A file could not be read; ``str()`` is the reason shown to the user."""


@dataclass
class Section:
    """Text under one heading."""

    heading: str
    """The heading path, outermost first, joined with " > " ("" before any heading)."""
    paragraphs: list[str] = field(default_factory=list)


def read_document(path: Path) -> tuple[str, list[Section]]:
    """The title and sections of the file at ``path``.

    Raises:
        DocumentError: unreadable, too large, binary, encrypted or malformed.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise DocumentError(
            f"too large ({human_size(size)}; the limit is {human_size(MAX_FILE_BYTES)})"
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            sections = _read_pdf(path)
        elif suffix == ".docx":
            sections = _read_docx(path)
        elif suffix == ".odt":
            sections = _read_odt(path)
        elif suffix in (".html", ".htm"):
            sections = _read_html(_read_text(path))
        elif suffix in (".md", ".markdown"):
            sections = _read_markdown(_read_text(path))
        else:
            sections = _read_plain(_read_text(path))
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
    sections = [s for s in sections if s.paragraphs]
    title = next((s.heading.split(" > ")[0] for s in sections if s.heading), path.stem)
    return title, sections


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DocumentError("binary data in a text file (NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly everything
        raise DocumentError("not text in UTF-8 or Windows-1252")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise DocumentError("binary data in a text file (control characters)")
    return text


def _paragraphs(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split())
        if block:
            out.append(block)
    return out


def _read_plain(text: str) -> list[Section]:
    return [Section("", _paragraphs(text))]


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _read_markdown(text: str) -> list[Section]:
    sections = [Section("")]
    path: list[str] = []
    lines: list[str] = []
    fence = False

    def flush() -> None:
        sections[-1].paragraphs.extend(_paragraphs("\n".join(lines)))
        lines.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            continue
        match = None if fence else _MD_HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [*path[: level - 1], match.group(2).strip()]
            sections.append(Section(" > ".join(path)))
        else:
            lines.append(line)
    flush()
    return sections


_BLOCK_TAGS = {"p", "div", "li", "dd", "dt", "pre", "blockquote", "tr", "table", "section",
               "article", "br", "td", "th", "ul", "ol", "dl", "figure", "caption"}  # fmt: skip
_SKIP_TAGS = {"script", "style", "nav", "head", "noscript", "footer", "aside", "form"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


_TERM_CHARS = 80
"""A definition's term longer than this is cut (in its heading) at a word."""

_SKIP_CLASSES = ("sphinxsidebar", "related", "footer", "headerlink", "navigation")


class _HtmlText(HTMLParser):
    """Block-level text of an HTML page under its headings; navigation, scripts and
    styles left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = [Section("")]
        self._path: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._heading: int | None = None
        self._buf: list[str] = []
        self._terms: list[str] = []
        """The term of each open definition list (``<dl>``), outermost first."""
        self._in_term = False
        self._term_open = False
        """The last section was started by a term and has no text yet."""

    def _heading_path(self) -> str:
        return " > ".join([*self._path, *(t for t in self._terms if t)])

    def flush(self) -> None:
        if self._in_term:  # a block inside a term: the term goes on
            return
        text = " ".join("".join(self._buf).split())
        self._buf.clear()
        if not text:
            return
        if self._heading is not None:
            self._path = [*self._path[: self._heading - 1], text]
            self.sections.append(Section(self._heading_path()))
        else:
            self.sections[-1].paragraphs.append(text)
        self._term_open = False

    def _start_term(self) -> None:
        self.flush()
        self._in_term = bool(self._terms)

    def _end_term(self) -> None:
        """A definition's term (an API signature, a glossary word) heads the text that
        follows it, so an entry and its name stay together in a passage."""
        if not self._in_term:
            self.flush()
            return
        self._in_term = False
        text = " ".join("".join(self._buf).split())
        self._buf.clear()
        if not text:
            return
        if len(text) > _TERM_CHARS:
            text = text[:_TERM_CHARS].rsplit(" ", 1)[0] + "…"
        if self._term_open and self._terms[-1]:  # several terms, one definition
            self._terms[-1] = f"{self._terms[-1]} / {text}"
            self.sections[-1].heading = self._heading_path()
        else:
            self._terms[-1] = text
            self.sections.append(Section(self._heading_path()))
        self._term_open = True

    def _end_list(self) -> None:
        self.flush()
        if self._terms:
            self._terms.pop()
            self.sections.append(Section(self._heading_path()))
            self._term_open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            self._skip_depth += tag == self._skip_tag
            return
        attributes = dict(attrs)
        classes = attributes.get("class") or ""
        if (
            tag in _SKIP_TAGS
            or attributes.get("role") == "navigation"
            or any(name in classes for name in _SKIP_CLASSES)
        ):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in _HEADINGS:
            self.flush()
            self._heading = _HEADINGS[tag]
        elif tag == "dl":
            self.flush()
            self._terms.append("")
        elif tag == "dt":
            self._start_term()
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _HEADINGS:
            self.flush()
            self._heading = None
        elif tag == "dt":
            self._end_term()
        elif tag == "dl":
            self._end_list()
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            self._buf.append(data)


def _read_html(text: str) -> list[Section]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser.flush()
    return parser.sections


def _read_pdf(path: Path) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("encrypted PDF (needs a password)")
            except (NotImplementedError, PdfReadError) as exc:
                raise DocumentError(f"encrypted PDF ({exc})") from exc
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            paragraphs = _paragraphs(page.extract_text() or "")
            if paragraphs:
                sections.append(Section(f"page {number}", paragraphs))
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DocumentError(f"not a readable PDF ({exc})") from exc
    if not sections:
        raise DocumentError("the PDF has no text (scanned images?)")
    return sections


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _zip_xml(path: Path, member: str, what: str) -> ElementTree.Element:
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(member)
        return ElementTree.fromstring(data)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, RuntimeError) as exc:
        raise DocumentError(f"not a readable {what} file ({exc})") from exc


def _read_docx(path: Path) -> list[Section]:
    root = _zip_xml(path, "word/document.xml", "DOCX")
    sections = [Section("")]
    heading_path: list[str] = []
    for para in root.iter(f"{_W}p"):
        text = "".join(t.text or "" for t in para.iter(f"{_W}t")).strip()
        if not text:
            continue
        style = para.find(f"{_W}pPr/{_W}pStyle")
        name = (style.get(f"{_W}val") or "") if style is not None else ""
        level = _heading_level(name)
        if level:
            heading_path = [*heading_path[: level - 1], text]
            sections.append(Section(" > ".join(heading_path)))
        else:
            sections[-1].paragraphs.append(" ".join(text.split()))
    return sections


def _heading_level(style: str) -> int:
    match = re.fullmatch(r"(?i)heading\s*(\d)", style)
    if match:
        return int(match.group(1))
    return 1 if style.lower() == "title" else 0


_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


def _read_odt(path: Path) -> list[Section]:
    root = _zip_xml(path, "content.xml", "ODT")
    sections = [Section("")]
    heading_path: list[str] = []
    for element in root.iter():
        if element.tag not in (f"{_TEXT}p", f"{_TEXT}h"):
            continue
        text = " ".join("".join(element.itertext()).split())
        if not text:
            continue
        if element.tag == f"{_TEXT}h":
            level = int(element.get(f"{_TEXT}outline-level") or 1)
            heading_path = [*heading_path[: level - 1], text]
            sections.append(Section(" > ".join(heading_path)))
        else:
            sections[-1].paragraphs.append(html.unescape(text))
    return sections
