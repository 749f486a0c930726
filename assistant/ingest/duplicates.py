"""Near-duplicates across documents: the same passage in two renderings, the same boilerplate.

The executive summary is in the corpus twice (the gov.uk page printed to PDF, and the official
PDF's text); both say the same in passages cut at different places. Linking them at ingest
(``Chunk.dup_group``) lets search fold a repeat into the passage it repeats, and cite either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from ..models import Chunk
from ..text import shingles


def link_near_duplicates(chunks: Sequence[Chunk], threshold: float = 0.5) -> list[Chunk]:
    """Give passages that repeat each other (in other documents) a shared ``dup_group``.

    Two passages are linked when half the word triples of the shorter one appear in the
    other. Groups are closed under linking; the group id is the smallest member id, so it is
    stable across runs. Returns the chunks with ``dup_group`` set (None when unique).
    """
    triples = [shingles(c.text) for c in chunks]
    postings: dict[str, list[int]] = defaultdict(list)
    for index, grams in enumerate(triples):
        for gram in grams:
            postings[gram].append(index)
    parent = list(range(len(chunks)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, grams in enumerate(triples):
        overlap: dict[int, int] = defaultdict(int)
        for gram in grams:
            postings_list = postings[gram]
            if len(postings_list) > 50:  # boilerplate phrase: says nothing about duplication
                continue
            for other in postings_list:
                if other > index and chunks[other].doc_id != chunks[index].doc_id:
                    overlap[other] += 1
        for other, shared in overlap.items():
            smaller = min(len(grams), len(triples[other]))
            if shared >= 8 and shared >= threshold * smaller:
                parent[root(other)] = root(index)

    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(chunks)):
        members[root(index)].append(index)
    group_of: dict[int, str | None] = {}
    for indexes in members.values():
        group = min(chunks[i].id for i in indexes) if len(indexes) > 1 else None
        for i in indexes:
            group_of[i] = group
    return [replace(c, dup_group=group_of[i]) if c.dup_group != group_of[i] else c
            for i, c in enumerate(chunks)]
