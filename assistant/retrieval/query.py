"""Understanding a question once: what it asks, read before anything is searched.

``prepare_query`` and ``understand`` turn what the user typed into the ``Query`` every later
stage reads:

* ``prepare_query``  refuse empty or punctuation-only questions; strip control characters; cut
                     over-long ones with a note (``Assistant`` then makes a follow-up standalone:
                     ``follow_up.py``);
* places             the towns and councils it names, and the areas that contain them;
* ``glossary``       abbreviations spelt out, typos corrected against the index's vocabulary;
* ``read``           its parts, the documents it names, and what kind of answer it wants: a fact
                     of a kind (an amount, a date, a name...), a list, a count of things.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace

from ..errors import QueryError
from ..models import Count, Expected, ExpectedKind, PlaceContext, Query
from ..places.context import expand_for_places, is_about_place, place_context
from ..places.gazetteer import Gazetteer
from ..settings import Settings
from ..text import COUNT, NUMBER_WORDS, number_value, tokenize
from .glossary import expand
from .names import DocumentNames, asks_who_wrote


def understand(query: Query, *, place: str | None = None, gazetteer: Gazetteer | None = None,
               names: DocumentNames | None = None, vocabulary: Iterable[str] = (),
               dictionary: Iterable[str] = (), spell: bool = True) -> Query:
    """A prepared question (``prepare_query``; a follow-up made standalone) as searched, and all it asks.

    ``gazetteer`` (None: places are words like any other) reads the places it names, or ``place``
    given beside it; ``names`` the documents it names; ``vocabulary`` (the index's words) and
    ``dictionary`` (the model's) let ``spell`` spell out abbreviations and fix typos."""
    context = place_context(query.text, gazetteer, place)
    query = expand_for_places(query, context)
    if spell:
        query = expand(query, vocabulary, dictionary)
    return read(query, names, context)


def read(query: Query, names: DocumentNames | None = None, place: PlaceContext = PlaceContext()) -> Query:
    """``query`` with what it asks filled in: its parts, the documents it names, the answer it wants."""
    text = query.text
    parts = tuple(question_parts(text))
    # Re-ranking scores each part on its own only when it has three words or more: a shorter one
    # ("skills for jobs", "project gigabit") is the context a question opens with.
    ranking = tuple(p for p in parts if len(tokenize(p, bigrams=False)) >= 3)
    named = frozenset(names.named_in(text)) if names is not None else frozenset()
    member, member_of = membership(text, place)
    # Within a document the question names, its name says nothing: what is left is what is asked of it.
    name_free: frozenset[str] = frozenset()
    beside: tuple[str, ...] = ()
    if names is not None and named:
        name_free = frozenset(tokenize(names.without_names(query.searched)))
        beside = tuple(names.beside_names(t) for t in (query.searched, *ranking))
    notes = query.notes
    if _DECISION.search(text):
        notes = (*notes, "Whether you should is for you to decide: these are the passages that bear on it.")
    return replace(
        query, notes=notes, tokens=tuple(tokenize(query.searched)),
        words=frozenset(tokenize(text, bigrams=False)),
        parts=parts, ranking_parts=ranking, named=named, name_free_tokens=name_free, beside_names=beside,
        asks_author=asks_who_wrote(text), asks_record=asks_record(text) if named else (),
        member=member, member_of=member_of,
        expected=expected_type(text), listing=is_list_question(text),
        count=asked_count(text), focus=focus(text), about_place=is_about_place(text), place=place)


# A decision the user is weighing ("should we apply?", "is it worth bidding?"): answered from the
# documents, with a note that the decision is theirs.
_DECISION = re.compile(r"(?:^|[.?!,;-]\s*)(?:should (?:i|we)|is it worth)\b", re.I)


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
        notes.append(f"The question was {len(cleaned):,} characters long; only the first {len(cut):,} "
                     "were searched.")

        cleaned = cut
    return Query(cleaned, tuple(notes))


_PART_BREAK = (r",?\s+and\s+(?=(?:what|how|when|who|which|where|why|by how)\b)|"
               r"\s+-\s+")


def question_parts(question: str) -> list[str]:
    """A multi-part question's parts: "... like, and what were their criticisms?"; and, failing
    those, the two sides of a single "and" when each holds two words or more: "can I count the jobs
    my scheme creates and keynesian multiplier effects as benefits?" ("Housing and Communities",
    capitalised on both sides, is a name, not two parts)."""
    parts = [p.strip(" ,?") for p in re.split(_PART_BREAK, question, flags=re.I)]
    parts = [p for p in parts if tokenize(p, bigrams=False)]
    if len(parts) > 1:
        return parts
    sides = re.split(r"\s+and\s+", question.strip())
    if len(sides) != 2 or (sides[0].split()[-1][:1].isupper() and sides[1].split()[0][:1].isupper()):
        return []
    sides = [s.strip(" ,?") for s in sides]
    return sides if all(len(tokenize(s, bigrams=False)) >= 2 for s in sides) else []


# --- what kind of answer it wants --------------------------------------------------------

# What the asking phrase of a question wants: "how much ..." an amount, "what is the rate of ..." a
# percentage, "when ..." a date. Only the asking phrase counts: "we've spent £2m, should that go in the
# costs?" or "what does a P90 cost estimate mean?" mention an amount without asking for one.
_WHAT_THE = r"\bwhat(?:'s|\u2019s|s| is| are| was| were)?(?: the)? (?:[\w-]+ ){0,3}"
# The measure is the head of its phrase ("the budget for ...", "what does it cost?"), not a modifier of
# another noun ("a P50 cost estimate", "the rate card").
_HEAD = (r"\b(?=\s*(?:[?,.;:!)]|$|(?:of|for|to|in|on|at|per|from|over|under|should|will|would|is|are|was|"
         r"were|do|does|did|can|could|must|has|have|we|i|they|you|it)\b))")
_ASKS: tuple[tuple[ExpectedKind, re.Pattern[str]], ...] = (
    ("percent", re.compile(rf"{_WHAT_THE}(?:rate|percentage){_HEAD}|\b(?:what|by what) percentage\b"
                           r"|\bhow many per ?cent\b", re.I)),
    ("amount", re.compile(rf"\bhow much\b|{_WHAT_THE}(?:budget|amount|value|cost|price|sum){_HEAD}"
                          r"|\bwhat(?:'s| is| are) (?:[\w-]+ ){1,6}worth\b", re.I)),
    ("number", re.compile(rf"\bhow many\b|{_WHAT_THE}(?:number|share|proportion|target|total){_HEAD}", re.I)),
    ("date", re.compile(rf"\bwhen\b|\bby when\b|{_WHAT_THE}(?:deadline|date|year|month){_HEAD}", re.I)),
    # "Which towns ...?" asks for their names: the answer must give them. "Who ...?" may be answered by a
    # role ("every civil servant"), so a name is preferred, not required.
    ("name", re.compile(r"^\s*which (?:[\w-]+ )?(?:ministers?|person|people|organisations?|departments?|"
                        r"areas|places|councils|towns|cities|regions|companies|firms|authorities)\b", re.I)),
)
_WHO = re.compile(r"^\s*who\b", re.I)
_MONEY = re.compile(r"\b(?:(?<!value for )money|funding|grants?)\b", re.I)


def expected_type(question: str) -> Expected | None:
    """The kind of fact a question's asking phrase wants, which an answering sentence should state."""
    for kind, asks in _ASKS:
        if asks.search(question):
            return Expected(kind)
    if _WHO.search(question):
        return Expected("name", strict=False)
    if _MONEY.search(question):
        return Expected("amount", strict=False)  # "is there grant money?": an amount, if there is one
    return None


# A question about a document itself: when it came out, who put it out. (Who wrote a post or a foreword
# the text says, in its byline: those are answered from the passages.)
_RECORD: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("published", re.compile(r"\bwhen (?:was|were|did|is)\b.{0,60}?\b(?:published|publish|"
                             r"released?|issued)\b|\b(?:publication|release) date\b"
                             r"|\bwhat date is (?:on )?\b", re.I)),
    ("publisher", re.compile(r"\b(?:who|which (?:government )?(?:department|organisation|body|ministry))\b"
                             r".{0,40}?\b(?:published|publishes|released|issued|produced)\b"
                             r"|\bpublisher\b", re.I)),
)


# "Is Grimsby one of the 101 towns ...?", "are we among the areas ...", "is our council on the list":
# whether someone is a member of a set, which only a list that names them can answer.
_MEMBERSHIP = re.compile(r"\b(?:is|are|was|were|will)\s+(?P<who>[^,.?;]{1,40}?)\s+(?:be\s+)?"
                         r"(?:one of|among(?:st)?|included in|part of|on the list(?: of)?|in the list of|"
                         r"covered by)\s+(?:the\s+)?", re.I)
_US = re.compile(r"^(?:we|us|our|my|i)\b", re.I)


def membership(question: str, place: PlaceContext = PlaceContext()) -> tuple[str, str]:
    """Who a membership question asks about, and the set: ("Grimsby", "101 towns getting towns fund
    money"). The member is the place it names there, or the user's own place for "are we ...?"; ("", "")
    for a question that asks no such thing, and no member when it cannot be named."""
    match = _MEMBERSHIP.search(question)
    if not match:
        return "", ""
    of = re.split(r"[?,;]", question[match.end():])[0].strip()
    who = match.group("who").strip()
    found = [m.place.name for m in place.matches if m.status == "found" and m.place is not None and m.span
             and match.start("who") <= m.span[0] < match.end("who")]
    if found:
        return found[0], of
    if _US.match(who):
        return (place.places[0].name if place.own and place.places else ""), of
    return who, of


def asks_record(question: str) -> tuple[str, ...]:
    """What a question asks of a document's source record: ("published",), ("publisher", "published")..."""
    return tuple(field for field, asks in _RECORD if asks.search(question))


_LIST = re.compile(r"\b(?:what|which) (?:are|were) (?:the )?(?:\d+|" + "|".join(NUMBER_WORDS[2:]) + r")\b"
                   r"|\b(?:list|name) (?:the|all)\b|\bwhat (?:are|were) the (?:[\w-]+ ){0,2}[a-z]{3,}s\b"
                   r"|\bwhich of the\b"
                   r"|\bwhat does .* (?:promise|commit|say) (?:on|about|to)\b", re.I)


def is_list_question(question: str) -> bool:
    return bool(_LIST.search(question))


def asked_count(question: str) -> Count | None:
    """ "the six stages", "5 pillars": the count and the thing counted."""
    match = re.search(rf"\b({COUNT})\s+(?:[a-z-]+\s+){{0,2}}?([a-z]{{2,}}s)\b", question.lower())
    return Count(number_value(match.group(1)), match.group(2).rstrip("s")) if match else None


def focus(question: str) -> str | None:
    """The noun a "which X" question asks for, or the verb of "who X": answers usually say it."""
    match = re.search(r"^\s*(?:which|what)\s+(?:\w+\s+)?([a-z]{4,})\b|^\s*who\s+([a-z]{4,})\b",
                      question.lower())

    if not match:
        return None
    tokens = tokenize(match.group(1) or match.group(2), bigrams=False)
    return tokens[0] if tokens and tokens[0] not in {"could", "would", "should", "might", "must"} else None
