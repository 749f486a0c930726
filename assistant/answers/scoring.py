"""Which sentences answer a question: the scoring the composer and the re-ranker share.

Each sentence of a passage is scored against the question (and each part of a multi-part
question): meaning (its stored vector against the question's), the question's words weighted
by rarity (a sentence's document title counts as context), what the question asks for (an
amount, a number, a date, a name), the user's areas for a place question, a count asked and
found ("the six stages"), a byline for "who wrote", and a penalty for contents lines, captions
and title pages, which name things but state nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..index.loaded import LoadedIndex
from ..models import Hit, Query
from ..text import tokenize
from .facts import states

#: Taken off sentences of a document with no known publisher: quoted only when nothing vouched-for says it.
UNVERIFIED_PENALTY = 0.15
PASSAGES = 6  # passages whose sentences are answer candidates (plus any fetched for the user's own areas)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A quotable unit of a retrieved passage, scored against the question."""

    hit: Hit
    start: int  # offsets in the passage text
    end: int
    score: float
    parts: tuple[float, ...] = ()  # the score against each part of a multi-part question

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start:self.end]


def _word_weights(index: LoadedIndex, text: str) -> dict[str, float]:
    n = max(1, len(index.lexical.ids))
    weights = {}
    for token in tokenize(text, bigrams=False):
        df = len(index.lexical.postings.get(token, ()))
        weights[token] = math.log(1 + n / (1 + df))
    return weights


def _overlap(weights: dict[str, float], words: frozenset[str],
             context: frozenset[str] = frozenset()) -> float:
    """Share of the question's (rarity-weighted) words the sentence has; ``context`` words (its
    document's title) count as present: a sentence of the West Midlands skills agreement is about it."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in words or t in context) / total


_BYLINE = re.compile(r"^[A-Z][a-z]+(?:\s+[A-Z][a-z'-]+){1,3}\s+(?:the\s+)?(?:Rt Hon\s+)?"
                     r"(?:Minister|Secretary|Head|Director|Chief|Chair|CEO|President|Professor|Lord|Baroness|"
                     r"Mayor|Leader|Permanent|Parliamentary)\b")



def score_sentences(index: LoadedIndex, query: Query, hits: Sequence[Hit], vectors: np.ndarray,
                    beside: np.ndarray | None = None, ranking: bool = False) -> list[Candidate]:
    """Every sentence of ``hits``, scored against the question and each of its parts, best first.

    ``vectors`` has a row per ``query.texts(ranking)``. With ``beside`` (a row per
    ``query.beside_names``), a sentence of a document the question names is compared with what is
    asked of that document, names left out: its title is its context (``_overlap``), and the name
    would otherwise swamp its meaning. Re-ranking does that; choosing what to quote, the whole
    question decides (measured: it quoted the sentence that names the document more often).
    """
    texts = query.texts(ranking)
    named = query.named if beside is not None else frozenset()
    weights = [_word_weights(index, " ".join([t, *query.related])) for t in texts]
    areas = query.place.areas
    # "What applies to us?" asks about the place itself; "is an accelerator near us?" about a topic there.
    area_bonus = 0.15 if query.about_place else 0.08
    count = query.count.pattern if query.count else None
    candidates = []
    for position, hit in enumerate(hits):
        sentences = index.sentences[hit.chunk.id]
        wanted = beside if beside is not None and hit.chunk.doc_id in named else vectors
        similarities = sentences.vectors @ wanted.T  # sentences x texts
        context = frozenset(tokenize(hit.chunk.source.title, bigrams=False))
        prior = 0.08 / (1 + position)
        for row, (start, end) in enumerate(sentences.spans):
            sentence = hit.chunk.text[start:end]
            words = sentences.tokens[row]
            values = [0.55 * float(similarities[row, column])
                      + 0.35 * _overlap(weights[column], words, context) for column in range(len(texts))]
            adjust = prior
            if query.expected is not None:
                adjust += 0.06 if states(query.expected, sentence, query.words) else -0.06
            if query.focus and query.focus in words:
                adjust += 0.05
            if hit.chunk.source.kind == "government":
                adjust += 0.02  # the primary text, when commentary says the same
            elif not hit.chunk.source.verified:
                adjust -= UNVERIFIED_PENALTY
            if areas and any(a.lower() in sentence.lower() for a in areas):
                adjust += area_bonus  # it names the area the user is in (Greater Manchester for Salford)
            if count and count.search(sentence):
                adjust += 0.1  # "the six stages" asked, "six stages: ..." found
            if query.asks_author and _BYLINE.match(" ".join(sentence.split())) \
                    and len(sentence.split()) <= 20:
                # "who wrote ...?": a signature or byline ("Jesse Norman Minister of State ...")
                adjust += 0.3
            if sentences.filler[row]:
                adjust -= 0.3  # a contents line, a caption or a title page names things; it states nothing
            best = max([values[0], *[0.95 * v for v in values[1:]]])
            parts = tuple(v + adjust for v in values[1:])
            candidates.append(Candidate(hit, start, end, best + adjust, parts))
    candidates.sort(key=lambda c: (-c.score, c.hit.chunk.id, c.start))
    return candidates


def best_by_passage(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Chunk id -> the score of its best sentence: what re-ranking orders passages by."""
    best: dict[str, float] = {}
    for candidate in candidates:
        best[candidate.hit.chunk.id] = max(best.get(candidate.hit.chunk.id, -1.0), candidate.score)
    return best


# A sentence that leans on the one before: it opens with a pointer back ("This", "These", "It",
# "There's"), perhaps after a short opening phrase ("In England, this will mean ...").
_ANAPHORA = re.compile(r"^[\"\u201c]?(?:[A-Z][^,.;:]{0,30},\s+)?(?:this|these|that|those|it|its|they|their|"
                       r"there[\u2019']s|there is|such|here)\b", re.I)


def with_followers(index: LoadedIndex, candidates: Sequence[Candidate], areas: Sequence[str] = (),
                   first: int = 24, lead_paragraph: bool = True) -> list[Candidate]:
    """The ``first`` candidates extended with the sentences right after them that lean on them.

    "Education By 2030, the number ... will have significantly increased. In England, this will
    mean 90% of children ..." - the second sentence only makes sense with the first, and the
    quote must show both. Up to two followers that open with "This", "It", "There's"... join.

    With ``lead_paragraph``, the best candidate takes the rest of its paragraph, whatever its
    sentences open with (within 400 characters and one page): a definition or a rule is usually
    stated over a sentence or two ("... a generic price known as the VPF. This measure ... is
    £2m."), and the paragraph is how the document says it. A list question reads its list instead.
    """
    return [_with_followers(index, c, areas, paragraph=lead_paragraph and i == 0)
            for i, c in enumerate(candidates[:first])] + list(candidates[first:])


def _with_followers(index: LoadedIndex, candidate: Candidate, areas: Sequence[str],
                    paragraph: bool = False) -> Candidate:
    spans = index.sentences[candidate.hit.chunk.id].spans
    text = candidate.hit.chunk.text
    breaks = [offset for offset, _, _ in candidate.hit.chunk.page_breaks]
    end = candidate.end
    for start, stop in spans:
        if start < end or stop - candidate.start > 900:
            continue
        gap = text[end:start]
        if "\n\n" in gap or gap.strip() or any(end <= b <= start for b in breaks):
            break  # a quote stays within its paragraph, and on one page
        if not (paragraph or _ANAPHORA.match(text[start:stop].strip())):
            break
        end = stop
        if end - candidate.end > 400:
            break
    if end == candidate.end:
        return candidate
    score = candidate.score
    added = text[candidate.end:end].lower()
    if any(a.lower() in added for a in areas) and not any(a.lower() in candidate.text.lower() for a in areas):
        # the follower names the user's area ("These pilots will be centred on Greater Manchester")
        score += 0.08

    return Candidate(candidate.hit, candidate.start, end, score, candidate.parts)
