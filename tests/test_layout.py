"""Loading and cleaning: pages, headings, running headers/footers, rejoined lines, verbatim text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from assistant.evaluation import normalise
from assistant.ingest.load import load_document
from assistant.models import Document, Source
from assistant.text import readable

from .pdfs import FOOTER, HEADER, policy_paper_pages


def source(doc_id: str = "doc", file: str = "doc.pdf") -> Source:
    return Source(id=doc_id, title=doc_id, publisher="Test", published="2024", licence="OGL", file=file)


def letters(text: str) -> str:
    """Text without whitespace or hyphens: what must survive cleaning in the same order."""
    return re.sub(r"[\s\-\u00ad]+", "", text)


def is_raw_minus_whole_lines(cleaned: str, raw: str) -> bool:
    """Is ``cleaned`` the raw text with some whole lines dropped (spacing and hyphens aside)?"""
    target, positions = letters(cleaned), {0}
    for line in raw.splitlines():
        piece = letters(line)
        if piece:  # each line is either kept (the text continues with it) or dropped
            positions |= {p + len(piece) for p in positions if target.startswith(piece, p)}
    return len(target) in positions


def raw_pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def section_of(document: Document, phrase: str) -> tuple[str, ...]:
    return document.heading_path_at(document.text.index(phrase))


@pytest.fixture(params=[True, False], ids=["bookmarks", "font-sizes"])
def policy_pdf(request: pytest.FixtureRequest, pdf) -> Document:  # type: ignore[no-untyped-def]
    """The four-page test paper, with headings declared by bookmarks or only by larger fonts."""
    path = pdf("policy.pdf", policy_paper_pages(), bookmarks=request.param)
    return load_document(path, source("policy"))


def test_running_header_and_page_footer_are_dropped(policy_pdf: Document) -> None:
    assert HEADER not in policy_pdf.text
    assert not re.search(r"Page \d of 4", policy_pdf.text)
    assert FOOTER.format(n=1, total=4) not in policy_pdf.text


def test_pages_keep_their_numbers(policy_pdf: Document) -> None:
    assert [p.number for p in policy_pdf.pages] == [1, 2, 3, 4]
    assert policy_pdf.page_at(policy_pdf.text.index("Who can apply")).number == 1
    assert policy_pdf.page_at(policy_pdf.text.index("Harbour Fund")).number == 2
    assert policy_pdf.page_at(policy_pdf.text.index("Delivery will be overseen")).number == 3
    assert policy_pdf.page_at(policy_pdf.text.index("independent evaluation")).number == 4


def test_headings_give_each_passage_its_section_path(policy_pdf: Document) -> None:
    assert [(h.level, h.title) for h in policy_pdf.headings] == [
        (1, "1 Introduction"), (2, "1.1 Who can apply"), (2, "1.2 Funding table"),
        (1, "2 Delivery"), (2, "2.1 Evaluation"),
    ]
    assert section_of(policy_pdf, "fewer than 250") == ("1 Introduction", "1.1 Who can apply")
    assert section_of(policy_pdf, "Market Fund opens") == ("1 Introduction", "1.2 Funding table")
    assert section_of(policy_pdf, "regional board") == ("2 Delivery",)
    assert section_of(policy_pdf, "raised productivity") == ("2 Delivery", "2.1 Evaluation")


def test_lines_are_rejoined_and_a_line_end_hyphen_is_kept_as_extracted(policy_pdf: Document) -> None:
    assert "with fewer than 250 staff may apply" in policy_pdf.text
    assert "medium-sized enterprises" in policy_pdf.text
    # "regen-" / "eration": the hyphen and the line break stay, so a quote of the sentence is the
    # extracted text once whitespace is normalised (a citation check's view); people read it whole.
    assert "supports regen-\neration of town centres" in policy_pdf.text
    assert "supports regen-eration of town centres" in readable(policy_pdf.text)
    raw = normalise("\n".join(raw_pdf_pages(policy_pdf.path)))
    assert normalise("The Towns Prosperity Programme supports regen-\neration of town centres") in raw


def test_a_sentence_running_over_a_page_break_stays_one_paragraph(policy_pdf: Document) -> None:
    assert "sets out the criteria that every applicant must meet" in policy_pdf.text


def test_a_table_row_stays_together(policy_pdf: Document) -> None:
    assert "Harbour Fund £4 million 2024" in policy_pdf.text
    assert "Market Fund £8 million 2025" in policy_pdf.text


def test_clean_text_is_the_extracted_text_minus_furniture(pdf) -> None:  # type: ignore[no-untyped-def]
    path = pdf("policy.pdf", policy_paper_pages())
    document = load_document(path, source("policy"))
    raw = "".join(letters(page) for page in raw_pdf_pages(path))
    furniture = letters(HEADER) + "|" + "|".join(letters(FOOTER.format(n=n, total=4)) for n in range(1, 5))
    assert letters(document.text) == re.sub(furniture, "", raw)


# --- the real corpus ------------------------------------------------------------------

def load_shared(shared: Path, relative: str) -> Document:
    path = shared / "corpus" / relative
    return load_document(path, source(Path(relative).stem, relative))


@pytest.mark.parametrize("relative", [
    "pdf/dfe-skills-for-jobs-white-paper-2021.pdf",
    "pdf/dfe-west-midlands-skills-agreement-2018.pdf",
    "pdf/dft-future-of-mobility-urban-strategy-2019.pdf",
])
def test_real_pdf_text_is_verbatim_page_by_page(shared: Path, relative: str) -> None:
    document = load_shared(shared, relative)
    raw_pages = raw_pdf_pages(shared / "corpus" / relative)
    assert len(document.pages) == len(raw_pages)
    for page in document.pages:
        cleaned = document.text[page.start:page.end]
        assert is_raw_minus_whole_lines(cleaned, raw_pages[page.number - 1]), \
            f"page {page.number} is not verbatim"


def test_real_pdf_headings_come_from_its_bookmarks(shared: Path) -> None:
    document = load_shared(shared, "pdf/dfe-skills-for-jobs-white-paper-2021.pdf")
    titles = [h.title for h in document.headings]
    assert "Chapter 1: Putting employers at the heart of post-16 skills" in titles
    chair = document.text.index("chaired by Stephen van Rooyen")
    assert document.heading_path_at(chair)[-1].startswith("Expert advice on the labour market")
    assert document.page_at(chair).number == 21


def test_printed_web_page_uses_its_n_of_22_footers(shared: Path) -> None:
    document = load_shared(shared, "levelling-up-executive-summary-govuk-print.md")
    assert [p.label for p in document.pages] == [str(n) for n in range(1, 23)]
    assert "07.03.26, 18:11" not in document.text
    assert "/22" not in document.text
    ukspf = document.text.index("£2.6 billion UK Shared Prosperity Fund")
    raw = (shared / "corpus" / "levelling-up-executive-summary-govuk-print.md").read_text()
    footer_after = re.search(r" (\d+)/22", raw[raw.index("£2.6 billion UK Shared Prosperity"):]).group(1)
    assert document.page_at(ukspf).label == footer_after


def test_printed_web_page_headings_come_from_its_contents_list(shared: Path) -> None:
    document = load_shared(shared, "levelling-up-executive-summary-govuk-print.md")
    top = [h.title for h in document.headings if h.level == 1]
    assert top[0].startswith("The United Kingdom’s Geographical")
    assert "Next Steps" in top
    path = document.heading_path_at(document.text.index("Physical capital – infrastructure"))
    assert path == (top[0], "What are the factors that will help drive levelling up?")


def test_a_word_broken_over_two_table_lines_stays_as_extracted_and_is_no_heading(shared: Path) -> None:
    document = load_shared(shared, "levelling-up-executive-summary-govuk-print.md")
    row = document.text.index("By 2030, well-being will have improved")
    assert document.text[row - 13:row] == "Well-\nbeing\n\n"
    assert "Well-being" not in [h.title for h in document.headings]


def test_pdf_to_text_conversion_loses_running_heads_and_page_numbers(shared: Path) -> None:
    document = load_shared(shared, "hmt-green-book-2026.md")
    assert "The Green Book\n" not in document.text + "\n"
    assert not re.search(r"^\d+ ?The Green Book$", document.text, flags=re.M)
    discount = document.text.index("6.57 Table 8 shows how to apply STPR")
    assert document.page_at(discount).label == "40"
    assert document.heading_path_at(discount) == ("6 Shortlist appraisal", "Discounting")


def test_every_shared_text_document_is_verbatim(shared: Path) -> None:
    for path in sorted((shared / "corpus").glob("*.*")):
        if path.suffix not in {".md", ".txt"}:
            continue
        document = load_document(path, source(path.stem, path.name))
        assert is_raw_minus_whole_lines(document.text, path.read_text(encoding="utf-8")), path.name
