"""The offline composer: an answer made only of quoted, cited sentences, or an honest "not covered".

Extractive by design, so an answer can never state what its sources don't: every sentence
of ``Answer.text`` is a sentence of a retrieved passage, copied verbatim and followed by its
marker. The composer

1. splits the best passages into sentences (and list items);
2. scores each against the question: meaning (the embedding model), the question's words
   (weighted by rarity), what the question asks for (an amount, a number, a date, a name), and
   how well its passage was ranked; a multi-part question is scored part by part;
3. abstains when even the best sentence scores below ``settings.abstain_below``, showing the
   nearest passages as "may be related";
4. otherwise leads with the best sentence, adds the next ones that score close to it (a list
   for list questions), drops repeats (the same sentence in two renderings), and keeps the
   answer near ``settings.answer_words`` words, putting the rest under "more".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .chunk import shingles
from .eligibility import PlaceContext, is_about_place, next_steps, place_citation, place_statement
from .embed import Embedder
from .layout import readable
from .lexical import STOPWORDS, tokenize
from .lists import ENUMERATOR, ORDINAL_ITEM, announced_count, is_list_question
from .models import Answer, Chunk, Citation, Hit, Query
from .places import Gazetteer
from .retrieve import SearchIndex
from .sentences import Candidate, expected_type, score_sentences
from .settings import Settings

OFF_TOPIC = ("That seems to be about something other than what my documents cover. I answer questions about "
             "the Levelling Up White Paper and related policy texts: its missions, funds, devolution and what "
             "applies where, for example \u201cWhat are the 12 missions?\u201d")


def unknown_names(question: str, vocabulary: frozenset[str], gazetteer: Gazetteer | None) -> list[str]:
    """Names in the question (capitalised words, not its first) that no document uses and that are not
    places: "Mars", "Bitcoin". The documents cannot say anything about those."""
    words = re.findall(r"(?<=[\s(\u201c\"'])([A-Z][a-z]{2,})\b", question)
    missing = []
    for word in words:
        if word.lower() in vocabulary or word.lower() in STOPWORDS:
            continue
        if gazetteer is not None and gazetteer.resolve(word).status != "unknown":
            continue
        missing.append(word)
    return missing


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _words(text: str) -> int:
    return len(text.split())


def _shares_a_phrase(question: str, hits: Sequence[Hit]) -> bool:
    """Whether a pair of the question's words (stopwords aside) stands together in one of the passages."""
    pairs = {t for t in tokenize(question) if "_" in t}
    return any(pairs & set(tokenize(h.chunk.text)) for h in hits)


def _same(a: set[str], b: set[str]) -> bool:
    return len(a & b) >= 0.6 * max(1, min(len(a), len(b)))


def compose(index: SearchIndex, embedder: Embedder, query: Query, hits: Sequence[Hit], settings: Settings,
            places: PlaceContext = PlaceContext(), gazetteer: Gazetteer | None = None) -> Answer:
    """An answer to ``query`` from ``hits``, every sentence quoted and cited; or an abstention.

    With ``places`` (what the question says about a town or council), the answer opens with the
    place's areas as a cited fact from the ONS lookup and says whether the passages name them.
    """
    steps = next_steps(query.text, places)
    unclear = next((m for m in places.matches if m.status == "ambiguous"), None)
    if unclear is not None and not places.found and is_about_place(query.text):
        return Answer(question=query.text, text=unclear.message, abstained=True, reason="ambiguous_place",
                      kind="clarify", notes=query.notes, related=tuple(hits[:3]), trace=tuple(hits))
    if not hits:
        return _abstain(query, hits, "The documents I have don't answer that: nothing in them matches the question.",
                        steps=steps)
    missing = [n for n in unknown_names(query.text, index.vocabulary, gazetteer) if n not in places.unresolved]
    if missing:
        return _abstain(query, hits, f"The documents I have don't mention {_join(missing)}. The closest passages "
                                     "are below, in case they help.", steps=steps)
    best, overall = index.topicality(embedder.embed_query(query.searched), hits)
    far = best < settings.off_topic_below or (best < 0.40 and overall < settings.off_topic_centroid)
    # Naming one of the documents is on topic, and so is a phrase the passages use ("the six capitals").
    if far and not index.names.named_in(query.text) and not _shares_a_phrase(query.searched, hits[:3]):
        return Answer(question=query.text, text=OFF_TOPIC, abstained=True, reason="off_topic", kind="refusal",
                      notes=query.notes, trace=tuple(hits))
    candidates = score_sentences(index, embedder, query, hits, places.areas)
    if not candidates or candidates[0].score < settings.abstain_below:
        return _abstain(query, hits, "The documents I have don't answer that. The closest passages are below, "
                                     "in case they help.", steps=steps)
    listing = is_list_question(query.text)
    candidates = [_with_followers(index, embedder, c, places.areas) for c in candidates[:24]] + candidates[24:]
    wanted = expected_type(query.text)
    if wanted is not None and wanted.strict and not listing and not wanted.met_by(candidates[0].text):
        # The lead doesn't state what was asked (an amount, a date...): a close second that does may lead;
        # a name is too easy to find by chance, so for "who/which ..." the lead must have it.
        second = next((c for c in candidates[1:4] if wanted.met_by(c.text) and c.score >= settings.abstain_below
                       and c.score >= candidates[0].score - 0.05), None)
        if second is None or wanted.asks_for_name:
            return _abstain(query, hits, "The documents I have don't give that: the passages closest to your "
                                         "question don't state it. They are below, in case they help.", steps=steps)
        candidates = [second, *[c for c in candidates if c is not second]]
    candidates = _fuller_lead(candidates)
    chosen, renderings = _pick(candidates, listing, settings)
    if not chosen:  # nothing clears the bar once repeats and fragments are set aside
        return _abstain(query, hits, "The documents I have don't answer that. The closest passages are below, "
                                     "in case they help.", steps=steps)
    if listing:
        chosen = _follow_list(index, embedder, _list_lead(chosen, candidates, query.text), 9, query.text)
        _cite_renderings(chosen, candidates, renderings)
    elif chosen and chosen[0].hit.chunk.source.kind != "government":
        chosen = _primary_first(chosen, candidates, settings, renderings)
    if places.found and is_about_place(query.text):
        chosen = _local_too(chosen, candidates, places.areas, settings)
    chosen = _once(chosen, renderings)
    margin = 0.16 if listing else 0.11
    # A list is given whole when it can be: twice the words of a plain answer, at most ten items.
    main, more = _within_budget(chosen, candidates[0].score - margin, 10 if listing else 4,
                                settings.answer_words * (2 if listing else 1))

    citations: list[Citation] = []
    lines: list[str] = []
    extra: list[str] = []
    place = next((m for m in places.matches if m.status == "found"), None)
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
            sentence = re.sub(r"^[\u2022\u25cf\u25aa\u00b7\-\s]+", "", readable(candidate.text))
            out.append(f"- {sentence} {''.join(markers)}" if listing else f"{sentence} {''.join(markers)}")
    text = "\n".join(lines) if listing else " ".join(lines)
    statement = place_statement(places, gazetteer, [(c.n, c.quote) for c in citations if c.kind == "document"]) \
        if gazetteer is not None else None
    text = "\n\n".join(t for t in (lead, text, statement) if t)
    return Answer(question=query.text, text=text, citations=tuple(citations), kind="list" if listing else "answer",
                  more=tuple(extra), notes=query.notes, trace=tuple(hits), next_steps=steps)


_ANAPHORA = re.compile(r"^(?:[\"\u201c]?(?:This|These|That|Those|It|Its|They|Their|There[\u2019']s|There is|"
                       r"In England, this|Such|Here)\b)")


def _with_followers(index: SearchIndex, embedder: Embedder, candidate: Candidate,
                    areas: Sequence[str] = ()) -> Candidate:
    """Extend a sentence with the ones right after it in its paragraph that lean on it.

    "Education By 2030, the number ... will have significantly increased. In England, this will
    mean 90% of children ..." - the second sentence only makes sense with the first, and the
    quote must show both. Up to two followers that open with "This", "It", "There's"... join.
    """
    spans, _ = index.sentence_vectors(candidate.hit.chunk, embedder)
    text = candidate.hit.chunk.text
    end = candidate.end
    for start, stop in spans:
        if start < end or stop - candidate.start > 900:
            continue
        gap = text[end:start]
        if "\n\n" in gap or gap.strip() or not _ANAPHORA.match(text[start:stop].strip()):
            break
        end = stop
        if end - candidate.end > 400:
            break
    if end == candidate.end:
        return candidate
    score = candidate.score
    added = text[candidate.end:end].lower()
    if any(a.lower() in added for a in areas) and not any(a.lower() in candidate.text.lower() for a in areas):
        score += 0.08  # the follower names the user's area ("These pilots will be centred on Greater Manchester")
    return Candidate(candidate.hit, candidate.start, end, score, candidate.parts)


def _fuller_lead(candidates: list[Candidate]) -> list[Candidate]:
    """A close second that holds the whole lead and more ("...Review: micromobility vehicles; Mobility as a
    Service; ...", where the lead stops at the colon) says the same and finishes it: it leads instead."""
    lead = " ".join(candidates[0].text.lower().split()).rstrip(":")
    for candidate in candidates[1:4]:
        if candidate.score >= candidates[0].score - 0.05 and lead in " ".join(candidate.text.lower().split()) \
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
        # A unit that opens by repeating a kept sentence (a heading run into the next sentence) repeats it too.
        words = candidate.text.split()
        opening = shingles(" ".join(words[:12])) if len(words) > 12 else set()
        first = next((k for k, g in zip(kept, grams) if _same(mine, g) or (opening and opening <= g)), None)
        if first is None:
            kept.append(candidate)
            grams.append(mine)
        elif first.hit.chunk.doc_id != candidate.hit.chunk.doc_id and not renderings.get(id(first)):
            renderings[id(first)] = [candidate]
    return kept


def _cite_renderings(chosen: list[Candidate], candidates: list[Candidate], renderings: dict[int, list[Candidate]]) -> None:
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
    best = next((c for c in candidates if local(c) and c.score >= settings.abstain_below and _words(c.text) >= 4), None)
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
                         and c.hit.chunk.source.kind == "government" and _same(grams, shingles(c.text))), None)
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


def _introduces_list(text: str, question: str) -> bool:
    """ "... underpinned by the following Principles:", "... based on 5 mutually reinforcing pillars." """
    text = " ".join(text.split())
    return text.endswith(":") or announced_count(text, question) is not None


def _list_lead(chosen: list[Candidate], candidates: Sequence[Candidate], question: str) -> list[Candidate]:
    """For a list question, lead with the sentence that introduces the list when one scores close to the
    best ("... sets out the Principles which will guide ..." is about them; the one ending in
    "the following Principles:" is followed by them)."""
    top = chosen[0]
    if _introduces_list(top.text, question):
        return chosen
    for candidate in candidates[1:12]:
        if candidate.score < top.score - 0.16:
            break
        if _introduces_list(candidate.text, question):
            return [candidate, *[c for c in chosen if c.text != candidate.text]]
    return chosen


def _follow_list(index: SearchIndex, embedder: Embedder, chosen: list[Candidate], limit: int,
                 question: str) -> list[Candidate]:
    """When the best sentence introduces a list, the list is what follows it, in document order.

    "... is based on five mutually reinforcing pillars." announces a count (so does "makes three
    checks" when the question asks for "the three checks"): the items are the enumerated units after
    it ("First, ...", "Second, ...", bullets), however far on they run. A heading ("Restore a sense
    of community, ...") or a line ending in ":" is followed by its items up to the next heading-like line.
    """
    top = chosen[0]
    text = " ".join(top.text.split())
    count = announced_count(text, question)
    heading_like = not re.search(r"[.!?;]$", text) and len(text.split()) <= 24
    inline = re.search(r":\s*\S+(?:\s+\S+){2,}", text)  # "...Review: micromobility vehicles; ..." holds its list
    if inline:
        return chosen
    if not (count or text.endswith(":") or heading_like):
        return _same_paragraph(index, embedder, chosen, limit)
    wanted = min(limit, count) if count else limit
    following: list[Candidate] = []
    chunk: Chunk | None = top.hit.chunk
    after = top.end
    section = top.hit.chunk.heading_path[:1]
    while chunk is not None and len(following) < 60:
        spans, _ = index.sentence_vectors(chunk, embedder)
        hit = top.hit if chunk is top.hit.chunk else Hit(chunk, top.hit.score, top.hit.rank)
        following += [Candidate(hit, a, b, top.score) for a, b in spans if a >= after]
        chunk, after = index.next_chunk(chunk), 0
        if chunk is not None and chunk.heading_path[:1] != section:
            break  # a list does not run on into another chapter
    if count:
        enumerated = [c for c in following if ENUMERATOR.match(c.text.strip())]
        ordinal = [c for c in enumerated if ORDINAL_ITEM.match(c.text.strip())]
        enumerated = ordinal if len(ordinal) >= 2 else enumerated
        items = (enumerated if len(enumerated) >= 2 else following)[:wanted]
    else:
        items = []
        for c in following[: 3 * wanted]:
            piece = " ".join(c.text.split())
            if items and not ENUMERATOR.match(piece) and not re.search(r"[.!?;:]$", piece) and len(piece.split()) <= 24:
                break  # the next heading (a short line that is not a bullet): the list is over
            items.append(c)
        items = items[:wanted]
    items = [Candidate(c.hit, c.start, c.end, top.score - 0.001 * (i + 1)) for i, c in enumerate(items)]
    return [top, *items, *[c for c in chosen[1:] if all(c.text != i.text for i in items)]]


def _same_paragraph(index: SearchIndex, embedder: Embedder, chosen: list[Candidate], limit: int) -> list[Candidate]:
    """A list question whose best sentence starts a paragraph of commitments ("£560 million will be invested
    in young people ... We will ensure the Duke of Edinburgh Award ... We will give more students ... the
    cadets"): the rest of that paragraph are items of the same list."""
    top = chosen[0]
    text = top.hit.chunk.text
    spans, _ = index.sentence_vectors(top.hit.chunk, embedder)
    items: list[Candidate] = []
    end = top.end
    for start, stop in spans:
        if start < end:
            continue
        if "\n\n" in text[end:start] or len(items) >= min(4, limit - 1):
            break
        items.append(Candidate(top.hit, start, stop, top.score - 0.01 * (len(items) + 1)))
        end = stop
    return [top, *items, *[c for c in chosen[1:] if all(c.text != i.text for i in items)]]


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


def _abstain(query: Query, hits: Sequence[Hit], text: str, reason: str = "not_covered",
             steps: tuple[str, ...] = ()) -> Answer:
    return Answer(question=query.text, text=text, abstained=True, reason=reason, kind="abstain", next_steps=steps,
                  related=tuple(hits[:3]), notes=query.notes, trace=tuple(hits))
