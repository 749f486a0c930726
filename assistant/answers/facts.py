"""Facts a sentence states: amounts, percentages, numbers, dates and names.

The kind of answer a question wants (``Query.expected``: "how much ...?" wants an amount) is
met by a sentence only when it states a fact of that kind. The answer scorer prefers such
sentences, and the gate abstains when the best ones state none. After any composer, ``source_notes``
says which quotes no publisher vouches for and which cited sums of money disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Citation, Expected
from ..text import tokenize

AMOUNT = re.compile(r"£\s?\d|\d+(?:\.\d+)?\s?(?:(?:bn|m|billion|million|per ?cent)\b|%)", re.I)
PERCENT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|per ?cent\b)", re.I)
NUMBER = re.compile(r"\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b"
                    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                    r"twelve|twenty|thirty|forty|fifty|hundred|thousand|dozen)\b", re.I)
DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b(?:January|February|March|April|May|June|July|August|September|"
                  r"October|November|December|spring|summer|autumn|winter)\b", re.I)
NAME = re.compile(r"\b[A-Z][\w&'\u2019-]+"
                  r"(?:\s+(?:of|for|and|the|van|von|de|du|la|upon|on)?\s*[A-Z][\w&'\u2019-]*)+")

PATTERNS = {"amount": AMOUNT, "percent": PERCENT, "number": NUMBER, "date": DATE, "name": NAME}


def states(expected: Expected, sentence: str, asked: frozenset[str]) -> bool:
    """Whether ``sentence`` states the kind of fact ``expected``; a name must be one the question
    does not use already (``asked``: the question's words), or "who runs the UKSPF?" is met by
    "the UK Shared Prosperity Fund"."""
    if expected.kind != "name":
        return bool(PATTERNS[expected.kind].search(sentence))
    return any(not set(tokenize(m.group(0), bigrams=False)) <= asked for m in NAME.finditer(sentence))


_MONEY = re.compile(r"£\s?(\d+(?:,\d{3})*(?:\.\d+)?)\s?(bn|billion|m|million|k|thousand)?\b", re.I)
_SCALE = {"bn": 1e9, "billion": 1e9, "m": 1e6, "million": 1e6, "k": 1e3, "thousand": 1e3}


def money(sentence: str) -> dict[float, str]:
    """The sums of money a sentence states, by value in pounds, as written ("£2.6 billion")."""
    found = {}
    for match in _MONEY.finditer(sentence):
        value = float(match.group(1).replace(",", "")) * _SCALE.get((match.group(2) or "").lower(), 1)
        found.setdefault(value, match.group(0).strip())
    return found


def _names(sentence: str) -> set[str]:
    """Names of two or more capitalised words ("UK Shared Prosperity Fund"), without a leading "The"."""
    names = set()
    for match in NAME.finditer(sentence):
        name = re.sub(r"^(?:The|This|These|A|An|In|By|For)\s+", "", match.group(0))
        if len(name.split()) >= 2:
            names.add(name)
    return names


def source_notes(citations: Sequence[Citation]) -> list[str]:
    """What an answer must say about its sources, whichever composer wrote it: the quotes from a file
    with no known publisher, and cited figures that disagree (``disagreements``)."""
    notes = disagreements([(c.n, c.doc_id, c.quote) for c in citations if c.kind == "document"])
    unverified = [f"[{c.n}]" for c in citations if not c.verified]
    if unverified:
        notes.insert(0, f"Part of this answer ({', '.join(unverified)}) is quoted from a file indexed "
                     "without a record of who published it: check it before relying on it.")
    return notes


def disagreements(quotes: list[tuple[int, str, str]]) -> list[str]:
    """Notes for cited figures that disagree: two quotes from different documents (``(marker, document id,
    quote)``) that name the same thing and each give a sum of money, none of them the same.

    Two documents can both be right (different years, or a part of the whole), so the answer keeps
    both and says they differ; a planted "£999bn" beside the White Paper's £2.6 billion is then
    visible at a glance."""
    notes = []
    seen: set[tuple[int, int]] = set()
    for i, (n, doc, quote) in enumerate(quotes):
        sums = money(quote)
        for m, other_doc, other in quotes[i + 1:]:
            other_sums = money(other)
            shared = _names(quote) & _names(other)
            if doc == other_doc or not sums or not other_sums or set(sums) & set(other_sums) or not shared:
                continue
            if (n, m) not in seen:
                seen.add((n, m))
                name = max(shared, key=len)
                notes.append(f"The sources give different figures for the {name}: "
                             f"{', '.join(sums.values())} [{n}] and {', '.join(other_sums.values())} [{m}]. "
                             "Check which applies (they may be for different years or parts of it).")
    return notes
