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
from dataclasses import dataclass, replace

from .chunk import looks_like_contents
from .eligibility import is_about_place
from .embed import Embedder, embed_all
from .lexical import tokenize
from .lists import counted
from .models import Hit, Query
from .query import asks_who_wrote, scored_texts
from .retrieve import SearchIndex

PASSAGES = 6  # passages whose sentences are candidates (plus any fetched for the user's own areas)


@dataclass(frozen=True, slots=True)
class Candidate:
    hit: Hit
    start: int  # offsets in the passage text
    end: int
    score: float
    parts: tuple[float, ...] = ()  # the score against each part of a multi-part question

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start:self.end]


# --- what the question asks for ----------------------------------------------------------

_AMOUNT = re.compile(r"£\s?\d|\d+(?:\.\d+)?\s?(?:(?:bn|m|billion|million|per ?cent)\b|%)", re.I)
_PERCENT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|per ?cent\b)", re.I)
_NUMBER = re.compile(r"\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
                     r"thirty|forty|fifty|hundred|thousand|dozen)\b", re.I)
_DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b(?:January|February|March|April|May|June|July|August|September|October|"
                   r"November|December|spring|summer|autumn|winter)\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w&'\u2019-]+(?:\s+(?:of|for|and|the|van|von|de|du|la|upon|on)?\s*[A-Z][\w&'\u2019-]*)+")


@dataclass(frozen=True, slots=True)
class Expected:
    """The kind of fact a question asks for; ``names`` means proper names the question doesn't already use."""

    pattern: re.Pattern[str]
    question: str
    strict: bool = True  # False: preferred in a sentence, but an answer without it is still an answer

    @property
    def asks_for_name(self) -> bool:
        return self.pattern is _NAME

    def met_by(self, sentence: str) -> bool:
        if self.pattern is not _NAME:
            return bool(self.pattern.search(sentence))
        asked = set(tokenize(self.question, bigrams=False))
        return any(not set(tokenize(m.group(0), bigrams=False)) <= asked for m in _NAME.finditer(sentence))


def expected_type(question: str) -> Expected | None:
    """The kind of fact a question asks for, as a pattern an answering sentence must show."""
    q = question.lower()
    pattern = None
    if re.search(r"\brate\b|\bpercentage\b|\bper ?cent\b", q):
        pattern = _PERCENT
    elif re.search(r"\bhow much\b|\b(?:budget|amount|value|cost|worth)\b|£", q):
        pattern = _AMOUNT
    elif re.search(r"\bhow many\b|\bwhat (?:number|share|proportion)\b|\btarget\b", q):
        pattern = _NUMBER
    elif re.search(r"\bwhen\b|\bwhat (?:year|date)\b|\bdeadline\b|\bby when\b", q):
        pattern = _DATE
    elif re.search(r"^\s*(?:who\b|which (?:\w+ )?(?:minister|person|people|organisations?|departments?|areas|places|"
                   r"councils|towns|cities|regions|companies|firms|authorities)\b)", q):
        pattern = _NAME
    if pattern is None and re.search(r"\b(?:money|funding|grants?)\b", q):
        return Expected(_AMOUNT, question, strict=False)  # "is there grant money?": an amount, if there is one
    return Expected(pattern, question) if pattern is not None else None


# --- scoring -----------------------------------------------------------------------------

def _word_weights(index: SearchIndex, text: str) -> dict[str, float]:
    n = max(1, len(index.lexical.ids))
    weights = {}
    for token in tokenize(text, bigrams=False):
        df = len(index.lexical.postings.get(token, ()))
        weights[token] = math.log(1 + n / (1 + df))
    return weights


def _overlap(weights: dict[str, float], words: frozenset[str], context: frozenset[str] = frozenset()) -> float:
    """Share of the question's (rarity-weighted) words the sentence has; ``context`` words (its
    document's title) count as present: a sentence of the West Midlands skills agreement is about it."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in words or t in context) / total


_CAPTION = re.compile(r"(?:Source|Sources|Figure|Table|Chart|Photo(?:graph)?|Image|Credit)\b\s*\d*[.:]?\s", re.I)


def is_filler(sentence: str, words: frozenset[str], title: str) -> bool:
    """A contents line, a caption or a title-page line: it names things but states nothing."""
    main = {w for w in tokenize(re.split(r"[(\u2013]", title)[0], bigrams=False) if not w.isdigit()}
    title_echo = bool(main) and main <= words and len(words) <= len(main) + 8
    return (title_echo or looks_like_contents(sentence) or bool(re.search(r"\bContents\b", sentence))
            or bool(_CAPTION.match(sentence.strip())))


_BYLINE = re.compile(r"^[A-Z][a-z]+(?:\s+[A-Z][a-z'-]+){1,3}\s+(?:the\s+)?(?:Rt Hon\s+)?(?:Minister|Secretary|Head|Director|"
                     r"Chief|Chair|CEO|President|Professor|Lord|Baroness|Mayor|Leader|Permanent|Parliamentary)\b")


def _focus(question: str) -> str | None:
    """The noun a "which X" question asks for, or the verb of "who X": answers usually say it."""
    match = re.search(r"^\s*(?:which|what)\s+(?:\w+\s+)?([a-z]{4,})\b|^\s*who\s+([a-z]{4,})\b", question.lower())
    if not match:
        return None
    tokens = tokenize(match.group(1) or match.group(2), bigrams=False)
    return tokens[0] if tokens and tokens[0] not in {"could", "would", "should", "might", "must"} else None


def score_sentences(index: SearchIndex, embedder: Embedder, query: Query, hits: Sequence[Hit],
                    areas: Sequence[str] = (), passages: int = PASSAGES, ranking: bool = False,
                    beside_name: bool = True) -> list[Candidate]:
    """Every sentence of the top ``passages``, scored against the question (and each of its parts)."""
    # Ranking passages (``ranking``, ``beside_name``), a sentence of a document the question names has
    # that document's title as context (``_overlap``): its meaning is compared with the rest of the
    # question, which the name would otherwise swamp. (Choosing what to quote, the whole question
    # decides: measured, it quoted the sentence that names the document more often.)
    texts, inside = scored_texts(query, index.names, ranking, beside_name)
    named = index.names.named_in(query.text) if inside else set()
    both = embed_all(embedder, texts + inside)  # one model call; search() usually made it already
    vectors, vectors_inside = both[:len(texts)], both[len(texts):]
    weights = [_word_weights(index, " ".join([t, *query.related])) for t in texts]
    wanted = expected_type(query.text)
    focus = _focus(query.text)
    authorship = asks_who_wrote(query.text)
    count_phrase = counted(query.text)
    # "What applies to us?" asks about the place itself; "is an accelerator near us?" about a topic there.
    area_bonus = 0.15 if is_about_place(query.text) else 0.08
    candidates = []
    local = [h for h in hits[PASSAGES * 2:]] if passages == PASSAGES else []  # fetched for the user's areas
    for position, hit in enumerate([*hits[:passages], *local]):
        spans, matrix = index.sentence_vectors(hit.chunk, embedder)
        units = index.sentence_words(hit.chunk, spans)
        similarities = matrix @ (vectors_inside if hit.chunk.doc_id in named else vectors).T  # sentences x texts
        context = frozenset(tokenize(hit.chunk.source.title, bigrams=False))
        prior = 0.08 / (1 + position)
        for row, (start, end) in enumerate(spans):
            sentence = hit.chunk.text[start:end]
            words = units[row]
            values = [0.55 * float(similarities[row, column]) + 0.35 * _overlap(weights[column], words, context)
                      for column in range(len(texts))]
            adjust = prior
            if wanted is not None:
                adjust += 0.06 if wanted.met_by(sentence) else -0.06
            if focus and focus in words:
                adjust += 0.05
            if hit.chunk.source.kind == "government":
                adjust += 0.02  # the primary text, when commentary says the same
            if areas and any(a.lower() in sentence.lower() for a in areas):
                adjust += area_bonus  # it names the area the user is in (Greater Manchester for Salford)
            if count_phrase and count_phrase.search(sentence):
                adjust += 0.1  # "the six stages" asked, "six stages: ..." found
            if authorship and _BYLINE.match(" ".join(sentence.split())) and len(sentence.split()) <= 20:
                adjust += 0.3  # "who wrote ...?": a signature or byline ("Jesse Norman Minister of State ...")
            if index.is_filler(hit.chunk, row, lambda: is_filler(sentence, words, hit.chunk.source.title)):
                adjust -= 0.3  # a contents line, a caption or a title page names things; it states nothing
            best = max([values[0], *[0.95 * v for v in values[1:]]])
            candidates.append(Candidate(hit, start, end, best + adjust, tuple(v + adjust for v in values[1:])))
    candidates.sort(key=lambda c: (-c.score, c.hit.chunk.id, c.start))
    return candidates


def rerank(index: SearchIndex, embedder: Embedder, query: Query, hits: Sequence[Hit], weight: float,
           areas: Sequence[str] = (), beside_name: bool = True) -> list[Hit]:
    """Re-rank passages by their best sentence as the composer scores it (meaning, rare words, what the
    question asks for): the offline stand-in for a cross-encoder, which `levelup eval --compare` keeps."""
    best: dict[str, float] = {}
    for candidate in score_sentences(index, embedder, query, hits, areas, passages=len(hits), ranking=True,
                                     beside_name=beside_name):
        best[candidate.hit.chunk.id] = max(best.get(candidate.hit.chunk.id, -1.0), candidate.score)
    ordered = sorted(hits, key=lambda h: (-(h.score + weight * best.get(h.chunk.id, 0.0)), h.chunk.id))
    return [replace(h, score=h.score + weight * best.get(h.chunk.id, 0.0), rank=i + 1,
                    reasons=(*h.reasons, "best sentence")) if i == 0 else
            replace(h, score=h.score + weight * best.get(h.chunk.id, 0.0), rank=i + 1)
            for i, h in enumerate(ordered)]
