"""Query understanding without an LLM: validation, abbreviations, typos, follow-ups, document names.

Users type "UKSPF", "HLE target for 2035?", "innovation acclerators", "and how much is it?".
The documents say "UK Shared Prosperity Fund", "Healthy Life Expectancy", "Innovation
Accelerators". This module bridges the two, and records every change it makes as a note so
the user can see how the question was read:

* ``prepare_query``   refuse empty/punctuation-only questions; strip control characters; cut
                      over-long ones with a note;
* ``standalone``      turn a follow-up into a question that stands alone, from the previous turns;
* ``expand``          add the meaning of abbreviations (``glossary.json``) and fix typos against the
                      index's own vocabulary;
* ``question_parts``  the parts of a multi-part question ("... and what were their criticisms?");
* ``DocumentNames``   spot a document the question names ("according to techUK", "the Green Book").
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import QueryError
from .lexical import STOPWORDS, tokenize
from .models import Query, Source
from .settings import Settings

GLOSSARY_FILE = Path(__file__).with_name("glossary.json")


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


def question_parts(question: str) -> list[str]:
    """A multi-part question's parts: "... like, and what were their criticisms?"; and, failing
    those, the two sides of a single "and" when each holds two words or more: "can I count the jobs
    my scheme creates and keynesian multiplier effects as benefits?" ("Housing and Communities",
    capitalised on both sides, is a name, not two parts)."""
    parts = [p.strip(" ,?") for p in re.split(r",?\s+and\s+(?=(?:what|how|when|who|which|where|why|by how)\b)|"
                                             r"\s+-\s+|,\s+and\s+over\b|\s+now and\s+", question, flags=re.I)]
    parts = [p for p in parts if tokenize(p, bigrams=False)]
    if len(parts) > 1:
        return parts
    sides = re.split(r"\s+and\s+", question.strip())
    if len(sides) != 2 or (sides[0].split()[-1][:1].isupper() and sides[1].split()[0][:1].isupper()):
        return []
    sides = [s.strip(" ,?") for s in sides]
    return sides if all(len(tokenize(s, bigrams=False)) >= 2 for s in sides) else []


def scored_texts(query: Query, names: DocumentNames, ranking: bool = False,
                 beside_name: bool = True) -> tuple[list[str], list[str]]:
    """What a question's candidate sentences are scored against: the question as searched and its
    parts; and, ranking passages with ``beside_name`` when a document is named, the same texts as
    asked of that document (``DocumentNames.beside_names``), else [].

    Ranking passages, a part of fewer than three words ("skills for jobs", "project gigabit": the
    context a question opens with) is left out: it ranks nothing the whole question does not, and
    costs a model row as long as the question's."""
    parts = question_parts(query.text)
    if ranking:
        parts = [p for p in parts if len(tokenize(p, bigrams=False)) >= 3]
    texts = [query.searched, *parts]
    if not (ranking and beside_name and names.named_in(query.text)):
        return texts, []
    return texts, [names.beside_names(t) for t in texts]


# --- abbreviations and typos -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Term:
    key: str
    means: tuple[str, ...]
    exact_case: bool
    why: str = ""  # set for a phrase the documents use for the term, not its meaning: "mission" -> "By 2030"


@lru_cache(maxsize=1)
def glossary() -> tuple[Term, ...]:
    raw = json.loads(GLOSSARY_FILE.read_text(encoding="utf-8"))["terms"]
    return tuple(Term(k, tuple(v["means"]), bool(v.get("case")), v.get("why", "")) for k, v in raw.items())


def _term_pattern(term: Term) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w&]){re.escape(term.key)}(?![\w&])", 0 if term.exact_case else re.I)


def expand(query: Query, vocabulary: Iterable[str] = (), dictionary: Iterable[str] = ()) -> Query:
    """Spell out abbreviations and correct misspelt words, noting each change.

    An acronym the documents never use ("UKSPF") is spelt out where it stands, so the model
    can read the question; one they do use ("HLE"), or a casual short form ("govt"), keeps its
    place and its meaning only joins the word search (``related``), where it cannot pull the
    meaning off course.
    A word is corrected only when it is lower case, five letters or more, unknown to both the
    index (``vocabulary``) and the model's own word list (``dictionary``), and close to an
    index word; so names, places and ordinary words the documents happen not to use are left alone.
    """
    text = query.text
    notes = list(query.notes)
    searched = query.searched  # keeps what an earlier step added (the areas containing a place)
    related: list[str] = list(query.related)
    known = vocabulary if isinstance(vocabulary, frozenset) else frozenset(vocabulary)
    for term in glossary():
        pattern = _term_pattern(term)
        match = pattern.search(text)  # the question itself, not meanings added for other terms
        if not match or any(m.lower() in text.lower() for m in term.means if m.lower() != term.key.lower()):
            continue
        meanings = [m for m in term.means if m.lower() != match.group(0).lower()]
        if not meanings:
            continue
        if term.why:
            notes.append(f"Also looked for \u201c{term.means[0]}\u201d: {term.why}.")
            related.extend(meanings)
            continue
        notes.append(f"Read \u201c{match.group(0)}\u201d as \u201c{term.means[0]}\u201d.")
        if match.group(0).lower() in known or sum(ch.isupper() for ch in term.key) < 2:
            related.extend(meanings)  # the documents use it, or it is casual ("govt"): words only
        else:
            searched = pattern.sub(lambda m: f"{m.group(0)} ({'; '.join(meanings)})", searched, count=1)
    dictionary = dictionary if isinstance(dictionary, (set, frozenset)) else frozenset(dictionary)
    if known:
        for word in sorted(set(re.findall(r"\b[a-z]{5,}\b", text))):
            if word in known or word in dictionary or word in STOPWORDS:
                continue
            close = difflib.get_close_matches(word, _candidates(word, known), n=1, cutoff=0.84)
            if close:
                searched = re.sub(rf"\b{word}\b", close[0], searched)
                notes.append(f"Searched \u201c{word}\u201d as \u201c{close[0]}\u201d.")
    return Query(query.text, tuple(notes), searched if searched != text else "", tuple(related))


def _candidates(word: str, known: set[str]) -> list[str]:
    """Vocabulary words of similar length and the same first letter: keeps difflib fast."""
    return [w for w in _by_initial(frozenset(known)).get(word[:1], ()) if abs(len(w) - len(word)) <= 2]


@lru_cache(maxsize=4)
def _by_initial(known: frozenset[str]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for w in known:
        if len(w) >= 4 and w.isalpha():
            grouped.setdefault(w[:1], []).append(w)
    return {k: tuple(v) for k, v in grouped.items()}


# --- follow-ups --------------------------------------------------------------------------

_FOLLOW_UP_START = re.compile(r"^(and|but|also|so|then|what about|how about|and what about|what else|"
                              r"any more|anything else|more on)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|him|her)\b", re.I)
_QUESTION_WORDS = STOPWORDS | {"much", "many", "long", "big", "worth", "total", "please", "tell", "say", "says",
                               "said", "does", "paper", "white", "document", "documents", "else", "more"}


def _topic(question: str) -> str:
    """The subject of a previous question: a glossary term, a capitalised name, else its content words."""
    for term in glossary():
        match = _term_pattern(term).search(question)
        if match:
            return match.group(0)
    names = re.findall(r"(?:[A-Z][\w&'\u2019-]*\s+(?:of\s+|for\s+|and\s+)?)+[A-Z][\w&'\u2019-]*", question[1:])
    if names:
        return max(names, key=len).strip()
    words = [w for w in re.findall(r"[\w&£%.-]+", question) if w.lower() not in _QUESTION_WORDS]
    return " ".join(words[:8])


def is_follow_up(question: str) -> bool:
    content = [w for w in re.findall(r"[a-z]+", question.lower()) if w not in _QUESTION_WORDS]
    return bool(_FOLLOW_UP_START.match(question) or (_PRONOUN.search(question) and len(content) <= 2))


def standalone(query: Query, history: Sequence[str]) -> Query:
    """Rewrite a follow-up ("and how much is it?") into a question that stands alone.

    ``history`` holds the user's earlier questions, oldest first. Not a follow-up, or no
    history: the query is returned unchanged.
    """
    previous = [q for q in history if q and q.strip()]
    if not previous or not is_follow_up(query.text):
        return query
    last = previous[-1].strip()
    topic = _topic(last)
    if not topic:
        return query
    body = _FOLLOW_UP_START.sub("", query.text).strip(" ,") or query.text
    about = re.match(r"^(?:and\s+)?(?:what|how)\s+about\s+(.+?)\??$", query.text.strip(), re.I)
    names = re.findall(r"(?<=\s)(?:[A-Z][\w'\u2019-]*)(?:\s+(?:of|and|the|upon|on)?\s*[A-Z][\w'\u2019-]*)*", last)
    content = [m for m in re.finditer(r"[\w&'\u2019-]+", last) if m.group(0).lower() not in _QUESTION_WORDS]
    if about and (names or content):
        # "what about Wales?" after "... goes to Scotland?": the same question, for Wales; without a
        # name to swap, the last word that carries meaning ("... promise on housing?" -> "on skills").
        if names:
            start = last.rindex(names[-1])
            end = start + len(names[-1])
        else:
            start, end = content[-1].span()
        replacement = about.group(1)
        if re.search(r"\b(the|a|an)\s+$", last[:start], re.I):  # "the UKSPF" -> "the LUF", not "the the LUF"
            replacement = re.sub(r"^(the|a|an)\s+", "", replacement, flags=re.I)
        rewritten = last[:start] + replacement + last[end:]
    elif _PRONOUN.search(body):
        rewritten = _PRONOUN.sub(topic, body, count=1)
    else:
        rewritten = f"{body.rstrip('?')} ({topic})?"
    rewritten = rewritten[0].upper() + rewritten[1:]
    note = f"Read the follow-up as: \u201c{rewritten}\u201d."
    return Query(rewritten, (*query.notes, note))


# --- documents named in a question -------------------------------------------------------

_GENERIC = {"the", "of", "and", "for", "on", "a", "an", "to", "in", "uk", "government", "guidance", "edition",
            "white", "paper", "official", "pdf", "blog", "post", "by", "from", "united", "kingdom", "levelling", "up"}


_AUTHORSHIP = re.compile(r"\bwho (?:wrote|authored|signed|is the author)|\b(?:wrote|signed|author of) (?:the |this )?"
                         r"(?:foreword|preface|post|blog|article|paper|report|introduction)\b", re.I)


def asks_who_wrote(question: str) -> bool:
    """ "who wrote the techUK blog post?": a question about a document's author, so its name matters."""
    return bool(_AUTHORSHIP.search(question))


# What people call the White Paper itself; they name every "core" document of the manifest (the full
# paper and both renderings of its executive summary), whose titles are all generic words.
CORE_NAMES = {"levelling up white paper", "levelling up paper", "levelling up the united kingdom",
              "levelling up report", "levelling up document"}


class DocumentNames:
    """Phrases that name a document, taken from its title and publisher.

    "Skills for Jobs: Lifelong Learning for Opportunity and Growth (CP 338)" is named by
    "skills for jobs" or "lifelong learning"; a techUK post by "techUK". A question that
    names a document is most likely about it.
    """

    def __init__(self, sources: Iterable[Source]) -> None:
        self.names: dict[str, set[str]] = {}
        self.commentary: set[str] = set()
        self.title_words: dict[str, set[str]] = {}  # per document: its title's own words ("appraisal")
        for source in sources:
            if source.kind == "commentary":
                self.commentary.add(source.id)
            phrases = self._phrases(source) | (CORE_NAMES if source.relation == "core" else set())
            for phrase in phrases:
                self.names.setdefault(phrase, set()).add(source.id)
            self.title_words[source.id] = set(re.findall(r"[a-z0-9&]+", source.title.lower())) - _GENERIC

    @staticmethod
    def _phrases(source: Source) -> set[str]:
        phrases = set()
        for part in re.split(r"[:(\u2013\u2014\u2011]|\s-\s|,", source.title):
            words = [w for w in re.findall(r"[a-z0-9&]+", part.lower())]
            while words and words[0] in _GENERIC:
                words = words[1:]
            while words and (words[-1] in _GENERIC or words[-1].isdigit()):
                words = words[:-1]
            if len(words) >= 2 and any(w not in _GENERIC for w in words):
                phrases.add(" ".join(words))
        if source.kind == "commentary":
            phrases.add(re.split(r"[\s(/,]", source.publisher.strip())[0].lower())
        return {p for p in phrases if len(p) >= 5}

    def without_names(self, question: str, title_words: bool = False) -> str:
        """The question with the names of documents taken out: "in a green book appraisal can I count
        the jobs my scheme creates?" -> "in a appraisal can I count the jobs my scheme creates?".

        With ``title_words``, words of the document's title next to its name go too ("The Green Book:
        ... Guidance on Appraisal"): "in a can I count the jobs my scheme creates?"."""
        stripped = question
        for phrase in sorted(self.names, key=len, reverse=True):
            title = set().union(*(self.title_words.get(d, set()) for d in self.names[phrase])) if title_words else set()
            words = r"\W+".join(re.escape(w) for w in phrase.split())
            pattern = rf"(?<![A-Za-z0-9]){words}(?![A-Za-z0-9])"
            for match in list(re.finditer(pattern, stripped, flags=re.I))[::-1]:
                start, end = match.span()
                while (after := re.match(r"\W+([A-Za-z0-9&]+)", stripped[end:])) and after.group(1).lower() in title:
                    end += after.end()
                while (before := re.search(r"([A-Za-z0-9&]+)\W+$", stripped[:start])) and before.group(1).lower() in title:
                    start = before.start()
                stripped = stripped[:start] + " " + stripped[end:]
        return " ".join(stripped.split())

    def beside_names(self, text: str) -> str:
        """What a question asks of a document it names: ``text`` without the name, nor the title words
        next to it ("in a green book appraisal can I count ..." -> "in a can I count ..."); ``text``
        itself when fewer than two words would be left."""
        rest = self.without_names(text, title_words=True)
        return rest if len(tokenize(rest, bigrams=False)) >= 2 else text

    def named_in(self, question: str) -> set[str]:
        """Ids of the documents the question names.

        Commentary named beside the White Paper is what the question is about: "the techUK blog
        post on the levelling up white paper" names techUK's post, whose subject is the paper.
        """
        text = " ".join(re.findall(r"[a-z0-9&]+", question.lower()))
        found: set[str] = set()
        for phrase, ids in self.names.items():
            if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text):
                found |= ids
        return found & self.commentary or found
