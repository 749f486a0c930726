"""Lists in answers: a question asking for one gets the sentence that introduces it, then its items.

"What are the 5 pillars?" is answered by "This new policy regime is based on 5 mutually
reinforcing pillars." and then "First, ...", "Second, ..." in document order, however far on
they run in the chapter; "what are the principles of ...?" by the line ending "the following
Principles:" and the bullets after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..index.loaded import LoadedIndex
from ..models import Chunk, Count, Hit
from ..text import COUNT, ENUMERATOR, ORDINAL_ITEM, number_value
from .scoring import Candidate

# "five mutually reinforcing pillars", "4 new areas": a sentence that says how many items follow and
# ends by saying so ("... based on 5 mutually reinforcing pillars.", "... in four areas:").
ANNOUNCES = re.compile(rf"\b({COUNT})\s+(?:[\w-]+\s+){{0,3}}[\u2018\u2019'\"]?[a-z]{{3,}}s[\u2019'\"]?"
                       r"\s*[.:]?$", re.I)


def announced_count(text: str, count: Count | None) -> int | None:
    """How many items ``text`` says follow: "based on five mutually reinforcing pillars" (a list noun),
    or the count and noun the question asks for (``count``: "makes three checks" for "the three checks")."""
    found = ANNOUNCES.search(text) or (count.pattern.search(text) if count else None)
    return number_value(found.group(0).split()[0]) if found else None


def introduces_list(text: str, count: Count | None) -> bool:
    """ "... underpinned by the following Principles:", "... based on 5 mutually reinforcing pillars." """
    text = " ".join(text.split())
    return text.endswith(":") or announced_count(text, count) is not None


def list_lead(chosen: list[Candidate], candidates: Sequence[Candidate],
              count: Count | None) -> list[Candidate]:
    """For a list question, lead with the sentence that introduces the list when one scores close to the
    best ("... sets out the Principles which will guide ..." is about them; the one ending in
    "the following Principles:" is followed by them)."""
    top = chosen[0]
    if introduces_list(top.text, count):
        return chosen
    for candidate in candidates[1:12]:
        if candidate.score < top.score - 0.16:
            break
        if introduces_list(candidate.text, count):
            return [candidate, *[c for c in chosen if c.text != candidate.text]]
    return chosen


def follow_list(index: LoadedIndex, chosen: list[Candidate], limit: int,
                count_asked: Count | None) -> list[Candidate]:
    """When the best sentence introduces a list, the list is what follows it, in document order.

    "... is based on five mutually reinforcing pillars." announces a count (so does "makes three
    checks" when the question asks for "the three checks"): the items are the enumerated units after
    it ("First, ...", "Second, ...", bullets), however far on they run. A heading ("Restore a sense
    of community, ...") or a line ending in ":" is followed by its items up to the next heading-like line.
    """
    top = chosen[0]
    text = " ".join(top.text.split())
    count = announced_count(text, count_asked)
    heading_like = not re.search(r"[.!?;]$", text) and len(text.split()) <= 24
    # "...Review: micromobility vehicles; ..." holds its list.
    inline = re.search(r":\s*\S+(?:\s+\S+){2,}", text)
    if inline:
        return chosen
    if not (count or text.endswith(":") or heading_like):
        return _same_paragraph(index, chosen, limit)
    wanted = min(limit, count) if count else limit
    following: list[Candidate] = []
    chunk: Chunk | None = top.hit.chunk
    after = top.end
    section = top.hit.chunk.heading_path[:1]
    while chunk is not None and len(following) < 60:
        spans = index.sentences[chunk.id].spans
        hit = top.hit if chunk is top.hit.chunk else Hit(chunk, top.hit.score, top.hit.rank)
        following += [Candidate(hit, a, b, top.score) for a, b in spans if a >= after]
        chunk, after = index.next_chunk(chunk), 0
        if chunk is not None and chunk.heading_path[:1] != section:
            break  # a list does not run on into another chapter
    if count:
        enumerated = [c for c in following if ENUMERATOR.match(c.text.strip())]
        ordinal = [c for c in enumerated if ORDINAL_ITEM.match(c.text.strip())]
        enumerated = ordinal if len(ordinal) >= 2 else enumerated
        items = (enumerated if len(enumerated) >= 2 else following)[:wanted]
    else:
        items = []
        for c in following[: 3 * wanted]:
            piece = " ".join(c.text.split())
            heading = not re.search(r"[.!?;:]$", piece) and len(piece.split()) <= 24
            if items and not ENUMERATOR.match(piece) and heading:
                break  # the next heading (a short line that is not a bullet): the list is over

            items.append(c)
        items = items[:wanted]
    items = [Candidate(c.hit, c.start, c.end, top.score - 0.001 * (i + 1)) for i, c in enumerate(items)]
    return [top, *items, *[c for c in chosen[1:] if all(c.text != i.text for i in items)]]


def _same_paragraph(index: LoadedIndex, chosen: list[Candidate], limit: int) -> list[Candidate]:
    """A list question whose best sentence starts a paragraph of commitments ("£560 million will be invested
    in young people ... We will ensure the Duke of Edinburgh Award ... We will give more students ... the
    cadets"): the rest of that paragraph are items of the same list."""
    top = chosen[0]
    text = top.hit.chunk.text
    spans = index.sentences[top.hit.chunk.id].spans
    items: list[Candidate] = []
    end = top.end
    for start, stop in spans:
        if start < end:
            continue
        if "\n\n" in text[end:start] or len(items) >= min(4, limit - 1):
            break
        items.append(Candidate(top.hit, start, stop, top.score - 0.01 * (len(items) + 1)))
        end = stop
    return [top, *items, *[c for c in chosen[1:] if all(c.text != i.text for i in items)]]
