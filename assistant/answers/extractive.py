"""The offline composer: an answer made only of quoted, cited sentences.

Extractive by design, so an answer can never state what its sources don't: every sentence of
``Answer.text`` is a sentence of a retrieved passage, copied verbatim and followed by its
marker. From the scored sentences the gate let through (``Evidence``), it leads with the best
sentence (a close second that holds the whole lead and more leads instead), adds the next ones
that score close to it, or the items of a list for a list question, cites the same sentence in
the other rendering beside it, puts the government text before commentary that says the same,
adds what the documents say about the user's own area, and keeps the answer near
``settings.answer_words`` words, putting the rest under "more".
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Answer, Citation, Query
from ..places.context import next_steps, place_citation, place_statement
from ..settings import Settings, get_settings
from ..text import LEADING_BULLET, readable, shingles, tokenize
from .composer import Evidence
from .gate import NOT_ANSWERED, Decision, abstention
from .lists import follow_list, list_lead
from .scoring import Candidate


class ExtractiveComposer:
    """Quotes the best sentences verbatim, each with its citation; needs no model."""

    name = "extractive"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = get_settings(settings)

    def compose(self, query: Query, evidence: Evidence) -> Answer:
        """An answer to ``query`` from ``evidence``, every sentence quoted and cited.

        About a place (``query.place``), the answer opens with the place's areas as a cited fact
        from the ONS lookup and says whether the passages name them."""
        settings, hits, listing = self.settings, evidence.hits, query.listing
        candidates = _fuller_lead(list(evidence.candidates))
        chosen, renderings = _pick(candidates, listing, settings)
        if not chosen:  # nothing clears the bar once repeats and fragments are set aside
            return abstention(query, hits, Decision("not_covered", NOT_ANSWERED))
        if listing:
            chosen = follow_list(evidence.index, list_lead(chosen, candidates, query.count), 9, query.count)
            _cite_renderings(chosen, candidates, renderings)
        elif chosen and chosen[0].hit.chunk.source.kind != "government":
            chosen = _primary_first(chosen, candidates, settings, renderings)
        places = query.place
        if places.found and query.about_place:
            chosen = _local_too(chosen, candidates, places.areas, settings)
        chosen = _once(chosen, renderings)
        margin = 0.16 if listing else 0.11
        # A list is given whole when it can be: twice the words of a plain answer, at most ten items.
        main, more = _within_budget(chosen, candidates[0].score - margin, 10 if listing else 4,
                                    settings.answer_words * (2 if listing else 1))

        citations: list[Citation] = []
        lines: list[str] = []
        extra: list[str] = []
        # Only the user's own place gets its fact and the statement of what the passages name; a place
        # that is the topic ("buses outside London") is just words of the question.
        place = next((m for m in places.matches if m.status == "found"), None) if places.own else None
        gazetteer = evidence.gazetteer
        lead = ""
        if place is not None and gazetteer is not None:
            citations.append(place_citation(1, place, gazetteer))
            lead = f"{place.message} [1]"
        for group, out in ((main, lines), (more, extra)):
            for candidate in group:
                markers = []
                for source in [candidate, *renderings.get(id(candidate), [])]:
                    citation = Citation.of(len(citations) + 1, source.hit.chunk, source.start, source.end)
                    citations.append(citation)
                    markers.append(f"[{citation.n}]")
                sentence = LEADING_BULLET.sub("", readable(candidate.text))
                said = f"{sentence} {''.join(markers)}"
                out.append(f"- {said}" if listing else said)
        text = "\n".join(lines) if listing else " ".join(lines)
        quotes = [(c.n, c.quote) for c in citations if c.kind == "document"]
        statement = place_statement(places, gazetteer, quotes) if gazetteer is not None and place else None

        text = "\n\n".join(t for t in (lead, text, statement) if t)
        return Answer(question=query.text, text=text, citations=tuple(citations),
                      kind="list" if listing else "answer", more=tuple(extra), notes=query.notes,
                      trace=tuple(hits), next_steps=next_steps(query))


def _words(text: str) -> int:
    return len(text.split())


def _same(a: set[str], b: set[str]) -> bool:
    return len(a & b) >= 0.6 * max(1, min(len(a), len(b)))


def _fuller_lead(candidates: list[Candidate]) -> list[Candidate]:
    """A close second that holds the whole lead and more ("...Review: micromobility vehicles; Mobility as a
    Service; ...", where the lead stops at the colon) says the same and finishes it: it leads instead."""
    lead = " ".join(candidates[0].text.lower().split()).rstrip(":")
    for candidate in candidates[1:4]:
        close = candidate.score >= candidates[0].score - 0.05
        if close and lead in " ".join(candidate.text.lower().split()) \
                and len(candidate.text) > len(candidates[0].text) + 20:
            return [candidate, *[c for c in candidates if c is not candidate]]
    return candidates


def _once(chosen: list[Candidate], renderings: dict[int, list[Candidate]]) -> list[Candidate]:
    """Each sentence once, whichever step brought it: a later repeat (from another rendering) is cited
    beside the first instead of said again."""
    kept: list[Candidate] = []
    grams: list[set[str]] = []
    for candidate in chosen:
        mine = shingles(candidate.text)
        # A unit that opens by repeating a kept sentence (a heading run into the next sentence) repeats it
        # too.
        words = candidate.text.split()
        opening = shingles(" ".join(words[:12])) if len(words) > 12 else set()
        first = next((k for k, g in zip(kept, grams) if _same(mine, g) or (opening and opening <= g)), None)
        if first is None:
            kept.append(candidate)
            grams.append(mine)
        elif first.hit.chunk.doc_id != candidate.hit.chunk.doc_id and not renderings.get(id(first)):
            renderings[id(first)] = [candidate]
    return kept


def _cite_renderings(chosen: list[Candidate], candidates: list[Candidate],
                     renderings: dict[int, list[Candidate]]) -> None:
    """Give each list item the same sentence from the other rendering as a second citation, when retrieved."""
    for item in chosen:
        if id(item) in renderings:
            continue
        grams = shingles(item.text)
        twin = next((c for c in candidates if c.hit.chunk.doc_id != item.hit.chunk.doc_id
                     and _words(c.text) >= 4 and _same(grams, shingles(c.text))), None)
        if twin is not None:
            renderings[id(item)] = [twin]


def _local_too(chosen: list[Candidate], candidates: list[Candidate], areas: Sequence[str],
               settings: Settings) -> list[Candidate]:
    """ "What could apply to us in Wigan?": besides what applies anywhere, what the documents say about the
    user's own areas (Greater Manchester), when they say anything relevant."""
    def local(c: Candidate) -> bool:
        return any(a.lower() in c.text.lower() for a in areas[1:])
    if any(local(c) for c in chosen):
        return chosen
    best = next((c for c in candidates if local(c) and c.score >= settings.abstain_below
                 and _words(c.text) >= 4), None)
    return chosen if best is None else [*chosen[:1], best, *chosen[1:]]


def _primary_first(chosen: list[Candidate], candidates: list[Candidate], settings: Settings,
                   renderings: dict[int, list[Candidate]]) -> list[Candidate]:
    """When commentary leads, the government text that says the same leads instead.

    Commentary often sums up in one sentence what the White Paper spreads over two; the primary
    text is what a reader should check, so a government sentence sharing most of the lead's
    content words goes first, even if it scored lower.
    """
    lead = set(tokenize(chosen[0].text, bigrams=False))
    for candidate in candidates:
        if candidate.hit.chunk.source.kind != "government" or candidate.score < settings.abstain_below:
            continue
        words = set(tokenize(candidate.text, bigrams=False))
        if len(words & lead) >= 0.3 * min(len(words), len(lead)) and candidate not in chosen:
            grams = shingles(candidate.text)
            twin = next((c for c in candidates if c.hit.chunk.doc_id != candidate.hit.chunk.doc_id
                         and c.hit.chunk.source.kind == "government" and _same(grams, shingles(c.text))),
                        None)

            if twin is not None:
                renderings[id(candidate)] = [twin]  # the same sentence in the other rendering, cited too
            rest = [c for c in chosen if not _same(grams, shingles(c.text))]  # now said by the lead
            return [candidate, *rest]
    return chosen


def _pick(candidates: list[Candidate], listing: bool,
          settings: Settings) -> tuple[list[Candidate], dict[int, list[Candidate]]]:
    """The best sentences, each once: a repeat in another document becomes a second citation of it.

    For a multi-part question, the best sentence for each part is kept even when it scores
    below the lead (but above the abstention line).
    """
    best = candidates[0].score
    margin, limit = (0.16, 8) if listing else (0.11, 4)
    chosen: list[Candidate] = []
    grams: list[set[str]] = []
    renderings: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        if len(chosen) >= limit + 4 or candidate.score < max(settings.abstain_below, best - margin - 0.06):
            break
        if _words(candidate.text) < 4:
            continue
        mine = shingles(candidate.text)
        inner = next((i for i, c in enumerate(chosen) if c.hit.chunk.id == candidate.hit.chunk.id
                      and candidate.start <= c.start and c.end <= candidate.end), None)
        if inner is not None:  # the same sentence with the one before it that it leans on: keep the whole
            chosen[inner], grams[inner] = candidate, mine
            continue
        twin = next((c for c, g in zip(chosen, grams) if _same(mine, g)), None)
        if twin is not None:  # the same sentence again
            if twin.hit.chunk.doc_id != candidate.hit.chunk.doc_id and not renderings.get(id(twin)):
                renderings[id(twin)] = [candidate]  # ... in another rendering: cite it too
            continue
        chosen.append(candidate)
        grams.append(mine)
    parts = len(candidates[0].parts)
    for part in range(parts):
        served = max(candidates, key=lambda c: c.parts[part])
        if served.parts[part] >= settings.abstain_below and all(
                not _same(shingles(served.text), g) for g in grams):
            chosen.insert(min(len(chosen), 1 + part), served)
            grams.insert(min(len(grams), 1 + part), shingles(served.text))
    return chosen, renderings


def _within_budget(chosen: list[Candidate], floor: float, limit: int,
                   budget: int) -> tuple[list[Candidate], list[Candidate]]:
    main: list[Candidate] = []
    words = 0
    for candidate in chosen:
        fits = not main or (words + _words(candidate.text) <= budget and len(main) < limit
                            and candidate.score >= floor)
        if fits:
            main.append(candidate)
            words += _words(candidate.text)
    return main, [c for c in chosen if c not in main][:4]
