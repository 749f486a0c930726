"""Follow-ups: "and how much is it?" read in the light of the questions before it.

A chat's later questions lean on the earlier ones ("and who runs it?", "what about Wales?").
``standalone`` rewrites such a question into one that stands alone, from the user's previous
question, and notes how it read it. Rule-based; the optional LLM mode may condense with a
model instead and fall back to this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Query
from ..text import STOPWORDS
from .glossary import glossary, term_pattern

_FOLLOW_UP_START = re.compile(r"^(and|but|also|so|then|what about|how about|and what about|what else|"
                              r"any more|anything else|more on)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|him|her)\b", re.I)
_QUESTION_WORDS = STOPWORDS | {"much", "many", "long", "big", "worth", "total", "please", "tell", "say",
                               "says", "said", "does", "paper", "white", "document", "documents", "else",
                               "more"}



# A capitalised name of several words ("Levelling Up Fund", "Department for Education").
_NAME_IN_QUESTION = r"(?:[A-Z][\w&'\u2019-]*\s+(?:of\s+|for\s+|and\s+)?)+[A-Z][\w&'\u2019-]*"
# A name after a space ("... goes to Scotland?", "... for Greater Manchester"): what "what about X?" replaces.
_NAME_TO_SWAP = r"(?<=\s)(?:[A-Z][\w'\u2019-]*)(?:\s+(?:of|and|the|upon|on)?\s*[A-Z][\w'\u2019-]*)*"


def _topic(question: str) -> str:

    """The subject of a previous question: a glossary term, a capitalised name, else its content words."""
    for term in glossary():
        match = term_pattern(term).search(question)
        if match:
            return match.group(0)
    names = re.findall(_NAME_IN_QUESTION, question[1:])
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
    names = re.findall(_NAME_TO_SWAP, last)
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
