"""Cut documents into passages that respect their structure.

A passage is a verbatim slice of ``Document.text``. Paragraphs, list items and headings are
the units; consecutive units of one section are packed up to ``chunk_tokens``; every
heading starts a new passage (unless the open one is still tiny), so a passage's section
path is true for all of its text. A paragraph longer than
the model's window is cut between sentences, and a single sentence longer than the window
is cut by LangChain's recursive splitter at clause or word boundaries; nothing else cuts a
sentence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ..models import Chunk, Document
from ..settings import Settings, get_settings
from ..text import split_sentences

TokenCounter = Callable[[str], int]

#: A heading starts a new passage unless the open one is smaller than this (a lone intro line).
_MIN_SECTION_TOKENS = 24

#: The tokenizer counts a "word" of over 100 characters as one unknown token, so a 55 KB run without
#: spaces would pass the ceiling as a handful of tokens. Such a word is counted as a token per this many
#: characters (the corpus's passages run 3-8.2 characters a token), so the ceiling holds for any text.
_CHARS_PER_TOKEN = 10
_LONGEST_WORD = 100  # BERT's WordPiece gives up on longer words


def _at_least_by_length(count: TokenCounter) -> TokenCounter:
    def counted(text: str) -> int:
        unknown = sum(len(w) // _CHARS_PER_TOKEN for w in text.split() if len(w) > _LONGEST_WORD)
        return count(text) + unknown
    return counted


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    tokens: int
    heading: bool = False


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


def chunk_document(document: Document, count_tokens: TokenCounter,
                   settings: Settings | None = None) -> list[Chunk]:
    """Cut ``document`` into passages of about ``settings.chunk_tokens`` tokens."""
    settings = get_settings(settings)
    target, ceiling = settings.chunk_tokens, settings.chunk_max_tokens
    count_tokens = _at_least_by_length(count_tokens)
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
        chunks.append(replace(chunk, id=f"{document.id}:{digest[:16]}{suffix}", digest=digest))
    return chunks
