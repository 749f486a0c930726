"""Abbreviations and typos: the words users type, read as the documents write them.

Users type "UKSPF", "HLE target for 2035?", "innovation acclerators"; the documents say "UK
Shared Prosperity Fund", "Healthy Life Expectancy", "Innovation Accelerators". ``expand``
bridges the two with ``glossary.json`` (each term with its meaning in the documents' words)
and the index's own vocabulary, and notes every change so the user sees how the question
was read.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from ..models import Query
from ..text import STOPWORDS

GLOSSARY_FILE = Path(__file__).with_name("glossary.json")


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


def term_pattern(term: Term) -> re.Pattern[str]:
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
        pattern = term_pattern(term)
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
            at = pattern.search(searched)  # spelt out after its first use
            if at:
                searched = f"{searched[:at.end()]} ({'; '.join(meanings)}){searched[at.end():]}"

    dictionary = dictionary if isinstance(dictionary, (set, frozenset)) else frozenset(dictionary)
    if known:
        for word in sorted(set(re.findall(r"\b[a-z]{5,}\b", text))):
            if word in known or word in dictionary or word in STOPWORDS:
                continue
            close = difflib.get_close_matches(word, _candidates(word, known), n=1, cutoff=0.84)
            if close:
                searched = re.sub(rf"\b{word}\b", close[0], searched)
                notes.append(f"Searched \u201c{word}\u201d as \u201c{close[0]}\u201d.")
    return replace(query, notes=tuple(notes), search_text=searched if searched != text else "",
                   related=tuple(related))



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
