"""Pages as printed: plain text split into its pages, and the running headers, footers and page
numbers that repeat at their edges found and removed.

A text rendering of a printed page ("07.03.26, 18:11 ... GOV.UK" above, "4/22" below) and a PDF both
carry these; they are not the document's words, so ``layout.build_document`` drops them, whole lines
only, and keeps the printed page numbers as page labels.
"""

from __future__ import annotations

import re
import statistics

# --- splitting plain text into pages -----------------------------------------------------

_SLASH_FOOTER = re.compile(r"(?:^|\s)(\d{1,4})\s*/\s*(\d{1,4})\s*$")
_EDGE_NUMBER = re.compile(r"^\s*(?:page\s+)?(\d{1,4}|[ivxlcdm]{1,7})(?:\s+of\s+\d{1,4})?\s*$", re.I)
_NUMBER_AT_EDGE = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6})(?=\D|$)|(?<=\D)(\d{1,4})\s*$", re.I)


def split_text_pages(text: str) -> tuple[list[list[str]], bool]:
    """Split a text file into pages when it shows where pages end.

    Recognised: form feeds; "N/M" page footers (a web page printed to PDF); and blank-line
    separated blocks that start or end with a page number (PDF-to-text conversions). Anything
    else is one unpaged text.
    """
    if "\f" in text:
        return [page.split("\n") for page in text.split("\f")], True
    lines = text.split("\n")
    footers = [(i, m) for i, line in enumerate(lines) if (m := _SLASH_FOOTER.search(line))]
    totals = [m.group(2) for _, m in footers]
    if len(footers) >= 3 and len(set(totals)) == 1:
        pages, start = [], 0
        for i, _ in footers:
            pages.append(lines[start:i + 1])
            start = i + 1
        if any(line.strip() for line in lines[start:]):
            pages.append(lines[start:])
        return pages, True
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line == "":
            if blocks[-1]:
                blocks.append([])
        else:
            blocks[-1].append(line)
    blocks = [b for b in blocks if b]
    if len(blocks) >= 3:
        def numbered(block: list[str]) -> bool:
            content = [line for line in block if line.strip()]
            return bool(content) and any(_NUMBER_AT_EDGE.search(line.strip()) for line in
                                         (content[0], content[-1]))
        long_enough = statistics.median(len(b) for b in blocks) >= 8
        if long_enough and sum(map(numbered, blocks)) >= 0.6 * len(blocks):
            return blocks, True
    return [lines], False


# --- running headers, footers and page numbers -------------------------------------------

def _edge_indexes(lines: list[str], depth: int) -> list[int]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(content[:depth] + content[-depth:]))


def _running_key(line: str) -> str:
    stripped = re.sub(r"^\s*[ivxlc]{1,6}(?=\s|[A-Z])|[ivxlc]{1,6}\s*$", "", line.strip())
    return re.sub(r"[\d\W_]+", "", stripped.lower())


def strip_page_furniture(pages: list[list[str]]) -> tuple[list[list[str]], list[str | None]]:
    """Drop running headers/footers and page numbers; return the kept lines and printed labels.

    A line is furniture when it sits among the first or last three lines of a page and either
    is a bare page number ("12", "xii", "Page 3 of 9") or repeats, digits aside, at the edge
    of at least three pages ("13The Green Book", "Executive Summary", a printed URL + "4/22").
    """
    n = len(pages)
    edge_counts: dict[str, int] = {}
    page_counts: dict[str, int] = {}
    for lines in pages:
        for key in {_running_key(lines[i]) for i in _edge_indexes(lines, 3)}:
            edge_counts[key] = edge_counts.get(key, 0) + 1
        for key in {_running_key(line) for line in lines}:
            page_counts[key] = page_counts.get(key, 0) + 1
    # At a page edge, three repeats make a running line; anywhere on the page (designed layouts
    # put the running head after sidebars), it takes a long line on a quarter of the pages.
    at_edge = {k for k, c in edge_counts.items() if k and c >= 3 and (n < 12 or c >= 0.05 * n)}
    anywhere = {k for k, c in page_counts.items() if len(k) >= 8 and c >= max(3, 0.25 * n)}

    kept: list[list[str]] = []
    label_candidates: list[dict[str, str]] = []
    for lines in pages:
        drop: set[int] = set()
        labels: dict[str, str] = {}
        edges = set(_edge_indexes(lines, 3))
        near_edges = set(_edge_indexes(lines, 2))
        for i, raw_line in enumerate(lines):
            line = raw_line.strip()
            key = _running_key(line)
            if i in edges and (m := _SLASH_FOOTER.search(line)):
                labels.setdefault("slash", m.group(1))
            if i in near_edges and (m := _EDGE_NUMBER.match(line)):
                drop.add(i)
                labels.setdefault("bare", m.group(1))
            elif ((i in edges and key in at_edge) or key in anywhere) and len(line) <= 160 \
                    and not line.endswith("."):
                drop.add(i)
                if m := _NUMBER_AT_EDGE.search(line):
                    labels.setdefault("running:" + key, m.group(1) or m.group(2))
        kept.append([line for i, line in enumerate(lines) if i not in drop])
        label_candidates.append(labels)
    return kept, _choose_labels(label_candidates)


def _choose_labels(candidates: list[dict[str, str]]) -> list[str | None]:
    """Pick the label source that varies from page to page (a date in a header does not)."""
    kinds: dict[str, list[str]] = {}
    for labels in candidates:
        for kind, value in labels.items():
            kinds.setdefault(kind, []).append(value)
    usable = [k for k, values in kinds.items() if len(set(values)) > max(1, len(values) // 2)]
    order = sorted(usable, key=lambda k: (k != "slash", k != "bare", -len(kinds[k])))
    result: list[str | None] = []
    for labels in candidates:
        result.append(next((labels[k] for k in order if k in labels), None))
    return result
