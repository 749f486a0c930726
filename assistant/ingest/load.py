"""Read a file into a ``Document``: PDF (pypdf), plain text / Markdown, and HTML.

This module knows file formats; ``layout.py`` knows page layout (running headers, page
numbers, broken lines, headings). Each reader here returns ``RawPages``: the page texts as
extracted plus any headings the format itself declares (PDF bookmarks, Markdown ``#``,
HTML ``<h1>``...). Anything that makes a file unreadable becomes a ``DocumentError`` that
names the file and says what to do, so one bad file never stops an ingest.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import logging
import math
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

from ..errors import DocumentError
from ..models import Document, Source
from ..text import printable, squash
from .layout import KnownHeading, RawPages, build_document
from .pages import split_text_pages

SUPPORTED_SUFFIXES = {".pdf", ".txt", ".md", ".markdown", ".html", ".htm"}

# pypdf reports recoverable oddities of real PDFs through logging; they are not the user's concern.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_document(path: Path, source: Source, max_bytes: int | None = None) -> Document:
    """Read ``path`` and clean it into a ``Document`` whose id and citation data come from ``source``.

    Only a regular file is read, and no more than ``max_bytes`` of it: a pipe or ``/dev/zero`` would
    never end."""
    try:
        data = read_file(path, max_bytes)
    except FileNotFoundError as exc:
        raise DocumentError(path, "does not exist; check the path") from exc
    except IsADirectoryError as exc:
        raise DocumentError(path, "is a folder, not a file") from exc
    except PermissionError as exc:
        raise DocumentError(path, "cannot be read (permission denied); check the file's permissions") from exc
    except OSError as exc:
        raise DocumentError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        what = "is empty (0 bytes)" if not data else "contains only whitespace"
        raise DocumentError(path, f"{what}; nothing to index. Check that it was saved or exported completely")

    raw = read_raw(path, data)
    document = build_document(raw, doc_id=source.id, source=source, path=path,
                              digest=hashlib.sha256(data).hexdigest())
    if not document.text.strip():
        raise DocumentError(path, "contains no text after cleaning (only page numbers or running headers?); "
                                  "nothing to index. Check the file opens with its text")
    return document


#: Why a named pipe, a device or a socket is not read: it may never end.
NOT_A_FILE = ("is not a regular file (a named pipe, device or socket); only files are read: save its "
              "contents to a file first")


def oversize(size: int, max_bytes: float | None) -> str | None:
    """Why a file of ``size`` bytes is too large to index, or None: an accidental dump would take hours
    to embed."""
    if max_bytes is None or size <= max_bytes:
        return None
    return (f"is {size / 1e6:,.1f} MB, over the {max_bytes / 1e6:g} MB limit for one file; split it, or "
            "raise LEVELUP_MAX_FILE_MB if it really is one document")


def read_file(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, opened without blocking so a named pipe is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            raise DocumentError(path, NOT_A_FILE)
        if problem := oversize(info.st_size, max_bytes):
            raise DocumentError(path, problem)
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(-1 if max_bytes is None else max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:  # it grew while being read
            raise DocumentError(path, f"grew past the {max_bytes / 1e6:g} MB limit for one file while being "
                                      "read; ingest it once it is complete")
        return data
    finally:
        os.close(fd)


# --- PDF ---------------------------------------------------------------------------------

def read_pdf(path: Path, data: bytes) -> RawPages:
    """Extract each page's text, the PDF's bookmarks, and lines set in a larger font."""
    _check_pdf_bytes(path, data)
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise FileNotDecryptedError("password required")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise DocumentError(
                    path, "is encrypted with a password; save an unprotected copy and ingest that"
                ) from exc
        outline = _outline_headings(reader)
        pages: list[str] = []
        sizes: list[list[tuple[str, float]]] = []
        for page in reader.pages:
            fragments: list[tuple[str, float]] = []

            def visit(text: str, cm: list[float], tm: list[float], font: object, size: float,
                      fragments: list[tuple[str, float]] = fragments) -> None:
                if text.strip():
                    scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
                    fragments.append((text, round(size * (scale or 1.0), 1)))

            # Font sizes are only needed to find headings when the PDF has no bookmarks.
            pages.append(page.extract_text(visitor_text=None if outline else visit) or "")
            sizes.append(fragments)
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise DocumentError(path, f"is not a readable PDF ({type(exc).__name__}: {exc}); "
                                  "re-download or re-export it") from exc

    if not any(p.strip() for p in pages):
        raise DocumentError(path, f"has no extractable text in {len(pages)} page(s) (scanned images?); "
                                  "run OCR first, e.g. `ocrmypdf in.pdf out.pdf`, and ingest the result")
    headings = outline or _font_headings(sizes)
    return RawPages(pages=[p.splitlines() for p in pages], headings=headings, physical=True,
                    printed_labels=False)


def _check_pdf_bytes(path: Path, data: bytes) -> None:
    """Refuse files that are not PDFs, or cut short, before pypdf guesses at them."""
    head = data[:1024].lstrip()
    if b"%PDF-" not in data[:1024]:
        if head.startswith(b"\x89PNG"):
            kind = "a PNG image"
        elif head[:3] == b"\xff\xd8\xff":
            kind = "a JPEG image"
        elif re.match(rb"(?i)\s*(<!doctype html|<html|<head|<body)", head):
            kind = "an HTML page (perhaps a download error page)"
        elif head.startswith(b"PK\x03\x04"):
            kind = "a ZIP/Office file"
        else:
            kind = "not a PDF"
        raise DocumentError(path, f"is named .pdf but is {kind}; fetch the real PDF again")
    if b"%%EOF" not in data[-2048:]:
        raise DocumentError(path, "is truncated (no PDF end-of-file marker); download it again")


def _outline_headings(reader: object) -> list[KnownHeading]:
    """Bookmarks as headings: their nesting gives the level, their target the page."""
    found: list[KnownHeading] = []

    def walk(items: list[object], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)  # type: ignore[attr-defined]
            except Exception:  # a broken bookmark must not lose the document
                page = None
            title = re.sub(r"\s+", " ", str(getattr(item, "title", "") or "")).strip()
            if title and page is not None:
                found.append(KnownHeading(level=level, title=title, page=page))

    try:
        walk(list(reader.outline), 1)  # type: ignore[attr-defined]
    except Exception:
        return []
    return found


def _font_headings(sizes: list[list[tuple[str, float]]]) -> list[KnownHeading]:
    """Text set noticeably larger than the body font, for PDFs without bookmarks."""
    weight: dict[float, int] = {}
    for fragments in sizes:
        for text, size in fragments:
            weight[size] = weight.get(size, 0) + len(text)
    if not weight:
        return []
    body = max(weight, key=lambda s: weight[s])
    big = sorted({s for s in weight if s >= body * 1.15}, reverse=True)[:3]
    found: list[KnownHeading] = []
    for page_index, fragments in enumerate(sizes):
        run: list[str] = []
        run_size = 0.0
        for text, size in [*fragments, ("", 0.0)]:
            if size == run_size and size in big:
                run.append(text)
                continue
            if run and len(squash("".join(run))) >= 3:
                found.append(KnownHeading(level=big.index(run_size) + 1, title=" ".join(
                    t.strip() for t in run).strip(), page=page_index, from_font=True))
            run, run_size = ([text], size) if size in big else ([], 0.0)
    return found


# --- text and Markdown -------------------------------------------------------------------

_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def decode_text(path: Path, data: bytes) -> tuple[str, list[str]]:
    """Decode bytes whatever the encoding people saved them in: BOMs, UTF-8, else Windows-1252."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), []
            except UnicodeDecodeError as exc:
                raise DocumentError(path, f"starts with a {encoding} byte-order mark but is not valid "
                                          f"{encoding}; re-save it as UTF-8") from exc
    if b"\x00" in data[:4096]:
        encoding = _utf16_without_bom(data)
        if encoding is not None:
            return data.decode(encoding), [f"no byte-order mark: read as {encoding.upper()}"]
        raise DocumentError(path, "looks binary (NUL bytes), not text; convert it to PDF, .txt or .md")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), ["not UTF-8: read as Windows-1252"]
    except UnicodeDecodeError as exc:
        raise DocumentError(path, "is in an unknown text encoding; re-save it as UTF-8") from exc


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when the bytes read as UTF-16 text without a byte-order mark (Windows
    tools save it so): text in a Latin script puts a NUL in every other byte, and decodes to printable
    characters; binary data does neither."""
    sample = data[:4096] if len(data) % 2 == 0 else data[:4095]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    encoding = "utf-16-le" if odd > half * 0.3 and even < half * 0.05 else (
        "utf-16-be" if even > half * 0.3 and odd < half * 0.05 else None)
    if encoding is None or len(data) % 2:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    shown = sum(ch.isprintable() or ch in "\n\r\t\f" for ch in text[:2000])
    return encoding if shown >= 0.95 * min(len(text), 2000) else None


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def read_text(path: Path, data: bytes, *, markdown: bool) -> RawPages:
    """Plain text or Markdown; pages come from form feeds or printed page footers (see layout)."""
    text, warnings = decode_text(path, data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pages, physical = split_text_pages(text)
    headings: list[KnownHeading] = []
    if markdown:
        for page_index, lines in enumerate(pages):
            for i, line in enumerate(lines):
                match = _MD_HEADING.match(line)
                if match:
                    lines[i] = match.group(2)
                    headings.append(KnownHeading(level=len(match.group(1)), title=match.group(2),
                                                 page=page_index, exact=True))
    return RawPages(pages=pages, headings=headings, physical=physical, warnings=warnings)


# --- HTML --------------------------------------------------------------------------------

class _ArticleText(HTMLParser):
    """Keeps the article's words and headings; drops scripts, navigation, banners and forms."""

    SKIP_TAGS = frozenset({"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg",
                           "button", "select", "template", "iframe", "head"})
    # Whole words of class/role/id values: a GOV.UK heading id like "uk-shared-prosperity-fund" is content.
    SKIP_ATTR = re.compile(r"(?<![a-z])(?:cookie|cookies|consent|banner|breadcrumbs?|navbar|menu|skip-link|"
                           r"share|social|newsletter|related|sidebar|popup|modal)(?![a-z])", re.I)
    CONTENT_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "main", "article", "table"})
    BLOCK_TAGS = frozenset({"p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "br",
                            "blockquote", "pre", "dd", "dt", "figcaption",
                            "h1", "h2", "h3", "h4", "h5", "h6"})
    VOID_TAGS = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr", "source", "area", "col",
                           "embed"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.title = ""
        self._buffer: list[str] = []
        self._skip_stack: list[str] = []
        self._heading: int | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID_TAGS:
            if tag == "br":
                self._flush()
            return
        if self._skip_stack:
            self._skip_stack.append(tag)
            return
        marker = " ".join(v or "" for k, v in attrs if k in {"id", "class", "role", "aria-label"})
        if tag == "title":
            self._in_title = True
        skip_by_attr = tag not in self.CONTENT_TAGS and bool(self.SKIP_ATTR.search(marker))
        if tag in self.SKIP_TAGS or skip_by_attr or ("hidden", None) in attrs:
            self._skip_stack.append(tag)
            return
        if tag in self.BLOCK_TAGS:
            self._flush()
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
        if tag == "li":
            self._buffer.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skip_stack:
            # Pop to the matching start tag: tolerates unclosed inner tags.
            if tag in self._skip_stack:
                while self._skip_stack and self._skip_stack.pop() != tag:
                    pass
            return
        if tag in self.BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._skip_stack and not self._in_title:
            self._buffer.append(data)

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._buffer)).strip()
        self._buffer = []
        if text and text != "•":
            if self._heading is not None:
                self.headings.append((self._heading, text))
            self.lines.append(text)
            self.lines.append("")  # each HTML block is its own paragraph
        self._heading = None

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(path: Path, data: bytes) -> RawPages:
    """An HTML page's article text (``<main>``/``<article>`` when present), headings from ``<hN>``."""
    text, warnings = decode_text(path, data)
    body = text
    for tag in ("main", "article"):
        match = re.search(rf"<{tag}\b.*?</{tag}>", text, flags=re.S | re.I)
        if match:
            body = match.group(0)
            break
    parser = _ArticleText()
    parser.feed(body)
    parser.close()
    headings = [KnownHeading(level=level, title=html.unescape(title), page=0, exact=True)
                for level, title in parser.headings]
    return RawPages(pages=[parser.lines], headings=headings, physical=False, warnings=warnings)


def read_raw(path: Path, data: bytes, *, markdown: bool = True) -> RawPages:
    """The file's pages as extracted, by its type; ``markdown=False`` keeps a Markdown file's "#" lines."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        raw = read_pdf(path, data)
    elif suffix in {".html", ".htm"}:
        raw = read_html(path, data)
    elif suffix in {".txt", ".md", ".markdown"}:
        raw = read_text(path, data, markdown=markdown and suffix != ".txt")
    else:
        raise DocumentError(path, f"unsupported file type {suffix or '(none)'}; use PDF, .md, .txt or .html")
    # Escape sequences and control characters are not text: a document must not drive a terminal.
    raw.pages = [[printable(line, keep="\t") for line in lines] for lines in raw.pages]
    return raw


def extracted_text(path: Path) -> str:
    """The text as extracted, before any cleaning: what a reader checking a quote would search."""
    raw = read_raw(path, path.read_bytes(), markdown=False)
    return "\n".join("\n".join(lines) for lines in raw.pages)
