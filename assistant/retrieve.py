"""Search: a question in, ranked passages (``Hit``) out.

Plain dense retrieval over the serving Chroma generation, with near-duplicate collapsing
(the two renderings of the executive summary must not fill the results with the same
sentence twice). Queries are checked and tidied first: empty or punctuation-only questions
are refused with a message, control characters dropped, over-long ones cut with a note.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .embed import Embedder
from .errors import QueryError
from .models import Hit
from .settings import Settings
from .store import Generation


@dataclass(frozen=True, slots=True)
class Query:
    """A question made safe to search, and what was done to it."""

    text: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: Query
    hits: tuple[Hit, ...]
    notes: tuple[str, ...] = field(default=())


def prepare_query(text: object, settings: Settings) -> Query:
    """Validate and tidy a user's question; raises ``QueryError`` with a message to show."""
    if not isinstance(text, str):
        raise QueryError(f"The question must be text, not {type(text).__name__}.")
    notes: list[str] = []
    cleaned = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    if cleaned != text:
        notes.append("Control characters were removed from the question.")
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise QueryError("The question is empty. Type a question, for example: "
                         "\"How much is the UK Shared Prosperity Fund worth?\"")
    if not re.search(r"[^\W_]", cleaned):
        raise QueryError("The question has no words in it, only punctuation or symbols. "
                         "Type a question in words.")
    limit = settings.max_query_chars
    if len(cleaned) > limit:
        cut = cleaned[:limit].rsplit(" ", 1)[0] or cleaned[:limit]
        notes.append(f"The question was {len(cleaned):,} characters long; only the first {len(cut):,} were searched.")
        cleaned = cut
    return Query(cleaned, tuple(notes))


def collapse_duplicates(hits: list[Hit]) -> list[Hit]:
    """Keep the best-ranked passage of each near-duplicate group; renumber ranks."""
    seen: set[str] = set()
    kept: list[Hit] = []
    for hit in hits:
        group = hit.chunk.dup_group
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        kept.append(hit)
    return [Hit(h.chunk, h.score, i + 1, h.dense_rank, h.lexical_rank, h.reasons) for i, h in enumerate(kept)]


def dense_search(generation: Generation, embedder: Embedder, query: Query, k: int) -> list[Hit]:
    """The ``k`` passages closest in meaning to the query, near-duplicates collapsed."""
    vector = embedder.embed_query(query.text)
    pairs = generation.query(vector, k * 3)  # room for collapsed duplicates
    hits = [Hit(chunk, score, rank + 1, dense_rank=rank + 1) for rank, (chunk, score) in enumerate(pairs)]
    return collapse_duplicates(hits)[:k]
