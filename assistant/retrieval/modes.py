"""The retrieval modes ``levelup eval --compare`` weighs: which stages run, and their weights.

Every stage can be switched off, so each is kept only on measured figures (the README's table).
``DEFAULT_MODE`` is what ``Assistant`` uses unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    # Taken off passages of a document with no known publisher (``Source.verified``): a file dropped
    # into an ingest must not outrank the government's own texts when both speak to the question.
    unverified_penalty: float = 0.15
    # ... and, once ordered, they are placed as if they scored this share of their score (rerank.py).
    unverified_share: float = 0.75
    places: bool = True  # widen the search from a named town to the areas containing it (Assistant)
    # Extra stages, measured in `levelup eval --compare` and off by default: none beat the above on dev.
    heading_bonus: float = 0.0  # added per share of the question's words found in the section path
    mmr_lambda: float | None = None  # maximal marginal relevance: relevance weight against novelty
    # added times the best cosine of the question with one of the passage's sentences
    sentence_weight: float = 0.0

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
