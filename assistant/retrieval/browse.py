"""Browsing passages by topic, document and page range: the commitments explorer's one query.

No question is needed: the passages a filter admits are listed, those closest to the topic first
when a topic is chosen, else in document order. With words to look for, ``Assistant.browse`` ranks
the admitted passages by search instead and hands the hits here to be shown the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..index.loaded import LoadedIndex
from ..models import Chunk, Filters, Hit, passage_fields
from ..topics import Label
from .search import allowed, check_filters


@dataclass(frozen=True, slots=True)
class Row:
    """A passage as the explorer lists it, with its topic labels and why it carries each."""

    chunk: Chunk
    labels: tuple[Label, ...]  # every label, those of the chosen topics first

    def to_dict(self) -> dict[str, object]:
        return {**passage_fields(self.chunk),
                "labels": [{"topic": label.topic, "why": label.why} for label in self.labels]}


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of rows, and how many passages the filter admits in all."""

    rows: tuple[Row, ...]
    total: int
    offset: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "offset": self.offset, "rows": [r.to_dict() for r in self.rows]}


def listing(index: LoadedIndex, filters: Filters, limit: int, offset: int = 0) -> Listing:
    """The passages ``filters`` admit: with a topic, the closest to it first (``Label.similarity``);
    otherwise in document order, documents by title."""
    check_filters(index, filters)
    accepted = allowed(index, filters)
    if filters.topics:
        first = filters.topics[0]
        chosen = [index.chunks[i] for i in index.topics.having.get(first, ()) if accepted(i)]
        chosen.sort(key=lambda c: (-_closeness(index, c, first), c.doc_id, c.start))
    else:
        documents = sorted(index.order, key=lambda d: (index.sources[d].title, d))
        chosen = [c for d in documents for c in index.order[d] if accepted(c.id)]
    return Listing(tuple(row(index, c, filters) for c in chosen[offset:offset + limit]), len(chosen), offset)


def rows_of(index: LoadedIndex, hits: Sequence[Hit], filters: Filters) -> Listing:
    """Search hits shown as rows (all of them: search already kept to ``filters``)."""
    return Listing(tuple(row(index, h.chunk, filters) for h in hits), len(hits))


def row(index: LoadedIndex, chunk: Chunk, filters: Filters) -> Row:
    labels = index.topics.of(chunk.id)
    first = [label for label in labels if any(index.topics.carries(label, t) for t in filters.topics)]
    return Row(chunk, (*first, *(label for label in labels if label not in first)))


def _closeness(index: LoadedIndex, chunk: Chunk, topic: str) -> float:
    """The passage's similarity with ``topic`` (for a group, with the closest of its topics)."""
    labels = index.topics.of(chunk.id)
    return max((label.similarity for label in labels if index.topics.carries(label, topic)), default=0.0)
