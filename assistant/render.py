"""How results read in a terminal: one renderer per result type, shared by every face that prints text."""

from __future__ import annotations

import textwrap

from .models import Answer, Chunk, Hit, IngestReport
from .text import readable

#: Beside a quote from a document with no known publisher, in every face that shows citations.
UNVERIFIED = "Unverified source: this file was indexed without a record of who published it."


def describe_ingest(report: IngestReport) -> list[str]:
    """One line per skipped, warned or failed file, then what the run did."""
    lines = [f"skipped  {source}: {reason}" for source, reason in report.skipped]
    lines += [f"warning  {w}" for w in report.warnings]
    lines += [f"FAILED   {path}: {reason}" for path, reason in report.failed]
    done = len(report.added) + len(report.updated)
    if report.generation:
        rate = f", {report.pages / report.seconds:.0f} pages/s" if report.pages and report.seconds else ""
        lines.append(
            f"Indexed {done} document(s) ({len(report.added)} new, {len(report.updated)} changed, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed): {report.passages} passages, "
            f"{report.embedded} embedded, {report.reused} reused, in {report.seconds:.1f} s{rate}."
        )
    elif report.unchanged and not done:
        lines.append(f"Index up to date: {len(report.unchanged)} document(s) unchanged, "
                     f"{report.passages} passages, nothing re-embedded ({report.seconds:.2f} s).")
    elif report.failed:
        lines.append("Nothing was indexed in this run; the previous index (if any) is still serving.")
    return lines


def render_hit(hit: Hit) -> str:
    """A search result: rank, score, then the passage (``render_passage``) and its other renderings."""
    also = "".join(f"\n   Also in {_where(a)}" + (f": {a.link}" if a.link else "") for a in hit.also)
    return f"{hit.rank:>2}. [{hit.score:.3f}] {render_passage(hit.chunk)}{also}\n"


def render_passage(c: Chunk) -> str:
    """A passage: document and page, section, link, and its start (search results, ``levelup browse``)."""
    section = f"\n   § {c.section}" if c.section else ""
    link = f"\n   {c.link}" if c.link else ""
    body = textwrap.fill(readable(c.text), width=100, initial_indent="   ", subsequent_indent="   ",
                         max_lines=6, placeholder=" …")
    flag = "" if c.source.verified else f"\n   {UNVERIFIED}"
    return f"{_where(c)}{section}{link}{flag}\n{body}"


def _where(c: Chunk) -> str:
    """ "Title, p. 4" or "Title, p. 4-5"."""
    page = ""
    if c.page_start:
        page = f", p. {c.page_label or c.page_start}" + (
            f"-{c.page_end}" if c.page_end and c.page_end != c.page_start else "")
    return f"{c.source.title}{page}"


def render_answer(answer: Answer) -> str:
    """The answer, then each source: title, publisher, date, section, page, quote, link and licence."""
    lines = [f"note: {n}" for n in answer.notes]
    lines += [answer.text, ""]
    if answer.citations:
        lines.append("Sources")
        for c in answer.citations:
            where = ", ".join(x for x in (f"§ {c.section}" if c.section else "",
                                          f"p. {c.page}" if c.page else "") if x)
            lines.append(f"[{c.n}] {c.title} ({c.credit}){' - ' + where if where else ''}")
            if not c.verified:
                lines.append(f"    {UNVERIFIED}")
            lines.append(textwrap.fill(f"\u201c{readable(c.quote)}\u201d", width=100,
                                       initial_indent="    ", subsequent_indent="    "))
            if c.url:
                lines.append(f"    {c.url}")
            lines.append(f"    Licence: {c.licence}")
    if answer.next_steps:
        lines += ["", "Next steps"] + [f"  {step}" for step in answer.next_steps]
    if answer.more:
        lines += ["", "More"] + [f"  {m}" for m in answer.more]
    if answer.related:
        lines += ["", "May be related"] + [render_hit(h) for h in answer.related]
    return "\n".join(lines).rstrip()
