"""After the first ranking: re-rank by best sentence, follow counted lists, fold repeats.

* ``rerank``              re-orders passages by their best sentence, as the answer scorer scores it
                          (``Assistant`` hands the scores in): the offline stand-in for a cross-encoder;
* ``follow_lists``        "This new policy regime is based on 5 mutually reinforcing pillars. First,
                          ..." starts a list whose "Second, ..." to "Fifth, ..." can sit several passages
                          later, past a table: for "the 5 pillars", the passages that carry the rest go
                          straight after the one announcing it;
* ``collapse_duplicates`` a passage that repeats a better-ranked one (the other rendering of the
                          executive summary) is folded into it, so the top results are different evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from ..index.loaded import LoadedIndex
from ..models import Chunk, Hit, Query
from ..text import ITEM_IN_TEXT, last_ordinal, number_value, shingles, split_sentences


def rerank(hits: Sequence[Hit], best: Mapping[str, float], weight: float) -> list[Hit]:
    """Re-order ``hits`` by score + ``weight`` x the best sentence score of each passage (``best``,
    by chunk id; a passage without one counts 0); the new first says it was moved by its best sentence."""
    ordered = sorted(hits, key=lambda h: (-(h.score + weight * best.get(h.chunk.id, 0.0)), h.chunk.id))
    return [replace(h, score=h.score + weight * best.get(h.chunk.id, 0.0), rank=i + 1,
                    reasons=(*h.reasons, "best sentence")) if i == 0 else
            replace(h, score=h.score + weight * best.get(h.chunk.id, 0.0), rank=i + 1)
            for i, h in enumerate(ordered)]


def prefer_verified(hits: Sequence[Hit], share: float) -> list[Hit]:
    """Order passages of a document with no known publisher (``Source.verified``) as if they scored
    ``share`` of their score: one must beat the vouched-for passages by a wide margin to stay above
    them, so a planted file's "the fund is worth £999bn" does not lead the White Paper's figure.
    Ranks are renumbered; nothing is dropped."""
    if all(h.chunk.source.verified for h in hits):
        return list(hits)

    def weight(hit: Hit) -> float:
        return hit.score if hit.chunk.source.verified else hit.score - (1 - share) * abs(hit.score)

    ordered = sorted(hits, key=lambda h: -weight(h))  # stable: ties keep their order
    return [replace(h, rank=i) for i, h in enumerate(ordered, 1)]


_MOST_PASSAGES_SCANNED = 8  # a list's items run on past a table or two, not across a chapter


def list_continuation(chunk: Chunk, count: int, next_chunk: Callable[[Chunk], Chunk | None]) -> list[Chunk]:
    """The passages after ``chunk`` that hold the rest of a list of ``count`` items it announces.

    Items are ordinal sentences ("Second, ...", "Finally, ...") and bullets. Passages without
    items (a table between two pillars) are stepped over; the scan ends at the last item, at
    another chapter, or after a few passages.
    """
    found = len(ITEM_IN_TEXT.findall(chunk.text))
    following: list[Chunk] = []
    current: Chunk | None = chunk
    chapter = chunk.heading_path[:1]
    for _ in range(_MOST_PASSAGES_SCANNED):
        if found >= count or current is None:
            break
        current = next_chunk(current)
        if current is None or current.heading_path[:1] != chapter:
            break
        items = ITEM_IN_TEXT.findall(current.text)
        if items:
            following.append(current)
            found += len(items)
            if any(i.lower() in {last_ordinal(count), "finally", "lastly"} for i in items if i):
                break
    return following


def follow_lists(hits: Sequence[Hit], query: Query, next_chunk: Callable[[Chunk], Chunk | None],
                 within: int = 3) -> list[Hit]:
    """Put the passages that continue a list the question asks for right after the passage announcing it.

    Only for a question that names a count ("the 5 pillars", "four new areas"), and only when one
    of the first ``within`` passages announces that count of that thing.
    """
    if query.count is None:
        return list(hits)
    pattern = query.count.pattern
    for position, hit in enumerate(hits[:within]):
        announced = pattern.search(hit.chunk.text)
        if not announced:
            continue
        count = number_value(announced.group(0).split()[0])
        following = list_continuation(hit.chunk, count, next_chunk)
        if not following:
            return list(hits)
        ids = {c.id for c in following}
        by_id = {h.chunk.id: h for h in hits}
        added = [replace(by_id.get(c.id) or Hit(c, hit.score, 0), score=hit.score - 1e-3 * (i + 1),
                         reasons=(*(by_id[c.id].reasons if c.id in by_id else ()),
                                  f"continues the list announced in #{position + 1}"))
                 for i, c in enumerate(following)]
        rest = [h for h in hits if h.chunk.id not in ids]
        ordered = [*rest[:position + 1], *added, *rest[position + 1:]]
        return [replace(h, rank=i + 1) for i, h in enumerate(ordered)]
    return list(hits)


def collapse_duplicates(hits: Sequence[Hit], index: LoadedIndex | None = None,
                        threshold: float = 0.85) -> list[Hit]:

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
                       key=lambda i: len(words & (index.triples_of(kept[i].chunk) if index else
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
