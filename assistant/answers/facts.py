"""Facts a sentence states: amounts, percentages, numbers, dates and names.

The kind of answer a question wants (``Query.expected``: "how much ...?" wants an amount) is
met by a sentence only when it states a fact of that kind. The answer scorer prefers such
sentences, and the gate abstains when the best ones state none.
"""

from __future__ import annotations

import re

from ..models import Expected
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
