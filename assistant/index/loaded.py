"""The serving generation held in memory: what every question reads, worked out once.

``LoadedIndex.open`` reads a published generation (passages, their vectors, the stored vectors
of their sentences, the word index) and derives everything questions need from it: each
sentence's word-search tokens and whether it is filler, each document's passage order, the
near-duplicate groups and their word triples, the vocabulary, the contents pages, the centroid
of the corpus. A question pays for none of it, and the object never changes once open, so the
threads of a server can share it. ``Assistant`` opens a new one when an ingest publishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..embed import Embedder
from ..models import Chunk, Hit, Source
from ..text import TOKENIZER_VERSION, is_filler, looks_like_contents, plain_words, shingles, tokenize
from .lexical import LexicalIndex
from .store import Generation


@dataclass(frozen=True, slots=True)
class Sentences:
    """A passage's quotable units, as stored at ingest, and what scoring reads of each."""

    spans: tuple[tuple[int, int], ...]  # offsets in the passage text
    vectors: np.ndarray  # one row per span, unit length
    tokens: tuple[frozenset[str], ...]  # word-search tokens of each (no pairs)
    filler: tuple[bool, ...]  # a contents line, caption or title-page line: it names things, states nothing


@dataclass(frozen=True)
class LoadedIndex:
    """A published generation, with what search and answers need of it held in memory."""

    generation: Generation
    chunks: Mapping[str, Chunk]
    vectors: Mapping[str, np.ndarray]  # passage vectors: every fused candidate gets its exact cosine
    lexical: LexicalIndex
    sentences: Mapping[str, Sentences]
    sources: Mapping[str, Source]  # doc id -> its source record
    vocabulary: frozenset[str]  # every word of the passages, for the typo check
    contents: frozenset[str]  # ids of passages that are contents lists
    centroid: np.ndarray | None  # mean passage vector, normalised: how near the corpus a question is
    order: Mapping[str, tuple[Chunk, ...]]  # doc id -> its passages, in document order
    following: Mapping[str, Chunk]  # chunk id -> the passage after it in its document
    groups: Mapping[str, tuple[Chunk, ...]]  # near-duplicate group -> its passages
    triples: Mapping[str, frozenset[str]]  # word triples of every passage in a group

    @classmethod
    def open(cls, generation: Generation, lexical_path: Path, embedder: Embedder) -> LoadedIndex:
        """Read ``generation`` into memory; the word index is rebuilt (and kept) when missing or stale."""
        chunks: dict[str, Chunk] = {}
        vectors: dict[str, np.ndarray] = {}
        for chunk, vector in generation.iter_records(embeddings=True):
            chunks[chunk.id] = chunk
            vectors[chunk.id] = vector  # type: ignore[assignment]
        lexical = LexicalIndex.load(lexical_path) if lexical_path.is_file() else None
        if lexical is None or lexical.tokenizer != TOKENIZER_VERSION:
            # Built elsewhere (a shared Chroma server), or by an older tokenizer: rebuild from the
            # passages (a second or so) and keep it.
            lexical = LexicalIndex.build((c.id, c.embed_text) for c in chunks.values())
            lexical_path.parent.mkdir(parents=True, exist_ok=True)
            lexical.save(lexical_path)
        centroid = None
        if vectors:
            mean = np.mean(np.stack(list(vectors.values())), axis=0)
            centroid = mean / (np.linalg.norm(mean) or 1.0)
        order = _order(chunks.values())
        grouped: dict[str, list[Chunk]] = {}
        for c in chunks.values():
            if c.dup_group is not None:
                grouped.setdefault(c.dup_group, []).append(c)
        return cls(
            generation=generation, chunks=chunks, vectors=vectors, lexical=lexical,
            sentences=_sentences(generation, chunks, embedder),
            sources={c.doc_id: c.source for c in chunks.values()},
            vocabulary=frozenset(w for c in chunks.values() for w in plain_words(c.text)),
            contents=frozenset(c.id for c in chunks.values() if looks_like_contents(c.text)),
            centroid=centroid, order=order,
            following={a.id: b for passages in order.values() for a, b in pairwise(passages)},
            groups={g: tuple(members) for g, members in grouped.items()},
            triples={c.id: frozenset(shingles(c.text)) for members in grouped.values() for c in members},
        )

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        """The passage that follows ``chunk`` in its document."""
        return self.following.get(chunk.id)

    def triples_of(self, chunk: Chunk) -> frozenset[str]:
        """The passage's word triples (``text.shingles``): held for near-duplicates, else worked out."""
        found = self.triples.get(chunk.id)
        return found if found is not None else frozenset(shingles(chunk.text))

    def renderings(self, chunk: Chunk) -> list[Chunk]:
        """Passages of other documents that show this one's text: the same passage in the other
        rendering of the executive summary. Half its word triples must be in the other passage."""
        if chunk.dup_group is None:
            return []
        own = self.triples_of(chunk)
        scored = [(len(own & self.triples_of(c)), c) for c in self.groups.get(chunk.dup_group, ())
                  if c.doc_id != chunk.doc_id]
        return [c for shared, c in sorted(scored, key=lambda x: (-x[0], x[1].id)) if shared >= 0.5 * len(own)]

    def topicality(self, vector: np.ndarray, hits: Sequence[Hit]) -> tuple[float, float]:
        """How close a question is to the documents: (best cosine with a retrieved passage, cosine with the
        mean of all passages). Both low: the question is about something else (the weather, a recipe)."""
        best = max((float(self.vectors[h.chunk.id] @ vector) for h in hits if h.chunk.id in self.vectors),
                   default=0.0)
        return best, float(self.centroid @ vector) if self.centroid is not None else 1.0


def _sentences(generation: Generation, chunks: Mapping[str, Chunk],
               embedder: Embedder) -> dict[str, Sentences]:
    """Every passage's stored sentence vectors, with their tokens and filler marks.

    A passage without stored sentences (not written by this version's ingest) has them embedded here."""
    grouped: dict[str, list[tuple[int, int, np.ndarray]]] = {}
    for chunk_id, start, end, vector in generation.iter_sentences():
        grouped.setdefault(chunk_id, []).append((start, end, vector))
    missing = [c for c in chunks.values() if c.id not in grouped]
    for chunk in missing:
        units = chunk.units()
        for (start, end), vector in zip(units, embedder.embed_documents([chunk.text[a:b] for a, b in units])):
            grouped.setdefault(chunk.id, []).append((start, end, vector))
    out: dict[str, Sentences] = {}
    for chunk_id, rows in grouped.items():
        if chunk_id not in chunks:
            continue
        text, title = chunks[chunk_id].text, chunks[chunk_id].source.title
        rows.sort(key=lambda r: r[0])
        spans = tuple((a, b) for a, b, _ in rows)
        tokens = tuple(frozenset(tokenize(text[a:b], bigrams=False)) for a, b in spans)
        filler = tuple(is_filler(text[a:b], t, title) for (a, b), t in zip(spans, tokens))
        out[chunk_id] = Sentences(spans, np.stack([v for _, _, v in rows]), tokens, filler)
    return out


def _order(chunks: Iterable[Chunk]) -> dict[str, tuple[Chunk, ...]]:
    """Doc id -> its passages, by position in the document."""
    order: dict[str, list[Chunk]] = {}
    for c in sorted(chunks, key=lambda c: (c.doc_id, c.start)):
        order.setdefault(c.doc_id, []).append(c)
    return {doc_id: tuple(passages) for doc_id, passages in order.items()}
