"""Cut documents into passages that respect their structure.

A passage is a verbatim slice of ``Document.text``. Paragraphs, list items and headings are
the units; consecutive units of one section are packed up to ``chunk_tokens``; every
heading starts a new passage (unless the open one is still tiny), so a passage's section
path is true for all of its text. A paragraph longer than
the model's window is cut between sentences, and a single sentence longer than the window
is cut by LangChain's recursive splitter at clause or word boundaries; nothing else cuts a
sentence.

Near-duplicates across documents (the same executive summary in two renderings) are
linked here with ``link_near_duplicates`` so retrieval can collapse them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from .models import Chunk, Document
from .settings import Settings, get_settings

TokenCounter = Callable[[str], int]

#: A heading starts a new passage unless the open one is smaller than this (a lone intro line).
_MIN_SECTION_TOKENS = 24


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    tokens: int
    heading: bool = False


_ABBREVIATIONS = {"e.g", "i.e", "etc", "no", "nos", "mr", "mrs", "ms", "dr", "st", "vs", "cf", "fig",
                  "para", "paras", "approx", "inc", "ltd", "co", "vol", "p", "pp", "ch", "sec", "art"}
_SENTENCE_GAP = re.compile(r"(?<=[.!?])([\"'\u2019\u201d)\]]*)\s+(?=[\"'\u2018\u201c(\[]?[A-Z0-9£$\u2022])")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (shifted by ``offset``), not cutting after "e.g." or initials."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_GAP.finditer(text):
        before = text[start:match.start()]
        word = re.search(r"(\S+)\.$", before)
        if word and (word.group(1).lower().rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", word.group(1))):
            continue
        spans.append((offset + start, offset + match.start() + len(match.group(1))))
        start = match.end()
    if text[start:].strip():
        spans.append((offset + start, offset + len(text.rstrip())))
    return spans


_CONTENTS_ENTRY = re.compile(r"[A-Za-z?)] \d{1,3}(?=\s+[A-Z0-9]|\s*$)")


def looks_like_contents(text: str) -> bool:
    """A contents list (titles followed by page numbers): it names sections but states nothing."""
    entries = len(_CONTENTS_ENTRY.findall(text))
    return entries >= 2 and entries * 8 >= len(text.split())


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_INLINE_BULLET = re.compile(r"\s(?=[\u2022\u25cf\u25aa\u00b7]\s)")


def sentence_units(text: str, breaks: Sequence[int] = (), headings: Sequence[str] = ()) -> list[tuple[int, int]]:
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
            units.extend(_trim(text, a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip())
    titles = {" ".join(h.split()) for h in headings}

    def item(span: tuple[int, int]) -> bool:
        return bool(re.match(r"[\u2022\u25cf\u25aa\u00b7\-]\s", text[span[0]:span[1]]))

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


def passage_units(chunk: Chunk) -> list[tuple[int, int]]:
    """The quotable units of a passage, cut at its page breaks; the whole passage if it has none."""
    breaks = [offset for offset, _, _ in chunk.page_breaks]
    return sentence_units(chunk.text, breaks, chunk.heading_path) or [(0, len(chunk.text))]


def _units(document: Document) -> list[tuple[int, int, bool]]:
    """The document's paragraphs as (start, end, is_heading), from its blank-line separators."""
    heading_starts = {h.start for h in document.headings if h.end > h.start}
    units = []
    for match in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", document.text):
        units.append((match.start(), match.end(), match.start() in heading_starts))
    return units


def _split_long(text: str, start: int, end: int, max_tokens: int, count: TokenCounter) -> list[_Piece]:
    """Cut an over-long paragraph between sentences; an over-long sentence at clause/word breaks."""
    pieces: list[_Piece] = []
    for s_start, s_end in split_sentences(text[start:end], start):
        tokens = count(text[s_start:s_end])
        if tokens <= max_tokens:
            pieces.append(_Piece(s_start, s_end, tokens))
            continue
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=max_tokens, chunk_overlap=0, length_function=count,
            separators=["; ", ", ", " – ", " ", ""], keep_separator="end",
        )
        cursor = s_start
        for part in splitter.split_text(text[s_start:s_end]):
            found = text.find(part, cursor, s_end)
            if found < 0:  # the splitter only strips whitespace; if it ever did more, keep the rest whole
                pieces.append(_Piece(cursor, s_end, count(text[cursor:s_end])))
                break
            pieces.append(_Piece(found, found + len(part), count(part)))
            cursor = found + len(part)
    return pieces


def chunk_document(document: Document, count_tokens: TokenCounter, settings: Settings | None = None) -> list[Chunk]:
    """Cut ``document`` into passages of about ``settings.chunk_tokens`` tokens."""
    settings = get_settings(settings)
    target, ceiling = settings.chunk_tokens, settings.chunk_max_tokens
    text = document.text
    pieces: list[_Piece] = []
    for start, end, heading in _units(document):
        tokens = count_tokens(text[start:end])
        if tokens <= ceiling:
            pieces.append(_Piece(start, end, tokens, heading))
        else:
            pieces.extend(_split_long(text, start, end, ceiling, count_tokens))

    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    size = 0
    for piece in pieces:
        only_headings = all(p.heading for p in current)
        new_section = piece.heading and size >= _MIN_SECTION_TOKENS and not only_headings
        too_big = size + piece.tokens > target and size >= target // 3 and not only_headings
        if current and (new_section or too_big or size + piece.tokens > ceiling):
            carried: list[_Piece] = []
            while current and current[-1].heading and len(current) > 1:
                carried.insert(0, current.pop())  # a heading belongs with the text after it
            groups.append(current)
            current, size = carried, sum(p.tokens for p in carried)
        current.append(piece)
        size += piece.tokens
    if current:
        groups.append(current)
    return _make_chunks(document, [(g[0].start, g[-1].end) for g in groups], settings)


#: Topic tags for filters ("what does the paper commit to on devolution?"): a passage has a topic when
#: its text or section heading matches. Deliberately plain keyword rules, so a user can predict them.
TOPIC_RULES: dict[str, re.Pattern[str]] = {
    "missions": re.compile(r"\bmissions?\b|\bby 2030\b", re.I),
    "funds": re.compile(r"\bfund(?:s|ing|ed)?\b|£\s?\d", re.I),
    "devolution": re.compile(r"devolution|devolved|\bmayors?\b|mayoral|combined (?:county )?authorit|"
                             r"county deals?|trailblazer", re.I),
    "skills": re.compile(r"\bskills?\b|apprentice|further education|\btraining\b", re.I),
    "transport": re.compile(r"transport|\bbus(?:es)?\b|\brail\b|mobility|\btravel\b", re.I),
    "housing": re.compile(r"\bhous(?:e|es|ing)\b|\bhomes?\b|renters?\b", re.I),
    "health": re.compile(r"\bhealth|\bNHS\b|life expectancy|well-?being", re.I),
    "innovation": re.compile(r"\bR&D\b|research and development|innovation", re.I),
}


def topics_of(text: str) -> tuple[str, ...]:
    return tuple(name for name, rule in TOPIC_RULES.items() if rule.search(text))


def _make_chunks(document: Document, spans: Iterable[tuple[int, int]], settings: Settings) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for start, end in spans:
        text = document.text[start:end]
        first, last = document.page_at(start), document.page_at(max(start, end - 1))
        breaks = tuple((p.start - start, p.number, p.label) for p in document.pages if start < p.start < end)
        chunk = Chunk(
            id="", digest="", doc_id=document.id, source=document.source, text=text,
            heading_path=document.heading_path_at(start),
            page_start=first.number if first else None, page_end=last.number if last else None,
            page_label=first.label if first else None, start=start, end=end, page_breaks=breaks,
        )
        digest = hashlib.sha256(f"{chunk.embed_text}\x00{settings.index_key()}".encode()).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        suffix = f"-{seen[digest]}" if seen[digest] > 1 else ""
        chunks.append(replace(chunk, id=f"{document.id}:{digest[:16]}{suffix}", digest=digest,
                              topics=topics_of(chunk.embed_text)))
    return chunks


# --- near-duplicates ---------------------------------------------------------------------

def shingles(text: str) -> set[str]:
    """Word 3-grams of a canonical form that forgives dropped ligatures ("fnance" = "finance")."""
    canonical = unicodedata.normalize("NFKC", text).lower()
    canonical = re.sub(r"ffi|ffl|ff|fi|fl", "f", canonical)
    canonical = re.sub(r"(\d)\s*(bn|billion)\b", r"\1 billion", canonical)
    canonical = re.sub(r"(\d)\s*(m|million)\b", r"\1 million", canonical)
    words = re.findall(r"[a-z0-9]+", canonical)
    return {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}


def link_near_duplicates(chunks: Sequence[Chunk], threshold: float = 0.5) -> list[Chunk]:
    """Give passages that repeat each other (in other documents) a shared ``dup_group``.

    Two passages are linked when half the word triples of the shorter one appear in the
    other. Groups are closed under linking; the group id is the smallest member id, so it is
    stable across runs. Returns the chunks with ``dup_group`` set (None when unique).
    """
    triples = [shingles(c.text) for c in chunks]
    postings: dict[str, list[int]] = defaultdict(list)
    for index, grams in enumerate(triples):
        for gram in grams:
            postings[gram].append(index)
    parent = list(range(len(chunks)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, grams in enumerate(triples):
        overlap: dict[int, int] = defaultdict(int)
        for gram in grams:
            postings_list = postings[gram]
            if len(postings_list) > 50:  # boilerplate phrase: says nothing about duplication
                continue
            for other in postings_list:
                if other > index and chunks[other].doc_id != chunks[index].doc_id:
                    overlap[other] += 1
        for other, shared in overlap.items():
            smaller = min(len(grams), len(triples[other]))
            if shared >= 8 and shared >= threshold * smaller:
                parent[root(other)] = root(index)

    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(chunks)):
        members[root(index)].append(index)
    group_of: dict[int, str | None] = {}
    for indexes in members.values():
        group = min(chunks[i].id for i in indexes) if len(indexes) > 1 else None
        for i in indexes:
            group_of[i] = group
    return [replace(c, dup_group=group_of[i]) if c.dup_group != group_of[i] else c for i, c in enumerate(chunks)]
