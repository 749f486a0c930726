"""Search: a question in, ranked passages (``Hit``) out.

Stages, each switchable in ``RetrievalConfig`` so ``levelup eval --compare`` can weigh it:

1. query understanding (``query.py``): abbreviations, typos; follow-ups are resolved earlier;
2. dense candidates from Chroma and lexical (BM25) candidates from ``lexical.py``, both
   honouring the filters (document, section, page range, topic);
3. reciprocal-rank fusion, plus a boost for passages of a document the question names;
4. near-duplicates collapsed, so the top results are different pieces of evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .chunk import looks_like_contents, passage_units, shingles, split_sentences
from .embed import Embedder, embed_all
from .errors import QueryError
from .lexical import TOKENIZER_VERSION, LexicalIndex, tokenize
from .models import Chunk, Hit, Query, Source
from .query import DocumentNames, asks_who_wrote, expand, scored_texts
from .store import Generation

TOPICS = ("missions", "funds", "devolution", "skills", "transport", "housing", "health", "innovation")


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to some documents, a section, a page range or a topic."""

    documents: tuple[str, ...] = ()
    section: str | None = None  # case-insensitive substring of the heading path
    pages: tuple[int, int] | None = None  # inclusive; passages overlapping the range
    topics: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.documents or self.section or self.pages or self.topics)

    def where(self) -> dict[str, object] | None:
        """The part Chroma can apply itself."""
        clauses: list[dict[str, object]] = []
        if self.documents:
            clauses.append({"doc_id": {"$in": list(self.documents)}})
        if self.pages:
            clauses += [{"page_start": {"$lte": self.pages[1]}}, {"page_end": {"$gte": self.pages[0]}}]
        if self.topics:
            clauses += [{"topics": {"$contains": t}} for t in self.topics]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, chunk: Chunk) -> bool:
        if self.documents and chunk.doc_id not in self.documents:
            return False
        if self.section and self.section.lower() not in chunk.section.lower():
            return False
        if self.pages and not (chunk.page_start is not None and chunk.page_end is not None
                               and chunk.page_start <= self.pages[1] and chunk.page_end >= self.pages[0]):
            return False
        return all(t in chunk.topics for t in self.topics)


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """Which stages run, and their weights; ``MODES`` names the variants compared in eval."""

    dense: bool = True
    lexical: bool = True
    expand: bool = True
    route_documents: bool = True
    collapse: bool = True
    fusion: str = "weighted"  # "weighted": alpha*cosine + (1-alpha)*BM25/max; "rrf": reciprocal ranks
    alpha: float = 0.7  # weight of meaning against words (tuned on the dev set: 0.5-0.8 tried)
    rrf_k: int = 60
    route_bonus: float = 0.1  # added to the fused score of passages from a document the question names
    name_weight: float = 0.0  # in the word search, weight of the words naming a document the question names
    candidates: int = 100  # passages taken from each of dense and lexical before fusing
    contents_penalty: float = 0.1  # taken off passages that are mostly a contents list
    places: bool = True  # widen the search from a named town to the areas containing it (Assistant)
    # Extra stages, measured in `levelup eval --compare` and off by default: none beat the above on dev.
    heading_bonus: float = 0.0  # added per share of the question's words found in the section path
    mmr_lambda: float | None = None  # maximal marginal relevance: relevance weight against novelty
    sentence_weight: float = 0.0  # added times the best cosine of the question with one of the passage's sentences
    # Re-rank the first ``rerank_pool`` by each passage's best sentence as the answer composer scores it
    # (Assistant): kept, it raised MRR@10 from 0.78 to 0.83 on the dev set; weights 2-10 tried.
    sentence_rerank: float = 3.0
    rerank_pool: int = 20
    # Re-ranking, a sentence of a document the question names is compared with the question without
    # that name and the title words beside it ("a green book appraisal"): the name is its context.
    rerank_beside_name: bool = True
    # A question in parts ("... the jobs my scheme creates and Keynesian multiplier effects") has a
    # pool twice as deep re-ranked, since the passage for one part can lie below the first 20.
    parts_pool: bool = True
    # After the rerank, the passages that continue a list the question counts ("the 5 pillars") go
    # straight after the passage announcing it (lists.follow_lists).
    follow_lists: bool = True


MODES: dict[str, RetrievalConfig] = {
    "dense": RetrievalConfig(lexical=False, expand=False, route_documents=False, sentence_rerank=0),
    "lexical": RetrievalConfig(dense=False, expand=False, route_documents=False, sentence_rerank=0),
    "hybrid-rrf": RetrievalConfig(fusion="rrf", expand=False, route_documents=False, sentence_rerank=0),
    "hybrid": RetrievalConfig(expand=False, route_documents=False, sentence_rerank=0),
    "hybrid+expand": RetrievalConfig(route_documents=False, sentence_rerank=0),
    "hybrid+expand+route": RetrievalConfig(sentence_rerank=0),
    "hybrid+expand+route+rerank": RetrievalConfig(follow_lists=False),
    "hybrid+expand+route+rerank+lists": RetrievalConfig(),
    "default, no collapse": RetrievalConfig(collapse=False),
    "default, no places": RetrievalConfig(places=False),
    "default, names kept in the word search": RetrievalConfig(name_weight=1.0),
    "default, names kept when re-ranking": RetrievalConfig(rerank_beside_name=False),
    "default, one pool for questions in parts": RetrievalConfig(parts_pool=False),
    "default +heading match": RetrievalConfig(heading_bonus=0.05),
    "default +mmr": RetrievalConfig(mmr_lambda=0.85),
    "default +cosine sentence rescoring": RetrievalConfig(sentence_weight=0.2),
}
DEFAULT_MODE = "hybrid+expand+route+rerank+lists"


@dataclass
class SearchIndex:
    """A published generation, with what search needs of it held in memory."""

    generation: Generation
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    names: DocumentNames
    vocabulary: frozenset[str] = field(default_factory=frozenset)
    contents: frozenset[str] = field(default_factory=frozenset)  # ids of passages that are contents lists
    # Passage vectors, held so every fused candidate gets its exact cosine (Chroma finds the candidates).
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _centroid: np.ndarray | None = None

    def topicality(self, vector: np.ndarray, hits: Sequence[Hit]) -> tuple[float, float]:
        """How close a question is to the documents: (best cosine with a retrieved passage, cosine with the
        mean of all passages). Both low: the question is about something else (the weather, a recipe)."""
        if self._centroid is None and self.vectors:
            mean = np.mean(np.stack(list(self.vectors.values())), axis=0)
            self._centroid = mean / (np.linalg.norm(mean) or 1.0)
        best = max((float(self.vectors[h.chunk.id] @ vector) for h in hits if h.chunk.id in self.vectors),
                   default=0.0)
        return best, float(self._centroid @ vector) if self._centroid is not None else 1.0
    _sentences: dict[str, tuple[list[tuple[int, int]], np.ndarray]] = field(default_factory=dict)
    _order: dict[str, list[Chunk]] = field(default_factory=dict)
    _words: dict[str, list[frozenset[str]]] = field(default_factory=dict)
    _filler: dict[tuple[str, int], bool] = field(default_factory=dict)
    _groups: dict[str, list[Chunk]] = field(default_factory=dict)
    _shingles: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, generation: Generation, lexical_path: Path) -> SearchIndex:
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
        sources: dict[str, Source] = {c.doc_id: c.source for c in chunks.values()}
        words = {w for c in chunks.values() for w in re.findall(r"[a-z0-9&]+", c.text.lower())}
        contents = frozenset(c.id for c in chunks.values() if looks_like_contents(c.text))
        index = cls(generation, chunks, lexical, DocumentNames(sources.values()), frozenset(words), contents,
                    vectors)
        index.load_sentences()
        return index

    def renderings(self, chunk: Chunk) -> list[Chunk]:
        """Passages of other documents that show this one's text: the same passage in the other
        rendering of the executive summary. Half its word triples must be in the other passage."""
        if chunk.dup_group is None:
            return []
        if not self._groups:
            for c in self.chunks.values():
                if c.dup_group is not None:
                    self._groups.setdefault(c.dup_group, []).append(c)
        own = self.triples(chunk)
        scored = [(len(own & self.triples(c)), c) for c in self._groups.get(chunk.dup_group, [])
                  if c.doc_id != chunk.doc_id]
        return [c for shared, c in sorted(scored, key=lambda x: (-x[0], x[1].id)) if shared >= 0.5 * len(own)]

    def triples(self, chunk: Chunk) -> set[str]:
        """The passage's word triples (chunk.shingles), computed once."""
        if chunk.id not in self._shingles:
            self._shingles[chunk.id] = shingles(chunk.text)
        return self._shingles[chunk.id]

    def documents(self) -> dict[str, Source]:
        return {c.doc_id: c.source for c in self.chunks.values()}

    def sentence_words(self, chunk: Chunk, spans: list[tuple[int, int]]) -> list[frozenset[str]]:
        """The word-search tokens of each sentence of a passage, worked out once."""
        if chunk.id not in self._words:
            self._words[chunk.id] = [frozenset(tokenize(chunk.text[a:b], bigrams=False)) for a, b in spans]
        return self._words[chunk.id]

    def is_filler(self, chunk: Chunk, row: int, judge: Callable[[], bool]) -> bool:
        """Whether a passage's sentence is filler (contents, caption, title page), judged once and kept."""
        key = (chunk.id, row)
        if key not in self._filler:
            self._filler[key] = judge()
        return self._filler[key]

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        """The passage that follows ``chunk`` in its document."""
        if not self._order:
            for c in sorted(self.chunks.values(), key=lambda c: (c.doc_id, c.start)):
                self._order.setdefault(c.doc_id, []).append(c)
        passages = self._order.get(chunk.doc_id, [])
        position = next((i for i, c in enumerate(passages) if c.id == chunk.id), None)
        return passages[position + 1] if position is not None and position + 1 < len(passages) else None

    def load_sentences(self) -> None:
        """Read every passage's stored sentence vectors (and their words) into memory, once.

        ``open`` does this, so the first question does not pay for it (about half a second here)."""
        if self._sentences:
            return
        grouped: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        for chunk_id, start, end, vector in self.generation.iter_sentences():
            grouped.setdefault(chunk_id, []).append((start, end, vector))
        for chunk_id, rows in grouped.items():
            rows.sort(key=lambda r: r[0])
            self._sentences[chunk_id] = ([(a, b) for a, b, _ in rows], np.stack([v for _, _, v in rows]))
            if chunk_id in self.chunks:  # their words too, once: answers and re-ranking score them often
                self.sentence_words(self.chunks[chunk_id], self._sentences[chunk_id][0])

    def sentence_vectors(self, chunk: Chunk, embedder: Embedder) -> tuple[list[tuple[int, int]], np.ndarray]:
        """A passage's quotable units and their vectors, as stored at ingest."""
        self.load_sentences()
        if chunk.id not in self._sentences:  # not stored (should not happen): compute and keep
            spans = passage_units(chunk)
            self._sentences[chunk.id] = (spans, embedder.embed_documents([chunk.text[s:e] for s, e in spans]))
        return self._sentences[chunk.id]


def search(index: SearchIndex, embedder: Embedder, query: Query, k: int, filters: Filters = Filters(),
           config: RetrievalConfig = RetrievalConfig(), for_answer: bool = False) -> tuple[Query, list[Hit]]:
    """The ``k`` best passages for ``query``; returns the query as searched (with its notes) too.

    ``for_answer``: the answer composer, not re-ranking, will score the results' sentences."""
    unknown = [d for d in filters.documents if d not in index.documents()]
    if unknown:
        known = ", ".join(sorted(index.documents()))
        raise QueryError(f"No indexed document has the id {', '.join(unknown)}. Indexed: {known}.")
    if filters.topics and not set(filters.topics) <= set(TOPICS):
        raise QueryError(f"Unknown topic {', '.join(sorted(set(filters.topics) - set(TOPICS)))}; "
                         f"choose from {', '.join(TOPICS)}.")
    if config.expand:
        query = expand(query, index.vocabulary, getattr(embedder, "dictionary", ()))
    pool = config.candidates
    dense: dict[str, float] = {}
    lexical: dict[str, float] = {}
    if config.dense:
        # The texts the results' sentences will be scored against (by re-ranking or by the composer) are
        # embedded in the same model call as the question: texts[0] is the question as searched.
        texts, inside = ([query.searched], []) if not (for_answer or config.sentence_rerank) else \
            scored_texts(query, index.names, ranking=not for_answer, beside_name=config.rerank_beside_name)
        vector = embed_all(embedder, texts + inside)[0]
        found_ids = index.generation.nearest(vector, pool * (4 if filters.section else 1), filters.where())
        dense = {i: score for i, score in found_ids if i in index.chunks and filters.accepts(index.chunks[i])}
    named = index.names.named_in(query.text) if config.route_documents else set()
    if config.lexical:
        # Words that name a document the question names match its every mention of itself ("the
        # Green Book recommends ..."); routing already favours that document, so the word search
        # looks for the rest of the question.
        tokens = tokenize(query.searched)
        weights = [1.0] * len(tokens)
        rest = set(tokenize(index.names.without_names(query.searched))) if named else set()
        if config.name_weight < 1 and len({t for t in rest if "_" not in t}) >= 2 and not asks_who_wrote(query.text):
            weights = [1.0 if t in rest else config.name_weight for t in tokens]
        extra = [t for t in _phrase_tokens(query.related) if t not in tokens]
        found_words = index.lexical.top(tokens + extra, pool * 4 if filters.active else pool,
                                        weights + [0.5] * len(extra))
        lexical = {i: score for i, score in found_words if i in index.chunks and filters.accepts(index.chunks[i])}
    dense_rank = {c: r for r, c in enumerate(sorted(dense, key=lambda c: (-dense[c], c))[:pool], 1)}
    lexical_rank = {c: r for r, c in enumerate(sorted(lexical, key=lambda c: (-lexical[c], c))[:pool], 1)}
    if config.dense and config.lexical:
        # A passage only the word search found gets its own cosine, not a guess: exact, and repeatable
        # (the approximate nearest-neighbour cut-off can differ by a hair from run to run).
        for chunk_id in lexical_rank:
            if chunk_id not in dense and chunk_id in index.vectors:
                dense[chunk_id] = float(index.vectors[chunk_id] @ vector)
    scores = _fuse(dense, lexical, dense_rank, lexical_rank, config)

    for chunk_id in scores:
        if chunk_id in index.contents:
            scores[chunk_id] -= config.contents_penalty  # a contents list names sections, answers nothing

    bonus = config.route_bonus if config.fusion == "weighted" else config.route_bonus / (config.rrf_k + 1) * 10
    for chunk_id in scores:
        if index.chunks[chunk_id].doc_id in named:
            scores[chunk_id] += bonus

    shortlist = sorted(scores, key=lambda i: (-scores[i], i))[: max(20, k * 3)]  # ties by id: repeatable
    if config.heading_bonus or config.sentence_weight:
        _rescore(index, embedder, query, shortlist, scores, config)
        shortlist.sort(key=lambda i: (-scores[i], i))
    if config.mmr_lambda is not None:
        shortlist = _mmr(index, shortlist, scores, config.mmr_lambda)
    hits = []
    for chunk_id in shortlist:
        chunk = index.chunks[chunk_id]
        reasons = [f"meaning #{dense_rank[chunk_id]}"] if chunk_id in dense_rank else []
        reasons += [f"words #{lexical_rank[chunk_id]}"] if chunk_id in lexical_rank else []
        reasons += ["from the document the question names"] if chunk.doc_id in named else []
        hits.append(Hit(chunk, scores[chunk_id], len(hits) + 1, dense_rank.get(chunk_id),
                        lexical_rank.get(chunk_id), tuple(reasons)))
    if config.collapse:
        hits = collapse_duplicates(hits, index)
    return query, hits[:k]


def _rescore(index: SearchIndex, embedder: Embedder, query: Query, shortlist: list[str], scores: dict[str, float],
             config: RetrievalConfig) -> None:
    """Heading-path match and best-sentence similarity (the offline stand-in for a cross-encoder)."""
    words = set(tokenize(query.text, bigrams=False))
    vector = embedder.embed_query(query.searched) if config.sentence_weight else None
    for chunk_id in shortlist:
        chunk = index.chunks[chunk_id]
        if config.heading_bonus and chunk.heading_path and words:
            heading = set(tokenize(" ".join(chunk.heading_path), bigrams=False))
            scores[chunk_id] += config.heading_bonus * len(words & heading) / len(words)
        if vector is not None:
            scores[chunk_id] += config.sentence_weight * float((index.sentence_vectors(chunk, embedder)[1] @ vector).max())


def _mmr(index: SearchIndex, shortlist: list[str], scores: dict[str, float], weight: float) -> list[str]:
    """Reorder for novelty: each pick trades its score against its likeness to the picks before it."""
    vectors = {c: index.vectors[c] for c in shortlist if c in index.vectors} or index.generation.vectors(shortlist)
    chosen: list[str] = []
    rest = list(shortlist)
    while rest:
        def value(c: str) -> float:
            likeness = max((float(vectors[c] @ vectors[o]) for o in chosen), default=0.0)
            return weight * scores[c] - (1 - weight) * likeness
        best = max(rest, key=value)
        chosen.append(best)
        rest.remove(best)
    return chosen


def _fuse(dense: dict[str, float], lexical: dict[str, float], dense_rank: dict[str, int],
          lexical_rank: dict[str, int], config: RetrievalConfig) -> dict[str, float]:
    """One score per candidate from the two rankings.

    Weighted: cosine similarity and BM25 scaled by the query's best BM25 score, mixed by
    ``alpha``; a passage only one side found gets that side's lowest score from the other
    (a bound, not a zero, so one strong signal is not wiped out). RRF: 1/(k + rank) summed.
    """
    candidates = set(dense_rank) | set(lexical_rank)
    if config.fusion == "rrf":
        return {c: (1 / (config.rrf_k + dense_rank[c]) if c in dense_rank else 0.0)
                + (1 / (config.rrf_k + lexical_rank[c]) if c in lexical_rank else 0.0) for c in candidates}
    if not dense:
        top = max(lexical.values(), default=1.0) or 1.0
        return {c: lexical[c] / top for c in candidates}
    if not lexical:
        return {c: dense[c] for c in candidates}
    floor = min(dense[c] for c in dense_rank)
    top = max(lexical.values()) or 1.0
    alpha = config.alpha
    return {c: alpha * dense.get(c, floor) + (1 - alpha) * lexical.get(c, 0.0) / top for c in candidates}


def _phrase_tokens(phrases: Sequence[str]) -> list[str]:
    """Word-search tokens for added phrases: a name of several words counts only as its word pairs, so
    "West Yorkshire" does not match every "West"."""
    tokens: list[str] = []
    for phrase in phrases:
        found = tokenize(phrase)
        pairs = [t for t in found if "_" in t]
        tokens += pairs or found
    return tokens


def collapse_duplicates(hits: Sequence[Hit], index: SearchIndex | None = None, threshold: float = 0.85) -> list[Hit]:
    """Fold a passage that adds no evidence beyond better-ranked near-duplicates into the one it
    repeats (``Hit.also``); with ``index``, every result also carries its passage's other renderings
    found there, retrieved or not; renumber ranks.

    Passages linked at ingest (``dup_group``: the same text in two renderings) are compared
    sentence by sentence: a passage is folded only when ``threshold`` of its sentences (by length)
    are already shown above. One that also carries something new (the renderings cut their
    passages at different places) stays a result of its own, so no evidence is hidden.
    """
    shown: dict[str, set[str]] = {}  # dup group -> word triples already shown
    kept: list[Hit] = []
    for hit in hits:
        group = hit.chunk.dup_group
        if group is None:
            kept.append(hit)
            continue
        seen = shown.setdefault(group, set())
        sentences = [shingles(hit.chunk.text[s:e]) for s, e in split_sentences(hit.chunk.text)]
        total = sum(len(s) for s in sentences) or 1
        covered = sum(len(s) for s in sentences if s and len(s & seen) >= 0.8 * len(s))
        if seen and covered / total >= threshold:
            words = set().union(*sentences)
            twin = max((i for i, h in enumerate(kept) if h.chunk.dup_group == group),
                       key=lambda i: len(words & (index.triples(kept[i].chunk) if index else
                                                  shingles(kept[i].chunk.text))))
            kept[twin] = replace(kept[twin], also=(*kept[twin].also, hit.chunk))
            continue
        seen.update(*sentences)
        kept.append(hit)
    if index is not None:
        kept = [replace(h, also=(*h.also, *[c for c in index.renderings(h.chunk)[:2]
                                             if c.id not in {a.id for a in h.also}]))
                if h.chunk.dup_group else h for h in kept]
    return [replace(h, rank=i + 1) for i, h in enumerate(kept)]
