"""The typed values that cross stage boundaries.

Ingest is ``sources -> load -> pages/layout -> chunk -> embed/store``; asking is ``understand ->
retrieve -> gate -> compose``. Each stage takes and returns these frozen dataclasses, never loose
dicts. A ``Chunk`` carries everything a citation needs (document, publisher, licence, section,
page, link), so any stage can cite it without a lookup; a ``Query`` carries everything the
question was understood to ask, so no later stage re-reads the question.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .text import count_pattern, sentence_units


@dataclass(frozen=True, slots=True)
class Source:
    """One document the project knows about: where it comes from and how to credit it."""

    id: str
    title: str
    publisher: str
    published: str  # ISO date, or as precise as the publisher states ("2021-01")
    licence: str
    file: str  # file name under corpus/documents/ (or the path given to `ingest`)
    url: str | None = None  # official address people can check
    download_url: str | None = None  # where `levelup fetch` downloads the file; None: not downloadable
    sha256: str | None = None  # of the file's bytes, when known
    mirror_path: str | None = None  # path inside a local mirror folder (LEVELUP_CORPUS_MIRROR)
    # "government" (primary text), "commentary" (third party), or "local": a file ingested by hand with no
    # source record, whose publisher nobody has vouched for
    kind: str = "government"
    # "core" (the White Paper itself: named by "the levelling up white paper"), or "related"
    relation: str = "related"
    notes: str = ""

    @property
    def is_pdf(self) -> bool:
        return self.file.lower().endswith(".pdf")

    @property
    def verified(self) -> bool:
        """Whether a source record names who published it. A file ingested with no metadata is not: it
        ranks below the documents that have one, and a quote from it is marked as unverified."""
        return self.kind != "local" and bool(self.publisher) and not self.publisher.startswith("Unknown")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a document, as a span of its cleaned text."""

    number: int  # 1-based physical page (what `#page=N` opens in a PDF viewer)
    label: str  # the number printed on the page when the text shows one, else str(number)
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Heading:
    """A section heading found in a document, with its nesting level (1 = top)."""

    level: int
    title: str
    start: int  # offset of the heading text in the cleaned text
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """A source file turned into clean text, with its pages and section headings.

    ``text`` only differs from the extracted text by dropped running headers, footers and page
    numbers, and by line breaks rejoined; no sentence is rewritten.
    """

    id: str
    source: Source
    path: Path
    text: str
    pages: tuple[Page, ...]
    headings: tuple[Heading, ...]
    digest: str  # sha256 of the file's bytes: an unchanged file is never re-processed
    warnings: tuple[str, ...] = ()

    def page_at(self, offset: int) -> Page | None:
        """The page holding character ``offset`` of the cleaned text."""
        for page in self.pages:
            if page.start <= offset < page.end:
                return page
        return self.pages[-1] if self.pages and offset >= self.pages[-1].start else None

    def heading_path_at(self, offset: int) -> tuple[str, ...]:
        """Titles of the headings enclosing ``offset``, outermost first."""
        path: list[Heading] = []
        for heading in self.headings:
            if heading.start > offset:
                break
            while path and path[-1].level >= heading.level:
                path.pop()
            path.append(heading)
        return tuple(h.title for h in path)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage: a verbatim slice ``document.text[start:end]`` and where it sits."""

    id: str  # stable: document id + content digest
    digest: str  # sha256 of the text and the chunk settings; ingest skips digests already embedded
    doc_id: str
    source: Source
    text: str
    heading_path: tuple[str, ...]
    page_start: int | None
    page_end: int | None
    page_label: str | None
    start: int
    end: int
    dup_group: str | None = None  # chunks of other documents saying the same thing share this id
    # Where later pages begin inside ``text``: (offset in text, page number, page label). A quote is cut
    # at these, so each quote sits on one page and can be cited to it.
    page_breaks: tuple[tuple[int, int, str], ...] = ()

    def page_at(self, offset: int) -> tuple[int | None, str | None]:
        """Page number and label of the character at ``offset`` of the passage text."""
        number, label = self.page_start, self.page_label
        for start, page, page_label in self.page_breaks:
            if start <= offset:
                number, label = page, page_label
        return number, label

    def link_at(self, offset: int) -> str | None:
        """The link for a quote starting at ``offset``: a PDF opens at the quote's own page."""
        number, _ = self.page_at(offset)
        if self.source.is_pdf and self.source.download_url and number:
            return f"{self.source.download_url}#page={number}"
        return self.link

    @property
    def section(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def link(self) -> str | None:
        """Where a reader can check the passage: the PDF at its page, else the official page."""
        if self.source.is_pdf and self.source.download_url and self.page_start:
            return f"{self.source.download_url}#page={self.page_start}"
        return self.source.url or self.source.download_url

    @property
    def embed_text(self) -> str:
        """What the model embeds: the section heading gives a short passage its context."""
        if self.heading_path:
            return f"{self.heading_path[-1]}\n{self.text}"
        return self.text

    def units(self) -> list[tuple[int, int]]:
        """The passage's quotable units (sentences, list items), cut at its page breaks; the whole
        passage when it has none. Ingest embeds each; answers quote them."""
        breaks = [offset for offset, _, _ in self.page_breaks]
        return sentence_units(self.text, breaks, self.heading_path) or [(0, len(self.text))]


def passage_fields(chunk: Chunk) -> dict[str, Any]:
    """A passage as JSON-ready data, where it is from and what it says: the part every listing of
    passages (search results, browse rows, the API) shares."""
    source = chunk.source
    return {"chunk_id": chunk.id, "doc_id": chunk.doc_id, "title": source.title,
            "publisher": source.publisher, "published": source.published, "licence": source.licence,
            "page_start": chunk.page_start, "page_end": chunk.page_end, "page_label": chunk.page_label,
            "section": chunk.section, "url": chunk.link, "text": chunk.text}


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk returned by a search, with the evidence of how it was ranked."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    lexical_rank: int | None = None
    reasons: tuple[str, ...] = ()
    # The same passage in other renderings (the gov.uk page and the official PDF of the executive
    # summary), collapsed into this hit so the top results are different pieces of evidence. They are
    # returned and shown with it: a quote may be checked, or cited, in either.
    also: tuple[Chunk, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        """The passage text in each rendering this hit stands for, its own first."""
        return (self.chunk.text, *(c.text for c in self.also))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            **passage_fields(self.chunk),
            "score": round(self.score, 6),
            "reasons": list(self.reasons),
            "also_in": [{"chunk_id": a.id, "doc_id": a.doc_id, "title": a.source.title,
                         "page_start": a.page_start, "page_label": a.page_label, "section": a.section,
                         "url": a.link, "text": a.text}
                        for a in self.also],
        }


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to some documents, a section, a page range or topics (ids, ``topics.py``:
    a passage must carry them all; the serving index labels passages, so Chroma never sees them)."""

    documents: tuple[str, ...] = ()
    section: str | None = None  # case-insensitive substring of the heading path
    pages: tuple[int, int] | None = None  # inclusive; passages overlapping the range
    topics: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.documents or self.section or self.pages or self.topics)

    def where(self) -> dict[str, object] | None:
        """The part Chroma can apply itself."""
        clauses: list[dict[str, object]] = []
        if self.documents:
            clauses.append({"doc_id": {"$in": list(self.documents)}})
        if self.pages:
            clauses += [{"page_start": {"$lte": self.pages[1]}}, {"page_end": {"$gte": self.pages[0]}}]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, chunk: Chunk) -> bool:
        """Whether ``chunk`` meets the filters other than topics."""
        if self.documents and chunk.doc_id not in self.documents:
            return False
        if self.section and self.section.lower() not in chunk.section.lower():
            return False
        return not self.pages or (chunk.page_start is not None and chunk.page_end is not None
                                  and chunk.page_start <= self.pages[1] and chunk.page_end >= self.pages[0])


# --- places (the gazetteer's values, read by search and answers) ---------------------------

@dataclass(frozen=True, slots=True)
class Area:
    """A named ONS area (district, county, region, nation), with its GSS code when the lookup gives one."""

    name: str
    code: str | None = None
    welsh_name: str | None = None


@dataclass(frozen=True, slots=True)
class CombinedAuthority:
    """A combined (county) authority and where its membership comes from.

    ONS stops at December 2019, so newer authorities and renames come from the supplement; ``vintage`` and
    ``sources`` let an answer say which ("ONS ... lookup, December 2019" or the statutory instrument).
    """

    name: str  # short name, as ONS writes it: "Greater Manchester"
    official_name: str
    mayoral: bool
    vintage: str
    sources: tuple[str, ...]
    code: str | None = None  # CAUTH19CD; None for authorities newer than the ONS file
    former_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        body = "combined county authority" if "County Auth" in self.official_name else "combined authority"
        return f"mayoral {body}" if self.mayoral else body


@dataclass(frozen=True, slots=True)
class Place:
    """A place someone can name, with every area that contains it (``chain``: smallest first)."""

    name: str
    kind: str  # nation, region, combined_authority, city_region, county, district or town
    nation: Area
    chain: tuple[str, ...]
    sources: tuple[str, ...]  # ONS lookups (title, vintage) and supplement sources this place rests on
    district: Area | None = None
    county: Area | None = None
    combined_authority: CombinedAuthority | None = None
    region: Area | None = None  # English regions only; Wales, Scotland and Northern Ireland have none
    city_region: str | None = None  # Glasgow City Region, Cardiff Capital Region (from the supplement)
    members: tuple[str, ...] = ()  # the districts of a county, combined authority, region or nation
    qualifier: str = ""  # "Isle of Wight" for the town ONS calls "Newport (Isle of Wight)"
    msoas: int | None = None  # towns: 2011 MSOAs best-fitted to it; the size that ranks same-name places


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The answer to "where is X?": ``found``, ``ambiguous`` (pick from ``candidates``) or ``unknown``.

    When ``found``, ``candidates`` holds same-name places nested inside the one found (the West Midlands
    Combined Authority inside the West Midlands region), so callers can widen a search to them.
    """

    query: str
    status: str
    message: str
    place: Place | None = None
    candidates: tuple[Place, ...] = ()
    suggestions: tuple[str, ...] = ()
    span: tuple[int, int] | None = None  # where find_places saw the name in the text


@dataclass(frozen=True, slots=True)
class PlaceContext:
    """What a question says about places, and what retrieval and the answer do with it."""

    matches: tuple[PlaceMatch, ...] = ()
    places: tuple[Place, ...] = ()  # resolved places
    areas: tuple[str, ...] = ()  # names to look for in the documents, the place itself first
    notes: tuple[str, ...] = ()  # ambiguity, misspellings, what a place lies in
    own: bool = False  # the user's own place ("we're a firm in Bolton"), not a topic ("London's buses")


    @property
    def found(self) -> bool:

        return bool(self.places)

    @property
    def unresolved(self) -> frozenset[str]:
        """Names taken for places but not resolved (misspelt or ambiguous): not "unknown to the documents"."""
        return frozenset(w for m in self.matches if m.status != "found" for w in re.findall(r"\w+", m.query))


# --- the question, understood once -------------------------------------------------------

ExpectedKind = Literal["percent", "amount", "number", "date", "name"]


@dataclass(frozen=True, slots=True)
class Expected:
    """The kind of fact a question asks for ("how much ...?": an amount); ``answers.facts`` checks it."""

    kind: ExpectedKind

    strict: bool = True  # False: preferred in a sentence, but an answer without it is still an answer


@dataclass(frozen=True, slots=True)
class Count:
    """A count the question asks for: "the six stages" is ``Count(6, "stage")``."""

    value: int
    noun: str  # without its plural "s"

    @property
    def pattern(self) -> re.Pattern[str]:
        """The same count and noun in a sentence, as a digit or a word ("6 stages", "six stages")."""
        return count_pattern(self.value, self.noun)


@dataclass(frozen=True, slots=True)
class Query:
    """A question made safe to search, and everything it was understood to ask.

    ``retrieval.query.understand`` fills it once; search, re-ranking, the gate and the composer
    read these fields instead of re-reading the question. ``notes`` say, for the user, what was
    done to it.
    """

    text: str  # the question as the user meant it (validated, maybe rewritten from a follow-up)
    notes: tuple[str, ...] = ()
    # what is embedded and matched: ``text`` with corrections and unknown abbreviations spelt out
    search_text: str = ""
    related: tuple[str, ...] = ()  # words the glossary adds to the word search only (at a lower weight)
    tokens: tuple[str, ...] = ()  # ``text.tokenize`` of what is searched: the word search's query
    words: frozenset[str] = frozenset()  # the question's own words (folded, no pairs)
    parts: tuple[str, ...] = ()  # of a multi-part question ("... and what were their criticisms?")
    ranking_parts: tuple[str, ...] = ()  # the parts of three words or more: each scored alone, re-ranking
    named: frozenset[str] = frozenset()  # ids of the documents the question names ("the Green Book")
    name_free_tokens: frozenset[str] = frozenset()  # with ``named``: the tokens left once their names are out
    beside_names: tuple[str, ...] = ()  # with ``named``: what is asked of them, per ranking text, names out
    asks_author: bool = False  # "who wrote the foreword?": the document's name and byline matter
    # What a question asks about the documents it names themselves: "published" (when), "publisher" (who
    # put it out). Their source records answer it.
    asks_record: tuple[str, ...] = ()
    # "Is Grimsby one of the 101 towns?": who the question asks is a member (a place, or the user's own),
    # which an answer must name; "" when it asks no such thing.
    member: str = ""
    member_of: str = ""  # the set it asks about ("the 101 towns getting towns fund money")
    expected: Expected | None = None
    listing: bool = False  # asks for a list ("what are the 5 pillars?")
    count: Count | None = None
    focus: str | None = None  # the noun of "which X ...", the verb of "who X ...": answers usually say it
    about_place: bool = False  # "what applies to us?": the user's place is the subject
    place: PlaceContext = PlaceContext()

    @property
    def searched(self) -> str:
        return self.search_text or self.text

    def texts(self, ranking: bool = False) -> tuple[str, ...]:
        """What candidate sentences are scored against: the question as searched, then its parts
        (re-ranking: only the parts of three words or more)."""
        return (self.searched, *(self.ranking_parts if ranking else self.parts))


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What a search returns: the passages, and how the question was read."""

    query: Query
    hits: tuple[Hit, ...]

    @property
    def notes(self) -> tuple[str, ...]:
        return self.query.notes

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.query.text, "searched": self.query.searched, "notes": list(self.notes),
                "results": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True, slots=True)
class Citation:
    """One quoted sentence an answer rests on, and where to check it."""

    n: int  # the marker in the answer text: [n]
    quote: str  # verbatim from the passage (and so from the document)
    chunk_id: str
    doc_id: str
    title: str
    publisher: str
    published: str
    licence: str
    section: str
    page: str | None  # the page as printed/shown (a label); None for unpaged texts
    url: str | None  # official address; for a PDF, the file at #page=N
    # "document"; "gazetteer" for a place fact from the ONS lookups; "source" for what a document's source
    # record says of it (its publisher and date, from the manifest)
    kind: str = "document"
    verified: bool = True  # False: from a document with no known publisher (``Source.verified``)
    pdf_page: int | None = None  # in a PDF, the quote's page as the file counts it (for #page=N)

    @classmethod
    def of(cls, n: int, chunk: Chunk, start: int, end: int) -> Citation:
        """Cite ``chunk.text[start:end]``, with the page that quote is on."""
        number, label = chunk.page_at(start)
        return cls(n=n, quote=chunk.text[start:end], chunk_id=chunk.id, doc_id=chunk.doc_id,
                   title=chunk.source.title, publisher=chunk.source.publisher,
                   published=chunk.source.published, licence=chunk.source.licence, section=chunk.section,
                   page=label or (str(number) if number else None), url=chunk.link_at(start),
                   verified=chunk.source.verified, pdf_page=number if chunk.source.is_pdf else None)

    @property
    def credit(self) -> str:
        """ "HM Treasury, 2026-01" — or what is unknown, never blanks like "(, )"."""
        return ", ".join((self.publisher or "publisher not recorded", self.published or "undated"))

    @classmethod
    def of_source(cls, n: int, source: Source) -> Citation:
        """Cite a document's source record: the manifest's title, publisher and date, and its address."""
        return cls(n=n, quote=f"{source.title}. {source.publisher}, {source.published}.", chunk_id="",
                   doc_id=source.id, title=source.title, publisher=source.publisher,
                   published=source.published, licence=source.licence, section="", page=None,
                   url=source.url or source.download_url, kind="source")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant says, and everything it rests on; the CLI, app and API all render this.

    ``text`` carries markers [1], [2] that point into ``citations``; every sentence of it is a
    quoted sentence of a cited passage. When ``abstained``, ``text`` says why and ``related``
    holds the nearest passages ("may be related").
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    reason: str = ""  # why it abstained or refused: "not_covered", "off_topic", "personal_data", ...
    kind: str = "answer"  # "answer", "list", "abstain", "clarify" (which Newport?), "refusal", "smalltalk"
    more: tuple[str, ...] = ()  # further cited sentences, for "show more" (markers refer to citations)
    related: tuple[Hit, ...] = ()
    notes: tuple[str, ...] = ()  # how the question was read
    trace: tuple[Hit, ...] = ()  # the passages retrieved, for debugging
    next_steps: tuple[str, ...] = ()  # what to check next (eligibility is set by each fund's own rules)
    latency_ms: float = 0.0

    def to_dict(self, trace: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question, "answer": self.text, "abstained": self.abstained,
            "reason": self.reason, "kind": self.kind, "citations": [c.to_dict() for c in self.citations],
            "more": list(self.more), "related": [h.to_dict() for h in self.related],
            "notes": list(self.notes), "next_steps": list(self.next_steps),
            "latency_ms": round(self.latency_ms, 1),
        }
        if trace:
            data["trace"] = [h.to_dict() for h in self.trace]
        return data


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """What the index records about one document (shown by `levelup status`)."""

    id: str
    title: str
    file: str
    digest: str
    passages: int
    pages: int
    content_digest: str = ""  # sha256 of the cleaned text: the same text under two names is indexed once


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """A published index generation: what it holds and how it was built."""

    key: str
    generation: str
    location: str
    model: str
    built_at: str
    documents: tuple[IndexedDocument, ...]

    @property
    def passages(self) -> int:
        return sum(d.passages for d in self.documents)


@dataclass(slots=True)
class IngestReport:
    """What one ingest did; mutable while the ingest runs, then handed back to the caller."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source id, reason): not a failure
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
    passages: int = 0
    embedded: int = 0  # passages whose vectors were computed in this run
    sentences_embedded: int = 0  # sentences embedded on their own (with sentence_vectors="separate")
    reused: int = 0  # passages whose vectors came from the previous generation
    seconds: float = 0.0
    read_seconds: float = 0.0  # loading, cleaning and chunking changed documents
    embed_seconds: float = 0.0
    write_seconds: float = 0.0  # writing and publishing the new generation
    generation: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed
