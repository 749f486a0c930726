"""Text primitives every stage shares: sentences, words, word triples, bullets and counted lists.

Ingest cuts passages into quotable units with these, the word index and the question are
tokenised with the same ``tokenize``, near-duplicates are compared by the same ``shingles``,
and the list words ("five", "Second, ...", "•") are read the same way by search and answers.
One definition each, so the stages cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

# --- sentences and quotable units --------------------------------------------------------

_ABBREVIATIONS = {"e.g", "i.e", "etc", "no", "nos", "mr", "mrs", "ms", "dr", "st", "vs", "cf", "fig",
                  "para", "paras", "approx", "inc", "ltd", "co", "vol", "p", "pp", "ch", "sec", "art"}
_SENTENCE_GAP = re.compile(r"(?<=[.!?])([\"'\u2019\u201d)\]]*)\s+(?=[\"'\u2018\u201c(\[]?[A-Z0-9£$\u2022])")

#: The bullet characters of the corpus's lists (PDF extraction and text renderings alike).
BULLETS = "\u2022\u25cf\u25aa\u00b7"
_INLINE_BULLET = re.compile(rf"\s(?=[{BULLETS}]\s)")
_ITEM_UNIT = re.compile(rf"[{BULLETS}\-]\s")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (shifted by ``offset``), not cutting after "e.g." or initials."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_GAP.finditer(text):
        before = text[start:match.start()]
        word = re.search(r"(\S+)\.$", before)
        if word and (word.group(1).lower().rstrip(".") in _ABBREVIATIONS
                     or re.fullmatch(r"[A-Z]", word.group(1))):
            continue
        spans.append((offset + start, offset + match.start() + len(match.group(1))))
        start = match.end()
    if text[start:].strip():
        spans.append((offset + start, offset + len(text.rstrip())))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_units(text: str, breaks: Sequence[int] = (),
                   headings: Sequence[str] = ()) -> list[tuple[int, int]]:
    """The quotable units of a passage: sentences and list items, as (start, end) offsets.

    Units never run across a page break (``breaks``), so every quote can be cited to its page, and
    a section heading (``headings``) stays a unit of its own.
    A short line without a full stop ("Matt Robinson", a table label) or a very short sentence
    ("UK Shared Prosperity Fund.") joins the unit after it, so a name stays with the title under
    it and a glossary term with its definition. A contents entry ("Careers 7") never joins.
    """
    def breaks_between(end: int, start: int) -> bool:
        return any(end <= b <= start for b in breaks)

    units: list[tuple[int, int]] = []
    for paragraph in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        for start, end in split_sentences(paragraph.group(0), paragraph.start()):
            cuts = [start] + [start + m.end() for m in _INLINE_BULLET.finditer(text[start:end])] + [end]
            cuts = sorted(set(cuts) | {b for b in breaks if start < b < end})  # a quote stays on one page
            units.extend(_trim(text, a, b) for a, b in pairwise(cuts) if text[a:b].strip())
    titles = {" ".join(h.split()) for h in headings}

    def item(span: tuple[int, int]) -> bool:
        return bool(_ITEM_UNIT.match(text[span[0]:span[1]]))

    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for i, (start, end) in enumerate(units):
        own = text[start:end].strip()
        if pending is not None:
            start = pending
        short = (len(own) < 40 and not re.search(r"[.!?:;]$", own)) or len(own.split()) < 6
        # Joins the next unit (a name with its title, a glossary term "• X." with its definition), unless it
        # is a contents entry ("Careers 7") or a list item ("• Transport data", or one before the next item).
        followed_by_item = i + 1 < len(units) and item(units[i + 1])
        lone_item = item((start, end)) and (followed_by_item or not re.search(r"[.:]$", own))
        # A heading stays apart from the sentence under it, but a name heading a title line joins it.
        heading = " ".join(own.split()) in titles and (
            i + 1 >= len(units) or bool(re.search(r"[.!?]$", text[units[i + 1][0]:units[i + 1][1]].strip())))
        if short and i + 1 < len(units) and not re.search(r"\d$", own) and not lone_item and not heading \
                and not breaks_between(end, units[i + 1][0]):
            pending = start
            continue
        pending = None
        merged.append((start, end))
    return merged


def readable(text: str) -> str:
    """Text for people: one space between words, and compounds broken at a line end rejoined."""
    return re.sub(r"\s+", " ", re.sub(r"(?<=\w-)\n(?=\w)", "", text)).strip()


# Terminal escape sequences (colours, cursor moves, an OSC title with its BEL or ST terminator), then any
# other control character: what a document or a question must never send to a terminal or a page.
_ESCAPE = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]"
                     r"|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, keep: str = "\n\t") -> str:
    """``text`` without escape sequences and control characters (line breaks and tabs kept, or those
    in ``keep``): documents are untrusted, and what is shown must not retitle or recolour a terminal."""
    text = _ESCAPE.sub("", text)
    return _CONTROL.sub(lambda m: m.group(0) if m.group(0) in keep else " ", text)


#: A line addressed to an assistant rather than to a reader: "ignore previous instructions", "you are now
#: ...", "reveal your system prompt". Refused in a question (answers/guard.py); never quoted from a document.
ADDRESSED_TO_ASSISTANT = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|guidelines|"
    r"above|previous|everything)\b|system prompt|your (?:instructions|prompt|rules|configuration)|"
    r"\b(?:you are now|act as|pretend (?:to be|you are)|jailbreak|developer mode|do anything now)\b", re.I)


def squash(text: str) -> str:
    """Letters and digits only, lower-cased: compares headings across glued or broken words."""
    return re.sub(r"[\W_]+", "", text.lower())


# --- words -------------------------------------------------------------------------------

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
or other our ours out over own same she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours s t don isn aren wasn weren hasn haven doesn didn whats thats etc also any
anything there's we're i'm
""".split())

#: Stored with each word index: an index built by an older tokenizer is rebuilt when opened.
TOKENIZER_VERSION = 3

_TOKEN = re.compile(r"[a-z0-9£$%&]+(?:[.,][0-9]+)*")
_HYPHEN = re.compile(r"-\n?")
#: A plain word of the documents' vocabulary, as the typo check and the name finders read it.
WORD = re.compile(r"[a-z0-9&]+")


@lru_cache(maxsize=1 << 16)  # a corpus has a few thousand distinct words; opening an index folds 100,000
def fold(word: str) -> str:
    """Collapse what PDF text extraction loses (ligatures) and a light English stem."""
    word = re.sub(r"ffi|ffl|ff|fi|fl", "f", word)
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + replacement
            break
    # "replace", "replaced", "replacing" -> "replac"; "bike", "bikes" -> "bik"
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def tokenize(text: str, bigrams: bool = True) -> list[str]:
    """Index/query tokens: folded words and numbers, stopwords dropped, "£2.6bn" kept whole and split,
    pairs of adjacent words, and a hyphenated compound also whole ("well-being" as "wellbeing", as
    people type it; "e-scooters" as "escooters"), a line-end hyphen included."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u00ad", "")
    tokens: list[str] = []
    previous = ""
    last, last_end = "", -1
    for found in _TOKEN.finditer(text):
        raw = found.group(0).strip(".,")
        if last.isalpha() and raw.isalpha() and _HYPHEN.fullmatch(text, last_end, found.start()):
            tokens.append(fold(last + raw))
        last, last_end = raw, found.end()
        if not raw or raw in STOPWORDS:
            previous = ""
            continue
        word = fold(raw)
        tokens.append(word)
        if previous and bigrams:  # word pairs reward phrases: "regulatory review", "police officers"
            tokens.append(f"{previous}_{word}")
        previous = word
        parts = re.findall(r"[0-9]+(?:\.[0-9]+)?|[a-z]+", raw)  # "£2.6bn" also as "2.6" and "bn"
        if len(parts) > 1:
            tokens.extend(fold(p) for p in parts if p not in STOPWORDS)
    return tokens


def plain_words(text: str) -> list[str]:
    """The plain lower-case words of ``text`` (``WORD``), unfolded: for names and vocabularies."""
    return WORD.findall(text.lower())


def shingles(text: str) -> set[str]:
    """Word 3-grams of a canonical form that forgives dropped ligatures ("fnance" = "finance")."""
    canonical = unicodedata.normalize("NFKC", text).lower()
    canonical = re.sub(r"ffi|ffl|ff|fi|fl", "f", canonical)
    canonical = re.sub(r"(\d)\s*(bn|billion)\b", r"\1 billion", canonical)
    canonical = re.sub(r"(\d)\s*(m|million)\b", r"\1 million", canonical)
    found = re.findall(r"[a-z0-9]+", canonical)
    return {" ".join(found[i:i + 3]) for i in range(len(found) - 2)}


def join_names(names: Sequence[str], conjunction: str = "and") -> str:
    """ "Greater Manchester, the West Midlands and Glasgow" (or "... or ...")."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


# --- what states nothing -----------------------------------------------------------------

_CONTENTS_ENTRY = re.compile(r"[A-Za-z?)] \d{1,3}(?=\s+[A-Z0-9]|\s*$)")
_CAPTION = re.compile(r"(?:Source|Sources|Figure|Table|Chart|Photo(?:graph)?|Image|Credit)\b\s*\d*[.:]?\s",
                      re.I)


def looks_like_contents(text: str) -> bool:
    """A contents list (titles followed by page numbers): it names sections but states nothing."""
    entries = len(_CONTENTS_ENTRY.findall(text))
    return entries >= 2 and entries * 8 >= len(text.split())


@lru_cache(maxsize=256)
def _title_words(title: str) -> frozenset[str]:
    """A title's main words, before any "(CP 338)" or dash: what a title-page line repeats."""
    return frozenset(w for w in tokenize(re.split(r"[(\u2013]", title)[0], bigrams=False) if not w.isdigit())


def is_filler(sentence: str, tokens: frozenset[str], title: str) -> bool:
    """A contents line, a caption or a title-page line: it names things but states nothing; or a line
    addressed to an assistant (a planted instruction), which is not answer material.

    ``tokens`` are the sentence's ``tokenize`` words (no pairs); ``title`` its document's title."""
    main = _title_words(title)
    title_echo = bool(main) and main <= tokens and len(tokens) <= len(main) + 8
    return (title_echo or looks_like_contents(sentence) or bool(re.search(r"\bContents\b", sentence))
            or bool(_CAPTION.match(sentence.strip())) or bool(ADDRESSED_TO_ASSISTANT.search(sentence)))


# --- counted lists: "five pillars", "Second, ...", "• ..." -------------------------------

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve"]
ORDINALS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
            "tenth", "eleventh", "twelfth"]
#: "5" or "five" .. "twelve", as a regex alternative.
COUNT = r"\d{1,2}|" + "|".join(NUMBER_WORDS[2:])
_ORDINAL = "|".join([*(w.capitalize() for w in ORDINALS[1:]), "Finally", "Lastly"])

#: The start of one item: a bullet, "(a)", "2.", or an ordinal word.
ENUMERATOR = re.compile(rf"^(?:[{BULLETS}]|-|\(?(?:[a-z]|\d{{1,2}})[.)](?=\s)|(?:{_ORDINAL})\b)", re.I)
#: An item that starts with an ordinal word: a list told as "First, ... Second, ..." is made of these only
#: (a footnote "(1) ..." between two pillars is not one of them).
ORDINAL_ITEM = re.compile(rf"^(?:{_ORDINAL})\b", re.I)
#: Items inside a passage: an ordinal word opening a sentence ("Second, ...") or a bullet.
ITEM_IN_TEXT = re.compile(rf"(?:^|(?<=[.!?;:]\s)|(?<=\n))\s*(?:({_ORDINAL}),|[{BULLETS}]\s*\S)")
#: A bullet (or dash) opening a unit, as the answer shows it without.
LEADING_BULLET = re.compile(rf"^[{BULLETS}\-\s]+")


def number_value(word: str) -> int:
    """ "5" or "five" as 5."""
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word.lower())


@lru_cache(maxsize=256)
def count_pattern(value: int, noun: str) -> re.Pattern[str]:
    """ "6 stages" or "six stages" (up to three words between: "five mutually reinforcing pillars")."""
    forms = sorted({str(value), NUMBER_WORDS[value] if value < len(NUMBER_WORDS) else str(value)})
    return re.compile(rf"\b(?:{'|'.join(forms)})\s+(?:[\w\u2018\u2019'-]+\s+){{0,3}}"
                      rf"[\u2018\u2019']?{re.escape(noun)}", re.I)


def last_ordinal(count: int) -> str:
    """The ordinal word that closes a list of ``count`` items ("fifth" for 5; "twelfth" at most)."""
    return ORDINALS[min(count, 12)]
