"""Search: an understood question in, ranked passages (``Hit``) out.

Stages, each switchable in ``RetrievalConfig`` (``modes.py``) so ``levelup eval --compare`` can
weigh it:

1. dense candidates from Chroma and lexical (BM25) candidates from the word index, both
   honouring the filters (document, section, page range, topic);
2. weighted fusion of the two (or reciprocal ranks), a contents page marked down, and a bonus
   for passages of a document the question names;
3. near-duplicates folded (``rerank.collapse_duplicates``), so the top results are different
   pieces of evidence.

Re-ranking and list-following come after, in ``rerank.py``; ``Assistant`` runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import QueryError
from ..index.loaded import LoadedIndex
from ..models import Filters, Hit, Query
from ..text import tokenize
from ..topics import FUNDS, MISSIONS
from .modes import RetrievalConfig
from .rerank import collapse_duplicates, prefer_verified


def check_filters(index: LoadedIndex, filters: Filters) -> None:
    """``QueryError`` for a filter no passage can meet: a document id not indexed, a topic not known."""
    unknown = [d for d in filters.documents if d not in index.sources]
    if unknown:
        known = ", ".join(sorted(index.sources))
        raise QueryError(f"No indexed document has the id {', '.join(unknown)}. Indexed: {known}.")
    if filters.topics:
        known_topics = [MISSIONS, FUNDS, *(t.id for t in index.topics.topics)]
        unknown = sorted(set(filters.topics) - set(known_topics))
        if unknown:
            raise QueryError(f"Unknown topic {', '.join(unknown)}; choose from {', '.join(known_topics)} "
                             "(`levelup topics` lists them with their passages).")


def allowed(index: LoadedIndex, filters: Filters) -> Callable[[str], bool]:
    """Whether a passage (by id) meets ``filters``, topics included."""
    topical: frozenset[str] | None = None
    for topic in filters.topics:
        members = index.topics.having.get(topic, frozenset())
        topical = members if topical is None else topical & members
    return lambda i: (i in index.chunks and filters.accepts(index.chunks[i])
                      and (topical is None or i in topical))


def search(index: LoadedIndex, query: Query, vector: np.ndarray | None, k: int, filters: Filters = Filters(),
           config: RetrievalConfig = RetrievalConfig()) -> list[Hit]:
    """The ``k`` best passages for ``query`` (understood, and embedded as ``vector``), best first.

    ``vector`` may be None only for a mode without the meaning search."""
    check_filters(index, filters)
    accepted = allowed(index, filters)
    pool = config.candidates
    dense: dict[str, float] = {}
    lexical: dict[str, float] = {}
    if config.dense:
        assert vector is not None, "the meaning search needs the question's vector"
        if filters.topics:  # Chroma does not know the labels: every labelled passage gets its exact cosine
            dense = {i: float(index.vectors[i] @ vector) for i in index.vectors if accepted(i)}
        else:
            wide = pool * (4 if filters.section else 1)
            found_ids = index.generation.nearest(vector, wide, filters.where())
            dense = {i: score for i, score in found_ids if accepted(i)}
    named = query.named if config.route_documents else frozenset()
    if config.lexical:
        # Words that name a document the question names match its every mention of itself ("the
        # Green Book recommends ..."); routing already favours that document, so the word search
        # looks for the rest of the question.
        tokens = list(query.tokens)
        weights = [1.0] * len(tokens)
        rest = query.name_free_tokens if named else frozenset()
        if config.name_weight < 1 and len({t for t in rest if "_" not in t}) >= 2 and not query.asks_author:
            weights = [1.0 if t in rest else config.name_weight for t in tokens]
        extra = [t for t in _phrase_tokens(query.related) if t not in tokens]
        wanted = len(index.chunks) if filters.topics else pool * 4 if filters.active else pool
        found_words = index.lexical.top(tokens + extra, wanted, weights + [0.5] * len(extra))
        lexical = {i: score for i, score in found_words if accepted(i)}
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
        if not index.chunks[chunk_id].source.verified:
            scores[chunk_id] -= config.unverified_penalty

    # Reciprocal ranks are small numbers: the bonus is scaled to them.
    bonus = config.route_bonus
    if config.fusion != "weighted":
        bonus = config.route_bonus / (config.rrf_k + 1) * 10

    for chunk_id in scores:
        if index.chunks[chunk_id].doc_id in named:
            scores[chunk_id] += bonus

    shortlist = sorted(scores, key=lambda i: (-scores[i], i))[: max(20, k * 3)]  # ties by id: repeatable
    if (config.heading_bonus or config.sentence_weight) and vector is not None:
        _rescore(index, query, vector, shortlist, scores, config)
        shortlist.sort(key=lambda i: (-scores[i], i))
    if config.mmr_lambda is not None:
        shortlist = _mmr(index, shortlist, scores, config.mmr_lambda)
    hits: list[Hit] = []
    for chunk_id in shortlist:

        chunk = index.chunks[chunk_id]
        reasons = [f"meaning #{dense_rank[chunk_id]}"] if chunk_id in dense_rank else []
        reasons += [f"words #{lexical_rank[chunk_id]}"] if chunk_id in lexical_rank else []
        reasons += ["from the document the question names"] if chunk.doc_id in named else []
        hits.append(Hit(chunk, scores[chunk_id], len(hits) + 1, dense_rank.get(chunk_id),
                        lexical_rank.get(chunk_id), tuple(reasons)))
    hits = prefer_verified(hits, config.unverified_share)
    if config.collapse:
        hits = collapse_duplicates(hits, index)
    return hits[:k]


def _rescore(index: LoadedIndex, query: Query, vector: np.ndarray, shortlist: list[str],
             scores: dict[str, float], config: RetrievalConfig) -> None:
    """Heading-path match and best-sentence cosine: experiments, off by default (``modes.MODES``)."""
    words = query.words
    for chunk_id in shortlist:
        chunk = index.chunks[chunk_id]
        if config.heading_bonus and chunk.heading_path and words:
            heading = set(tokenize(" ".join(chunk.heading_path), bigrams=False))
            scores[chunk_id] += config.heading_bonus * len(words & heading) / len(words)
        if config.sentence_weight:
            best = float((index.sentences[chunk.id].vectors @ vector).max())
            scores[chunk_id] += config.sentence_weight * best


def _mmr(index: LoadedIndex, shortlist: list[str], scores: dict[str, float], weight: float) -> list[str]:
    """Reorder for novelty: each pick trades its score against its likeness to the picks before it."""
    vectors = {c: index.vectors[c] for c in shortlist if c in index.vectors} \
        or index.generation.vectors(shortlist)

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
