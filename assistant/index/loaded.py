"""The serving generation held in memory: what every question reads, worked out once.

``LoadedIndex.open`` reads a published generation (passages, their vectors, the word index, the
vectors of their sentences) and derives what questions need from it: each document's passage
order, the near-duplicate groups and their word triples, the vocabulary, the contents pages, the
centroid of the corpus; and, when first asked for, the topic labels. The object never changes
once open (a passage's sentence tokens and the topic labels are worked out the first time they are
needed, and kept), so the threads of a server can share it. ``Assistant`` opens a new one when an
ingest publishes.

The passages with their vectors, and the sentence vectors (most of what a generation holds), are
kept beside the generation as arrays (``passages.json/.npy``, ``sentences.json/.npy``; ingest
writes them, an open rebuilds them from Chroma when missing or stale). Opening reads those instead
of Chroma; the sentence array is mapped into memory, its pages loaded only when a question reaches
their passages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ..embed import Embedder
from ..models import Chunk, Hit, Source
from ..text import TOKENIZER_VERSION, is_filler, looks_like_contents, plain_words, shingles, tokenize
from .lexical import FILE as lexical_file
from .lexical import LexicalIndex
from .store import Generation, chunk_from_record, chunk_metadata
from .topics import TopicLabels


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
    sentences: SentenceTable  # chunk id -> its Sentences
    sources: Mapping[str, Source]  # doc id -> its source record
    vocabulary: frozenset[str]  # every word of the passages, for the typo check
    contents: frozenset[str]  # ids of passages that are contents lists
    centroid: np.ndarray | None  # mean passage vector, normalised: how near the corpus a question is
    order: Mapping[str, tuple[Chunk, ...]]  # doc id -> its passages, in document order
    following: Mapping[str, Chunk]  # chunk id -> the passage after it in its document
    groups: Mapping[str, tuple[Chunk, ...]]  # near-duplicate group -> its passages
    triples: Mapping[str, frozenset[str]]  # word triples of every passage in a group
    embedder: Embedder  # the passages' model: topic descriptions are embedded with it

    @classmethod
    def open(cls, generation: Generation, files: Path, embedder: Embedder) -> LoadedIndex:
        """Read ``generation`` into memory. Its word index and its passage and sentence arrays, kept in
        ``files``, are rebuilt (and kept) when missing or stale."""
        lexical_path = files / lexical_file
        kept = _load_passages(generation, files)
        if kept is None:
            kept = _read_passages(generation)
            with suppress(OSError):  # a read-only index folder: the next open reads Chroma again
                _save_passages(generation, files, *kept)
        chunks, vectors = kept
        lexical = LexicalIndex.load(lexical_path) if lexical_path.is_file() else None
        if lexical is None or lexical.tokenizer != TOKENIZER_VERSION:
            # Built elsewhere (a shared Chroma server), or by an older tokenizer: rebuild from the
            # passages (a second or so) and keep it.
            lexical = LexicalIndex.build((c.id, c.embed_text) for c in chunks.values())
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
            sentences=SentenceTable.open(generation, chunks, embedder, files),
            sources={c.doc_id: c.source for c in chunks.values()},
            vocabulary=frozenset(w for c in chunks.values() for w in plain_words(c.text)),
            contents=frozenset(c.id for c in chunks.values() if looks_like_contents(c.text)),
            centroid=centroid, order=order,
            following={a.id: b for passages in order.values() for a, b in pairwise(passages)},
            groups={g: tuple(members) for g, members in grouped.items()},
            triples={c.id: frozenset(shingles(c.text)) for members in grouped.values() for c in members},
            embedder=embedder,
        )

    @cached_property
    def topics(self) -> TopicLabels:
        """The topics and every passage's labels (``index/topics.py``), worked out the first time a
        topic is asked for: under a second at 1x, so a question never waits for them unasked."""
        return TopicLabels.compute(self.chunks, self.vectors, self.order, self.contents, self.embedder)

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


def _keep(files: Path, name: str, generation: Generation, matrix: np.ndarray,
          described: dict[str, Any]) -> None:
    """Write ``name``.npy (the array) and ``name``.json (what its rows are, with the generation and the
    array's shape), each whole under a temporary name and then renamed; the description last, so a
    half-written pair is never read."""
    files.mkdir(parents=True, exist_ok=True)
    array, description = files / f"{name}.npy", files / f"{name}.json"
    with open(array.with_suffix(".npy.tmp"), "wb") as handle:
        np.save(handle, np.ascontiguousarray(matrix))
    array.with_suffix(".npy.tmp").replace(array)
    text = json.dumps({"generation": generation.name, "shape": list(matrix.shape), **described},
                      ensure_ascii=False, separators=(",", ":"))
    description.with_suffix(".json.tmp").write_text(text, encoding="utf-8")
    description.with_suffix(".json.tmp").replace(description)


def _kept(files: Path, name: str, generation: Generation,
          mmap: bool) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The array and description ``_keep`` wrote, when both are whole and this generation's; else None."""
    try:
        described = json.loads((files / f"{name}.json").read_text(encoding="utf-8"))
        matrix = np.load(files / f"{name}.npy", mmap_mode="r" if mmap else None)
    except (OSError, ValueError):
        return None
    if described.get("generation") != generation.name or list(matrix.shape) != described.get("shape"):
        return None
    return matrix, described


def keep_arrays(generation: Generation, embedder: Embedder, files: Path) -> None:
    """Write what serving reads of ``generation`` into ``files``: its passages with their vectors, and
    its sentence vectors, each as one array. Ingest calls it before publishing; reading them from
    Chroma instead was most of opening a large index (48 of 60 s at 20x the corpus, on a busy machine)."""
    chunks, vectors = _read_passages(generation)
    _save_passages(generation, files, chunks, vectors)
    SentenceTable.build(generation, chunks, embedder).save(generation, files)


def _read_passages(generation: Generation) -> tuple[dict[str, Chunk], dict[str, np.ndarray]]:
    chunks: dict[str, Chunk] = {}
    vectors: dict[str, np.ndarray] = {}
    for chunk, vector in generation.iter_records(embeddings=True):
        chunks[chunk.id] = chunk
        vectors[chunk.id] = vector  # type: ignore[assignment]
    return chunks, vectors


def _save_passages(generation: Generation, files: Path, chunks: Mapping[str, Chunk],
                   vectors: Mapping[str, np.ndarray]) -> None:
    """The passages as Chroma records them (id, text, metadata), their vectors in the same order."""
    ids = list(chunks)
    matrix = np.stack([vectors[i] for i in ids]).astype(np.float32) if ids else np.zeros((0, 0), np.float32)
    _keep(files, "passages", generation, matrix,
          {"records": [[i, chunks[i].text, chunk_metadata(chunks[i])] for i in ids]})


def _load_passages(generation: Generation,
                   files: Path) -> tuple[dict[str, Chunk], dict[str, np.ndarray]] | None:
    """The kept passages and vectors, when they are this generation's (and as many as it holds); else None."""
    kept = _kept(files, "passages", generation, mmap=False)
    if kept is None or len(kept[1].get("records", ())) != generation.count():
        return None
    matrix, described = kept
    chunks = {i: chunk_from_record(i, text, meta) for i, text, meta in described["records"]}
    return chunks, {i: matrix[row] for row, i in enumerate(chunks)}


Spans = tuple[tuple[int, int], ...]  # (start, end) of each sentence in its passage's text


class SentenceTable(Mapping[str, Sentences]):
    """Every passage's quotable sentences: their vectors, rows of one array (memory-mapped from the
    generation's files), and their tokens and filler marks, worked out the first time a question
    reaches the passage. Tokenising every sentence at open cost 14 s at 20x the corpus."""

    def __init__(self, chunks: Mapping[str, Chunk], rows: Mapping[str, tuple[int, Spans]],
                 vectors: np.ndarray) -> None:
        self._chunks, self._rows, self._vectors = chunks, rows, vectors  # chunk id -> (first row, spans)
        self._made: dict[str, Sentences] = {}

    def __getitem__(self, chunk_id: str) -> Sentences:
        made = self._made.get(chunk_id)
        if made is None:
            first, spans = self._rows[chunk_id]
            chunk = self._chunks[chunk_id]
            text, title = chunk.text, chunk.source.title
            tokens = tuple(frozenset(tokenize(text[a:b], bigrams=False)) for a, b in spans)
            filler = tuple(is_filler(text[a:b], t, title) for (a, b), t in zip(spans, tokens))
            made = Sentences(spans, self._vectors[first:first + len(spans)], tokens, filler)
            made = self._made.setdefault(chunk_id, made)  # atomic: two threads keep the same one
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    @classmethod
    def open(cls, generation: Generation, chunks: Mapping[str, Chunk], embedder: Embedder,
             files: Path) -> SentenceTable:
        """The generation's sentences from its array in ``files``, or else from Chroma (then kept there)."""
        table = cls._load(generation, chunks, files)
        if table is None:
            table = cls.build(generation, chunks, embedder)
            with suppress(OSError):  # a read-only index folder: the next open reads Chroma again
                table.save(generation, files)
        return table

    @classmethod
    def build(cls, generation: Generation, chunks: Mapping[str, Chunk], embedder: Embedder) -> SentenceTable:
        """Every passage's stored sentence vectors, read from Chroma. A passage without stored
        sentences (not written by this version's ingest) has them embedded here."""
        grouped: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        for chunk_id, start, end, vector in generation.iter_sentences():
            if chunk_id in chunks:
                grouped.setdefault(chunk_id, []).append((start, end, vector))
        for chunk in (c for c in chunks.values() if c.id not in grouped):
            units = chunk.units()
            alone = embedder.embed_documents([chunk.text[a:b] for a, b in units])
            for (start, end), vector in zip(units, alone):
                grouped.setdefault(chunk.id, []).append((start, end, vector))
        rows: dict[str, tuple[int, Spans]] = {}
        stacked: list[np.ndarray] = []
        for chunk_id, found in grouped.items():
            found.sort(key=lambda r: r[0])
            rows[chunk_id] = (len(stacked), tuple((a, b) for a, b, _ in found))
            stacked.extend(v for _, _, v in found)
        vectors = np.stack(stacked).astype(np.float32) if stacked else np.zeros((0, 0), dtype=np.float32)
        return cls(chunks, rows, vectors)

    def save(self, generation: Generation, files: Path) -> None:
        """Write the array and its row map (chunk id -> first row, spans)."""
        _keep(files, "sentences", generation, self._vectors,
              {"rows": {c: [first, [list(s) for s in spans]] for c, (first, spans) in self._rows.items()}})

    @classmethod
    def _load(cls, generation: Generation, chunks: Mapping[str, Chunk], files: Path) -> SentenceTable | None:
        """The kept array, mapped into memory, when it is this generation's and covers its passages."""
        kept = _kept(files, "sentences", generation, mmap=True)
        if kept is None or set(kept[1].get("rows", ())) != set(chunks):
            return None
        vectors, described = kept
        rows = {c: (int(first), tuple((int(a), int(b)) for a, b in found))
                for c, (first, found) in described["rows"].items()}
        return cls(chunks, rows, vectors)


def _order(chunks: Iterable[Chunk]) -> dict[str, tuple[Chunk, ...]]:
    """Doc id -> its passages, by position in the document."""
    order: dict[str, list[Chunk]] = {}
    for c in sorted(chunks, key=lambda c: (c.doc_id, c.start)):
        order.setdefault(c.doc_id, []).append(c)
    return {doc_id: tuple(passages) for doc_id, passages in order.items()}
