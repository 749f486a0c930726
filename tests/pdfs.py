"""Real PDFs drawn for the tests, line by line, so every expected fact is known.

A page is a list of blocks: ``("h1", "Title")``, ``("h2", "Subtitle")``, ``("p", [lines])``
(each string is one printed line, so hyphenated line ends are exact), ``("table", rows)``.
Every page gets a running header and a "Page N of M" footer unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

HEADER = "Levelling Up Test Paper - Draft for testing"
FOOTER = "Page {n} of {total}"


@dataclass
class PdfPage:
    blocks: list[tuple[str, object]] = field(default_factory=list)


def make_pdf(path: Path, pages: list[PdfPage], *, header: str | None = HEADER, footer: str | None = FOOTER,
             bookmarks: bool = True, user_password: str | None = None, owner_password: str | None = None,
             text_layer: bool = True) -> Path:
    encrypt = None
    if user_password is not None or owner_password is not None:
        from reportlab.lib.pdfencrypt import StandardEncryption

        encrypt = StandardEncryption(user_password or "", ownerPassword=owner_password or "owner",
                                     strength=128)
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt, invariant=True)
    pdf.setTitle(path.stem)
    width, height = A4
    total = len(pages)
    heading_count = 0
    for number, page in enumerate(pages, 1):
        if not text_layer:  # a "scanned" page: shapes, no text
            pdf.setFillGray(0.6)
            for row in range(20):
                pdf.rect(72, height - 100 - row * 30, 400, 12, fill=1, stroke=0)
            pdf.showPage()
            continue
        if header:
            pdf.setFont("Helvetica", 9)
            pdf.drawString(72, height - 40, header)
        if footer:
            pdf.setFont("Helvetica", 9)
            pdf.drawCentredString(width / 2, 30, footer.format(n=number, total=total))
        y = height - 80
        for kind, content in page.blocks:
            if kind in {"h1", "h2"}:
                size = 18 if kind == "h1" else 14
                y -= 10
                pdf.setFont("Helvetica-Bold", size)
                pdf.drawString(72, y, str(content))
                if bookmarks:
                    heading_count += 1
                    key = f"h{heading_count}"
                    pdf.bookmarkPage(key)
                    pdf.addOutlineEntry(str(content), key, level=0 if kind == "h1" else 1)
                y -= size + 8
            elif kind == "p":
                pdf.setFont("Helvetica", 11)
                for line in content:  # type: ignore[attr-defined]
                    pdf.drawString(72, y, line)
                    y -= 15
                y -= 8
            elif kind == "table":
                pdf.setFont("Helvetica", 10)
                for row in content:  # type: ignore[attr-defined]
                    for column, cell in enumerate(row):
                        pdf.drawString(72 + column * 150, y, cell)
                    pdf.line(72, y - 4, 72 + 150 * len(row), y - 4)
                    y -= 16
                y -= 8
            else:
                raise ValueError(f"unknown block kind {kind}")
        pdf.showPage()
    pdf.save()
    return path


def policy_paper_pages() -> list[PdfPage]:
    """A four-page policy paper: two chapters, sections, a hyphenated word, a table, a page-spanning
    sentence."""
    return [
        PdfPage([
            ("h1", "1 Introduction"),
            ("p", ["The Towns Prosperity Programme supports regen-",
                   "eration of town centres across the North East.",
                   "It is worth £12 million over three years."]),
            ("h2", "1.1 Who can apply"),
            ("p", ["Small and medium-sized enterprises with fewer than 250",
                   "staff may apply through their combined authority."]),
        ]),
        PdfPage([
            ("h2", "1.2 Funding table"),
            ("table", [["Fund", "Amount", "Year"],
                       ["Harbour Fund", "£4 million", "2024"],
                       ["Market Fund", "£8 million", "2025"]]),
            ("p", ["The Harbour Fund opens to bids in spring and the Market Fund",
                   "opens in autumn, when the council sets out the criteria that"]),
        ]),
        PdfPage([
            ("p", ["every applicant must meet before the panel meets."]),
            ("h1", "2 Delivery"),
            ("p", ["Delivery will be overseen by a regional board chaired",
                   "by the Mayor, who reports to Parliament every year."]),
        ]),
        PdfPage([
            ("h2", "2.1 Evaluation"),
            ("p", ["An independent evaluation will report in 2027 on whether",
                   "the programme raised productivity in the places it served."]),
        ]),
    ]
