"""Passages: verbatim slices with their section and pages, never cutting a sentence needlessly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest.chunk import chunk_document
from assistant.ingest.duplicates import link_near_duplicates
from assistant.ingest.load import load_document
from assistant.models import Chunk, Document, Source
from assistant.settings import Settings
from assistant.text import split_sentences

from .pdfs import policy_paper_pages


def source(doc_id: str, file: str) -> Source:
    return Source(id=doc_id, title=doc_id, publisher="Test", published="2024", licence="OGL", file=file)


@pytest.fixture(scope="module")
def shared_documents(shared: Path) -> list[Document]:
    corpus = shared / "corpus"
    paths = (sorted(corpus.glob("*.md")) + sorted(corpus.glob("*.txt"))
             + sorted((corpus / "pdf").glob("*.pdf")))
    return [load_document(p, source(p.stem, p.name)) for p in paths]


@pytest.fixture(scope="module")
def shared_chunks(shared_documents: list[Document], embedder) -> dict[str, list[Chunk]]:  # type: ignore[no-untyped-def]
    return {d.id: chunk_document(d, embedder.count_tokens, Settings()) for d in shared_documents}


def test_every_passage_is_a_verbatim_slice_of_its_document(shared_documents, shared_chunks) -> None:  # type: ignore[no-untyped-def]
    for document in shared_documents:
        for chunk in shared_chunks[document.id]:
            assert document.text[chunk.start:chunk.end] == chunk.text
            assert chunk.text.strip() == chunk.text and chunk.text


def test_passages_cover_the_whole_document_in_order(shared_documents, shared_chunks) -> None:  # type: ignore[no-untyped-def]
    for document in shared_documents:
        chunks = shared_chunks[document.id]
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)
        covered = "".join(c.text for c in chunks)
        assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", document.text)


def test_passages_fit_the_model_window(shared_chunks, embedder) -> None:  # type: ignore[no-untyped-def]
    ceiling = Settings().chunk_max_tokens
    for chunks in shared_chunks.values():
        assert max(embedder.count_tokens(c.text) for c in chunks) <= ceiling


def test_a_passage_ends_at_a_paragraph_or_sentence_end(shared_documents, shared_chunks, embedder) -> None:  # type: ignore[no-untyped-def]
    """Cuts fall between paragraphs; inside one only if it is longer than the window."""
    ceiling = Settings().chunk_max_tokens
    for document in shared_documents:
        paragraph_ends = {m.end() for m in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", document.text)}
        for chunk in shared_chunks[document.id]:
            if chunk.end in paragraph_ends:
                continue
            paragraph = next(m for m in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", document.text)
                             if m.start() <= chunk.end < m.end())
            assert embedder.count_tokens(paragraph.group(0)) > ceiling, chunk.id
            sentence_ends = {end for _, end in split_sentences(paragraph.group(0), paragraph.start())}
            if chunk.end not in sentence_ends:  # only a sentence longer than the window is cut inside
                sentence = next((s, e) for s, e in split_sentences(paragraph.group(0), paragraph.start())
                                if s <= chunk.end < e)
                assert embedder.count_tokens(document.text[sentence[0]:sentence[1]]) > ceiling, chunk.id


def test_passages_carry_section_and_pages(pdf, embedder) -> None:  # type: ignore[no-untyped-def]
    document = load_document(pdf("policy.pdf", policy_paper_pages()), source("policy", "policy.pdf"))
    chunks = chunk_document(document, embedder.count_tokens, Settings(chunk_tokens=40))
    by_phrase = {phrase: next(c for c in chunks if phrase in c.text) for phrase in
                 ["fewer than 250", "Harbour Fund £4 million", "every applicant must meet",
                  "raised productivity"]}
    assert by_phrase["fewer than 250"].heading_path == ("1 Introduction", "1.1 Who can apply")
    assert by_phrase["Harbour Fund £4 million"].heading_path == ("1 Introduction", "1.2 Funding table")
    spanning = by_phrase["every applicant must meet"]
    assert (spanning.page_start, spanning.page_end) == (2, 3)
    assert by_phrase["raised productivity"].heading_path == ("2 Delivery", "2.1 Evaluation")
    assert by_phrase["raised productivity"].page_start == 4


def test_a_heading_opens_the_passage_it_titles(pdf, embedder) -> None:  # type: ignore[no-untyped-def]
    document = load_document(pdf("policy.pdf", policy_paper_pages()), source("policy", "policy.pdf"))
    chunks = chunk_document(document, embedder.count_tokens, Settings(chunk_tokens=40))
    assert not any(c.text.endswith(("2 Delivery", "2.1 Evaluation", "1.2 Funding table")) for c in chunks)
    assert any(c.text.startswith("2 Delivery\n\nDelivery will be overseen") for c in chunks)


def test_passage_ids_are_stable_and_change_with_the_text(pdf, embedder) -> None:  # type: ignore[no-untyped-def]
    path = pdf("policy.pdf", policy_paper_pages())
    first = chunk_document(load_document(path, source("policy", "policy.pdf")), embedder.count_tokens,
                           Settings())
    again = chunk_document(load_document(path, source("policy", "policy.pdf")), embedder.count_tokens,
                           Settings())
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert all(c.id.startswith("policy:") for c in first)
    other = Settings(chunk_tokens=40)
    assert {c.digest for c in chunk_document(load_document(path, source("policy", "policy.pdf")),
                                             embedder.count_tokens, other)}.isdisjoint(
        {c.digest for c in first})


def test_the_two_renderings_of_the_executive_summary_are_linked_as_near_duplicates(shared_chunks) -> None:  # type: ignore[no-untyped-def]
    chunks = link_near_duplicates([c for chunks in shared_chunks.values() for c in chunks])
    govuk = next(c for c in chunks
                 if c.doc_id.endswith("govuk-print") and "55 new Education Investment Areas" in c.text)
    pdf_edition = [c for c in chunks if c.doc_id.endswith("pdf-extract") and c.dup_group == govuk.dup_group]
    assert govuk.dup_group is not None and pdf_edition
    assert any("Education Investment Areas" in c.text for c in pdf_edition)
    # Unrelated documents are not swept in.
    assert not any(c.dup_group == govuk.dup_group for c in chunks if c.doc_id.startswith("dft-"))
    linked_docs = {c.doc_id for c in chunks if c.dup_group}
    assert {"levelling-up-executive-summary-govuk-print",
            "levelling-up-executive-summary-pdf-extract"} <= linked_docs


def test_sentences_are_not_split_after_abbreviations() -> None:
    text = ("Funding (e.g. the UKSPF) goes to places. St. Helens is one. Mr. J. Smith agreed. "
            "2030 is the date.")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Funding (e.g. the UKSPF) goes to places.", "St. Helens is one.",
                         "Mr. J. Smith agreed.", "2030 is the date."]
