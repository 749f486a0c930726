"""The gate: whether the documents can answer at all, decided before any composer writes a word.

Every composer (the extractive one now, a model later) gets only what passes, so none can
answer around it. ``Assistant`` asks it three times, as the evidence builds up:

1. ``screen``, on the question and the passages found: a place to ask about ("Newport in Wales
   or on the Isle of Wight?"), nothing found, a name no document uses ("Mars"), whether someone is
   one of a set no passage names them in ("is Grimsby one of the 101 towns?": a count is no list),
   a question about something else entirely (the weather);
2. ``weigh``, on the scored sentences: even the best is too far from the question;
3. ``expect``, on the lead sentence: the question wants a kind of fact (an amount, a date, a
   name) that the closest sentences don't state.

Each says no with a ``Decision`` (why, and what to tell the user); ``abstention`` turns it into
the ``Answer``, with the nearest passages as "may be related".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..index.loaded import LoadedIndex
from ..models import Answer, Hit, Query
from ..places.context import next_steps
from ..places.gazetteer import Gazetteer
from ..settings import Settings
from ..text import STOPWORDS, join_names, tokenize
from .facts import states
from .scoring import Candidate

OFF_TOPIC = ("That seems to be about something other than what my documents cover. I answer questions "
             "about the Levelling Up White Paper and related policy texts: its missions, funds, devolution "
             "and what applies where, for example \u201cWhat are the 12 missions?\u201d")
NOT_ANSWERED = "The documents I have don't answer that. The closest passages are below, in case they help."


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a question gets no composed answer, and what the user is told instead."""

    reason: str  # "not_covered", "off_topic", "ambiguous_place"
    text: str
    kind: str = "abstain"  # or "clarify" (which Newport?), "refusal" (off topic)


def screen(query: Query, hits: Sequence[Hit], index: LoadedIndex, vector: np.ndarray, settings: Settings,
           gazetteer: Gazetteer | None = None) -> Decision | None:
    """No before reading a sentence; ``vector`` is the question's as searched."""
    place = query.place
    unclear = next((m for m in place.matches if m.status == "ambiguous"), None)
    if unclear is not None and not place.found and query.about_place:
        return Decision("ambiguous_place", unclear.message, "clarify")
    if not hits:
        return Decision("not_covered",
                        "The documents I have don't answer that: nothing in them matches the question.")
    missing = [n for n in unknown_names(query.text, index.vocabulary, gazetteer) if n not in place.unresolved]
    if missing:
        return Decision("not_covered", f"The documents I have don't mention {join_names(missing, 'or')}. The "
                                       "closest passages are below, in case they help.")
    best, overall = index.topicality(vector, hits)
    far = best < settings.off_topic_below or (best < 0.40 and overall < settings.off_topic_centroid)
    # Naming one of the documents is on topic, and so is a phrase the passages use ("the six capitals").
    if far and not query.named and not _shares_a_phrase(query, hits[:3]):
        return Decision("off_topic", OFF_TOPIC, "refusal")
    if query.member and not _names_member(query, hits, index):
        return Decision("not_covered", f"The documents I have don't list which ones these are, so they don't "
                                       f"say whether {query.member} is one of them. The closest passages are "
                                       "below, in case they help.")
    return None


def weigh(candidates: Sequence[Candidate], settings: Settings) -> Decision | None:
    """No when even the best sentence scores under ``settings.abstain_below``."""
    if not candidates or candidates[0].score < settings.abstain_below:
        return Decision("not_covered", NOT_ANSWERED)
    return None


def expect(query: Query, candidates: list[Candidate],
           settings: Settings) -> tuple[Decision | None, list[Candidate]]:
    """No when the question wants a kind of fact the lead doesn't state and no close second does.

    A close second that states it leads instead (the candidates come back reordered); a name is too
    easy to find by chance, so for "who/which ..." the lead itself must have one. A list question is
    answered by its items, whatever they state."""
    wanted = query.expected
    if wanted is None or not wanted.strict or query.listing:
        return None, candidates
    if states(wanted, candidates[0].text, query.words):
        return None, candidates
    second = next((c for c in candidates[1:4] if states(wanted, c.text, query.words)
                   and c.score >= settings.abstain_below and c.score >= candidates[0].score - 0.05), None)
    if second is None or wanted.kind == "name":
        return Decision("not_covered", "The documents I have don't give that: the passages closest to your "
                                       "question don't state it. They are below, in case they help."), \
            candidates

    return None, [second, *[c for c in candidates if c is not second]]


def abstention(query: Query, hits: Sequence[Hit], decision: Decision) -> Answer:
    """The answer that says no: the nearest passages as "may be related" (not for an off-topic question),
    and what to check next for an eligibility question."""
    related = () if decision.kind == "refusal" else tuple(hits[:3])
    steps = next_steps(query) if decision.kind == "abstain" else ()
    return Answer(question=query.text, text=decision.text, abstained=True, reason=decision.reason,
                  kind=decision.kind, next_steps=steps, related=related, notes=query.notes, trace=tuple(hits))


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


def _names_member(query: Query, hits: Sequence[Hit], index: LoadedIndex) -> bool:
    """Whether a passage about the set a membership question asks of names the member, or an area that
    holds it (a list of "Greater Manchester, the West Midlands and Glasgow" may include Salford). A
    passage is about the set when it has the set's rarest word or word pair ("education investment" in
    "the 55 education investment areas")."""
    holders = query.place.areas if query.member in query.place.areas else ()
    postings = index.lexical.postings
    asked = [t for t in tokenize(query.member_of) if not t.isdigit() and postings.get(t)]
    about = list(hits)
    if asked:
        rarest = min(asked, key=lambda t: len(postings[t]))
        having = {index.lexical.ids[row] for row, _ in postings[rarest]}
        about = [h for h in hits if h.chunk.id in having] or about
    return any(_names(name, about) for name in (query.member, *holders))


def _names(member: str, hits: Sequence[Hit]) -> bool:
    """Whether a passage names ``member`` ("Grimsby"; "the Eden Project" as "Eden Project")."""
    name = re.sub(r"^(?:the|a|an)\s+", "", member.strip(), flags=re.I).lower()
    return any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", h.chunk.text.lower()) for h in hits)


def _shares_a_phrase(query: Query, hits: Sequence[Hit]) -> bool:
    """Whether a pair of the question's words (stopwords aside) stands together in one of the passages."""
    pairs = {t for t in query.tokens if "_" in t}
    return any(pairs & set(tokenize(h.chunk.text)) for h in hits)
