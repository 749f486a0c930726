"""Questions about the documents themselves, answered from their source records.

"When was the Green Book published?", "which department published the skills agreement?": the
answer is in the manifest (publisher, date), cited as the document's source record (a citation of
kind "source"), and, when the document states it too ("Published 2 February 2022" on its title
page), that line is quoted beside it. Passages rarely say it in a sentence, and cleaning drops the
running headers that do, so searching for it finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ..index.loaded import LoadedIndex
from ..models import Answer, Citation, Query, Source

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def when(published: str) -> str:
    """ "2022-02-02" as "2 February 2022", "2019-03" as "March 2019"; anything else as it is."""
    match = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", published)
    if not match:
        return published
    year, month, day = match.groups()
    if month and 1 <= int(month) <= 12:
        named = _MONTHS[int(month) - 1]
        return f"{int(day)} {named} {year}" if day else f"{named} {year}"
    return year


def answer_from_records(query: Query, sources: Sequence[Source], index: LoadedIndex) -> Answer:
    """What the source records of the documents ``query`` names say of what it asks (``asks_record``)."""
    citations: list[Citation] = []
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        if (source.publisher, source.published) in seen and len(sources) > 1:
            continue  # the other rendering of the same document: said once
        seen.add((source.publisher, source.published))
        said = []
        if "publisher" in query.asks_record:
            said.append(f"by {source.publisher}")
        if "published" in query.asks_record:
            said.append(f"{_preposition(source.published)} {when(source.published)}")
        markers = [_cite(citations, Citation.of_source(len(citations) + 1, source))]
        own = _own_statement(index, source, query)
        if own is not None:
            markers.append(_cite(citations, replace(own, n=len(citations) + 1)))
        lines.append(f"{source.title} was published {' '.join(said)}. {''.join(markers)}")
    return Answer(question=query.text, text=" ".join(lines), citations=tuple(citations), kind="answer",
                  notes=query.notes)


def _preposition(published: str) -> str:
    return "on" if re.match(r"^\d{4}-\d{2}-\d{2}", published) else "in"


def _cite(citations: list[Citation], citation: Citation) -> str:
    citations.append(citation)
    return f"[{citation.n}]"


def _own_statement(index: LoadedIndex, source: Source, query: Query) -> Citation | None:
    """The document's own line stating the date or publisher ("Published 2 February 2022"), from its first
    passages, as a quote; None when it has none."""
    needles = []
    if "published" in query.asks_record and re.match(r"^\d{4}-\d{2}", source.published):
        needles.append(when(source.published).lower())
    if "publisher" in query.asks_record:
        needles += [part.strip().lower() for part in re.split(r"[/(),]| with ", source.publisher)
                    if len(part.strip()) > 8]
    if not needles:
        return None
    for chunk in index.order.get(source.id, ())[:5]:
        for start, end in index.sentences[chunk.id].spans:
            unit = " ".join(chunk.text[start:end].split()).lower().replace("&", "and")
            if any(needle.replace("&", "and") in unit for needle in needles):
                return Citation.of(0, chunk, start, end)
    return None
