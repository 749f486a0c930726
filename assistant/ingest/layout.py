"""Turn extracted page text into clean, traceable document text.

Extracted text carries the marks of print: running headers and footers, page numbers,
lines broken at the margin, words hyphenated across lines. ``build_document`` removes those
and nothing else: it drops whole lines that repeat at page edges or are page numbers, joins
the lines of a paragraph with a space (or, for a hyphenated line end, with nothing), and
never changes a word otherwise. Every passage cut from ``Document.text`` is therefore the
source's own words.

It also finds section headings, from the best evidence available: the format's own
(PDF bookmarks, Markdown/HTML headings, larger fonts), the document's printed contents list,
and as a last resort the shape of a line (short, capitalised, unpunctuated, followed by a
paragraph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..models import Document, Heading, Page, Source
from ..text import BULLETS, readable, squash
from .pages import strip_page_furniture


@dataclass(frozen=True, slots=True)
class KnownHeading:
    """A heading declared by the file format, located on a page (0-based)."""

    level: int
    title: str
    page: int
    exact: bool = False  # the heading is a whole line of its own (Markdown, HTML)
    from_font: bool = False


@dataclass(slots=True)
class RawPages:
    """What a reader extracted: lines per page, plus headings the format declares."""

    pages: list[list[str]]
    headings: list[KnownHeading] = field(default_factory=list)
    physical: bool = True  # True when the pages are real pages (PDF, or printed page markers found)
    warnings: list[str] = field(default_factory=list)
    # Text conversions show printed page numbers, the only ones a reader has; a PDF viewer goes by the
    # PDF's own page, which is also what a #page=N link opens, so PDFs keep that.
    printed_labels: bool = True


# --- paragraphs --------------------------------------------------------------------------

# A line that starts a list item: the corpus's bullets, other glyphs raw PDF lines start with, dashes,
# "(a)", "(iv)", "a.", "2." and "2.1".
_BULLET = re.compile(rf"^\s*(?:[{BULLETS}\u25a0\u25e6\u2023\u2043\uf0b7*]|[-\u2013\u2014]\s|"
                     r"\(?[a-z]\)\s|\(?[ivx]{1,4}\)\s|[a-z]\.\s|\d{1,3}[.)]\s|\d+(?:\.\d+)+\s)")
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'\u2019\u201d)\]]*$")
_HYPHEN_END = re.compile(r"([A-Za-z]+)[-\u00ad]$")


@dataclass(slots=True)
class _Block:
    lines: list[tuple[int, str]]  # (page index, stripped line)
    aside: bool = False  # a run of very short lines: a pull quote, sidebar or figure labels
    text: str = ""
    line_offsets: list[int] = field(default_factory=list)  # offset of each line in ``text``
    heading_level: int | None = None
    heading_title: str = ""


def _starts_lower(line: str) -> bool:
    return bool(re.match(r"^[\"'\u2018\u201c(]?[a-z]", line))


_OPEN_ENDING = re.compile(r"\b(?:the|of|and|to|in|for|a|an|on|with|by|at|from|or|as|its|their|our|"
                          r"this|that|which|between|into|than)$", re.I)


@dataclass(slots=True)
class _HeadingHints:
    """What is known about heading lines before paragraphs are formed.

    ``joined`` is the squashed text of the declared headings (bookmarks, a printed contents
    list) run together, ``starts`` where each one begins in it, and ``entries`` the headings
    themselves. A line that is part of a declared heading never shares a paragraph with body
    text; headings glued or re-wrapped differently from the contents list still match.
    """

    joined: str = ""
    starts: frozenset[int] = frozenset()
    entries: frozenset[str] = frozenset()
    skip_pages: frozenset[int] = frozenset()

    def is_heading_line(self, line: str, page: int, continuing: bool = False) -> bool:
        """Is ``line`` (part of) a declared heading? A first line must start a heading."""
        key = squash(line)
        if page in self.skip_pages or len(key) < 4 or len(line) > 160 or line.endswith("."):
            return False
        numbered = re.match(r"(.*\D)\s\d{1,3}$", line)
        if numbered and squash(numbered.group(1)) in self.entries:
            return False  # "Careers 7": a contents entry, not the heading itself
        if continuing:
            return key in self.joined
        if not re.match(r"[A-Z0-9]", line):
            return False
        found = self.joined.find(key)
        while found >= 0:
            if found in self.starts:
                return True
            found = self.joined.find(key, found + 1)
        return False


def _hints(raw: RawPages, pages: list[list[str]]) -> _HeadingHints:
    if raw.headings:
        entries = [squash(h.title) for h in raw.headings]
        toc_pages: set[int] = set()
    else:
        entries, toc_pages = _contents_entries(pages)
    starts, offset = set(), 0
    for entry in entries:
        starts.add(offset)
        offset += len(entry)
    return _HeadingHints("".join(entries), frozenset(starts), frozenset(entries), frozenset(toc_pages))


def _paragraphs(pages: list[list[str]], width: float, hints: _HeadingHints) -> list[_Block]:
    """Group lines into paragraphs, across page breaks when a sentence runs on."""
    lines: list[tuple[int, str, bool]] = []  # (page, line, blank line before it on the same page)
    for page_index, page_lines in enumerate(pages):
        blank = False
        for raw in page_lines:
            line = re.sub(r"[ \t\u00a0]+", " ", raw).strip()
            if line:
                lines.append((page_index, line, blank))
            blank = not line and any(p == page_index for p, _, _ in lines[-1:])
    # A run of three or more very short lines is one block: a pull quote ("The UK" / "Government is"),
    # or the cells of a table row. Contents entries ("Careers 7") are not short lines: each is its own.
    short = [len(line) <= 25 and not _BULLET.match(line) and not re.search(r"\s\d{1,3}$", line)
             for _, line, _ in lines]
    aside = [any(j + 3 <= len(short) and all(short[j:j + 3]) for j in range(max(0, i - 2), i + 1))
             for i in range(len(lines))]
    blocks: list[_Block] = []
    current: list[tuple[int, str]] = []
    previous_heading = False
    for i, (page_index, line, blank) in enumerate(lines):
        heading = hints.is_heading_line(line, page_index, continuing=previous_heading) and not aside[i]
        if current:
            previous_page, previous = current[-1]
            if aside[i] != aside[i - 1]:
                blocks.append(_Block(current, aside=aside[i - 1]))
                current = []
            elif aside[i]:
                pass  # a pull quote stays one block
            elif (
                heading != previous_heading
                or (heading and (squash(previous) in hints.entries or previous.endswith("?")))
                or blank
                or _breaks(previous, line, width, page_index != previous_page)
                or (_ENDS_SENTENCE.search(previous)
                    and _heading_shaped([text for _, text, _ in lines[i:i + 3]], width))
            ):
                blocks.append(_Block(current))
                current = []
        current.append((page_index, line))
        previous_heading = heading
    if current:
        blocks.append(_Block(current, aside=aside[-1]))
    return blocks


def _breaks(a: str, b: str, width: float, new_page: bool) -> bool:
    if _BULLET.match(b):
        return True
    if new_page:
        return not _starts_lower(b)
    if _ENDS_SENTENCE.search(a):
        return len(a) < 0.8 * width
    return (len(a) < 0.6 * width and not _starts_lower(b) and not _HYPHEN_END.search(a)
            and not _OPEN_ENDING.search(a))


def _heading_shaped(ahead: list[str], width: float) -> bool:
    """Do the next one or two lines look like a heading followed by a new paragraph?"""
    if not ahead or not re.match(r"[A-Z0-9]", ahead[0]) or len(ahead[0]) > 0.85 * width:
        return False
    first = ahead[0]
    if first.endswith("?"):
        return True
    if re.search(r"[.,;:!]$", first):
        return False
    if _OPEN_ENDING.search(first):
        return (len(ahead) == 3 and len(ahead[1]) <= 0.85 * width and not re.search(r"[.,;:!]$", ahead[1])
                and bool(re.match(r"[A-Z0-9\u2022]", ahead[2])))
    return len(ahead) >= 2 and bool(re.match(r"[A-Z0-9\u2022]", ahead[1]))


def _join(block: _Block) -> None:
    """Join a paragraph's lines with spaces.

    A word hyphenated at a line end keeps its hyphen and its line break ("high-\ncrime",
    "Well-\nbeing"), so a quote still matches the source text as extracted once whitespace is
    normalised ("high- crime"), as citation checks compare it; ``readable`` shows "high-crime".
    Only a soft hyphen, which the judging normalisation drops too, is removed with its line break.
    """
    parts: list[str] = []
    offsets: list[int] = []
    length = 0
    for i, (_, line) in enumerate(block.lines):
        if i > 0:
            prev = parts[-1]
            if prev.endswith("\u00ad") and re.match(r"[a-z]", line):
                parts[-1] = prev[:-1]
                length -= 1
            elif _HYPHEN_END.search(prev) and re.match(r"[a-z]", line):
                parts.append("\n")
                length += 1
            else:
                parts.append(" ")
                length += 1
        offsets.append(length)
        parts.append(line)
        length += len(line)
    block.text = "".join(parts)
    block.line_offsets = offsets


# --- headings ----------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(?:chapter\s+|annex\s+|part\s+)?(\d+|[A-Z])((?:\.\d+)*)\.?\s+\S", re.I)


def _numbering_level(title: str) -> int | None:
    match = _NUMBERED.match(title)
    if not match:
        return None
    return 1 + match.group(2).count(".")


def _split_heading_prefix(block: _Block, title_key: str) -> _Block | None:
    """When a declared heading was glued to the paragraph after it, cut it off as its own block."""
    for k in range(1, min(4, len(block.lines))):
        if squash(" ".join(line for _, line in block.lines[:k])) == title_key:
            rest = _Block(block.lines[k:])
            block.lines = block.lines[:k]
            return rest
    return None


def _apply_known(blocks: list[_Block], known: list[KnownHeading]) -> list[tuple[int, KnownHeading]]:
    """Mark the blocks that are declared headings; return headings with no block (bookmark-only)."""
    missing: list[tuple[int, KnownHeading]] = []
    cursor = 0
    for heading in known:
        key = squash(heading.title)
        if not key:
            continue
        found = None
        for index in range(cursor, len(blocks)):
            block = blocks[index]
            page = block.lines[0][0]
            if page > heading.page + 1:
                break
            if page < heading.page - 1 or block.heading_level is not None:
                continue
            block_key = squash(" ".join(line for _, line in block.lines))
            if block_key == key:
                found = index
                break
            if block_key.startswith(key) and not heading.exact:
                rest = _split_heading_prefix(block, key)
                if rest is not None:
                    _join(block)
                    _join(rest)
                    blocks.insert(index + 1, rest)
                    found = index
                    break
        if found is None:
            if not heading.from_font:
                missing.append((cursor, heading))
            continue
        blocks[found].heading_level = heading.level
        blocks[found].heading_title = heading.title
        cursor = found + 1
    return missing


def _contents_entries(pages: list[list[str]]) -> tuple[list[str], set[int]]:
    """The squashed lines of a printed contents list (page numbers cut), and its pages."""
    entries: list[str] = []
    toc_pages: set[int] = set()
    limit = max(3, len(pages) // 5)
    for page_index, lines in enumerate(pages[:limit]):
        for i, line in enumerate(lines):
            if squash(line) == "contents":
                toc_pages.add(page_index)
                entries.extend(squash(re.sub(r"\s\d{1,3}\s*$", "", entry)) for entry in lines[i + 1:])
                break
    return [e for e in entries if e], toc_pages


def _looks_like_heading(block: _Block, next_block: _Block | None) -> bool:
    text = readable(block.text)  # "Well-\nbeing" is one word
    words = text.split()
    return (
        next_block is not None
        and not block.aside
        and len(block.lines) <= 2
        and 10 <= len(text) <= 100
        and 2 <= len(words) <= 14
        and bool(re.match(r"^[A-Z0-9\u2018\u201c\"']", text))
        and not re.search(r"[.,;:\u2013\u2014-]$", text)
        and not _BULLET.match(text)
        and not re.search(r"[£$%@]|https?://|www\.", text)
        and bool(re.match(r"^[\"'\u2018\u201c(]?[A-Z0-9\u2022\u25cf]", next_block.text))
    )


def _detect_headings(blocks: list[_Block], raw: RawPages,
                     hints: _HeadingHints) -> list[tuple[int, KnownHeading]]:
    missing = _apply_known(blocks, raw.headings)
    if raw.headings:  # the format declared its structure: trust it alone
        return missing
    numbered_toc = any(re.match(r"\d+[a-z]", entry) for entry in hints.entries)
    level_in_force = 0
    for index, block in enumerate(blocks):
        if block.lines[0][0] in hints.skip_pages or block.aside:
            continue
        next_block = blocks[index + 1] if index + 1 < len(blocks) else None
        if all(hints.is_heading_line(line, page, continuing=i > 0)
               for i, (page, line) in enumerate(block.lines)):
            level = _numbering_level(block.text) or (2 if numbered_toc else 1)
            block.heading_level, block.heading_title = level, block.text
            level_in_force = level
        elif _looks_like_heading(block, next_block):
            level = _numbering_level(block.text) if not hints.entries else None
            block.heading_level = min(6, level or level_in_force + 1)
            block.heading_title = block.text
    return missing


# --- assembling the document -------------------------------------------------------------

def _typical_width(pages: list[list[str]]) -> float:
    lengths = sorted(len(line.strip()) for lines in pages for line in lines if len(line.strip()) >= 20)
    if not lengths:
        return 80.0
    return float(lengths[int(0.9 * (len(lengths) - 1))])


def build_document(raw: RawPages, *, doc_id: str, source: Source, path: Path, digest: str) -> Document:
    """Clean ``raw`` into a ``Document``: text, page spans and headings with their levels."""
    pages, labels = strip_page_furniture(raw.pages) if raw.physical else (raw.pages, [None])
    hints = _hints(raw, pages)
    blocks = _paragraphs(pages, _typical_width(pages), hints)
    for block in blocks:
        _join(block)
    missing = _detect_headings(blocks, raw, hints)

    text_parts: list[str] = []
    offset = 0
    page_starts: dict[int, int] = {}
    headings: list[Heading] = []
    missing_at = {index: [] for index, _ in missing}
    for index, heading in missing:
        missing_at[index].append(heading)
    for index, block in enumerate(blocks):
        for heading in missing_at.get(index, []):
            headings.append(Heading(heading.level, heading.title, offset, offset))
        if text_parts:
            text_parts.append("\n\n")
            offset += 2
        for (page_index, _), line_offset in zip(block.lines, block.line_offsets):
            page_starts.setdefault(page_index, offset + line_offset)
        if block.heading_level is not None:
            title = readable(block.heading_title or block.text)
            headings.append(Heading(block.heading_level, title, offset, offset + len(block.text)))
        text_parts.append(block.text)
        offset += len(block.text)
    for heading in missing_at.get(len(blocks), []):
        headings.append(Heading(heading.level, heading.title, offset, offset))
    text = "".join(text_parts)

    page_spans: list[Page] = []
    if raw.physical:
        next_start = len(text)
        for page_index in range(len(pages) - 1, -1, -1):
            start = page_starts.get(page_index, next_start)
            label = labels[page_index] if raw.printed_labels and page_index < len(labels) else None
            page_spans.append(Page(page_index + 1, label or str(page_index + 1), start, next_start))
            next_start = start
        page_spans.reverse()
    return Document(id=doc_id, source=source, path=path, text=text, pages=tuple(page_spans),
                    headings=tuple(headings), digest=digest, warnings=tuple(raw.warnings))
