"""Documents a question names: "according to techUK", "the Green Book", "the levelling up white paper".

A question that names a document is most likely about it: search favours that document's
passages, and within it the name says nothing (every Green Book passage mentions the Green
Book), so the word search and re-ranking look at the rest of the question. The names are
phrases of the manifest's titles (and a commentary's publisher), plus what people call the
White Paper for the manifest's ``core`` documents: not a list of questions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..models import Source
from ..text import plain_words, tokenize

_GENERIC = {"the", "of", "and", "for", "on", "a", "an", "to", "in", "uk", "government", "guidance",
            "edition", "white", "paper", "official", "pdf", "blog", "post", "by", "from", "united", "kingdom",
            "levelling", "up"}


_AUTHORSHIP = re.compile(r"\bwho (?:wrote|authored|signed|is the author)"
                         r"|\b(?:wrote|signed|author of) (?:the |this )?"
                         r"(?:foreword|preface|post|blog|article|paper|report|introduction)\b", re.I)


def asks_who_wrote(question: str) -> bool:
    """ "who wrote the techUK blog post?": a question about a document's author, so its name matters."""
    return bool(_AUTHORSHIP.search(question))


# What people call the White Paper itself; they name every "core" document of the manifest (the full
# paper and both renderings of its executive summary), whose titles are all generic words.
CORE_NAMES = {"levelling up white paper", "levelling up paper", "levelling up the united kingdom",
              "levelling up report", "levelling up document"}


def _gapped(phrase: str) -> str:
    """A pattern for ``phrase`` with anything but letters and digits between its words."""
    return r"\W+".join(re.escape(w) for w in phrase.split())


class DocumentNames:
    """Phrases that name a document, taken from its title and publisher.

    "Skills for Jobs: Lifelong Learning for Opportunity and Growth (CP 338)" is named by
    "skills for jobs" or "lifelong learning"; a techUK post by "techUK". A question that
    names a document is most likely about it.
    """

    def __init__(self, sources: Iterable[Source]) -> None:
        self.names: dict[str, set[str]] = {}  # phrase -> ids of the documents it names
        self.commentary: set[str] = set()
        self.title_words: dict[str, set[str]] = {}  # per document: its title's own words ("appraisal")
        for source in sources:
            if source.kind == "commentary":
                self.commentary.add(source.id)
            phrases = self._phrases(source) | (CORE_NAMES if source.relation == "core" else set())
            for phrase in phrases:
                self.names.setdefault(phrase, set()).add(source.id)
            self.title_words[source.id] = set(plain_words(source.title)) - _GENERIC
        # Compiled once: a question is checked against every phrase, and with a hundred documents
        # there are more phrases than the ``re`` module's cache holds, so compiling per question
        # cost more than the rest of the answer (benchmarks/scale.py, warm p95 at 20x).
        self._in_words = [(re.compile(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])"), ids)
                          for p, ids in self.names.items()]
        self._in_text = [  # the phrase in the question as typed: any case, any gaps between its words
            (re.compile(rf"(?<![A-Za-z0-9]){_gapped(p)}(?![A-Za-z0-9])", re.I),
             set().union(*(self.title_words.get(d, set()) for d in self.names[p])))
            for p in sorted(self.names, key=len, reverse=True)]

    @staticmethod
    def _phrases(source: Source) -> set[str]:
        phrases = set()
        for part in re.split(r"[:(\u2013\u2014\u2011]|\s-\s|,", source.title):
            words = plain_words(part)
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
        for pattern, words_of_titles in self._in_text:  # longest phrase first
            title = words_of_titles if title_words else set()
            for match in list(pattern.finditer(stripped))[::-1]:
                start, end = match.span()
                while (after := re.match(r"\W+([A-Za-z0-9&]+)", stripped[end:])) \
                        and after.group(1).lower() in title:
                    end += after.end()
                while (before := re.search(r"([A-Za-z0-9&]+)\W+$", stripped[:start])) \
                        and before.group(1).lower() in title:
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
        text = " ".join(plain_words(question))
        found: set[str] = set()
        for pattern, ids in self._in_words:
            if pattern.search(text):
                found |= ids
        return found & self.commentary or found
