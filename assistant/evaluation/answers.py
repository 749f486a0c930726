"""Answers judged as ``../shared/eval/README.md`` says: evidence coverage, citation validity, abstention.

* evidence coverage   share of answerable questions whose cited quotes hold every evidence span;
* citation validity   share of quotes found verbatim (normalised) in the document they cite;
* abstention          on unanswerable questions the answer must say the documents don't answer;
                      on answerable ones it must not;
* uncited sentences   answer sentences without a [n] marker (there must be none).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..models import Answer
from .questions import EvalQuestion, normalise

_MARKER = re.compile(r"\[\d+\]")


def uncited_sentences(text: str) -> int:
    """Answer lines or sentences that carry no [n] marker (an answer must have none)."""
    pieces = [p for line in text.splitlines()
              for p in re.split(r"(?<=\])\s+(?=[A-Z\u2018\u201c\"'(£0-9])", line)]
    return sum(1 for p in pieces if p.strip() and not _MARKER.search(p))


@dataclass(frozen=True, slots=True)
class JudgedAnswer:
    """One question's answer, judged: evidence coverage, citation validity, abstention."""

    question: EvalQuestion
    abstained: bool
    covered: bool  # every evidence span inside some cited quote
    citations: int
    valid_citations: int  # quotes found verbatim (normalised) in the document they cite
    uncited: int
    latency_ms: float
    text: str

    @property
    def passed(self) -> bool:
        """Answerable: every evidence span is in a cited quote. Unanswerable: it abstained."""
        return self.covered if self.question.answerable else self.abstained


def judge_answer(question: EvalQuestion, answer: Answer,
                 documents: Callable[[str], str | None]) -> JudgedAnswer:
    """``documents(doc_id)`` gives a document's text (None if unknown) to check quotes against."""
    # Place facts cite the ONS lookups, not a document: only document quotes are checked for verbatim.
    quotes = [(c.doc_id, normalise(c.quote)) for c in answer.citations if c.kind == "document"]
    covered = bool(question.evidence) and all(any(normalise(span) in q for _, q in quotes)
                                              for span in question.evidence)
    valid = 0
    for doc_id, quote in quotes:
        text = documents(doc_id)
        valid += bool(text is not None and quote in text)
    uncited = 0 if answer.abstained else uncited_sentences(answer.text)
    return JudgedAnswer(question, answer.abstained, covered, len(quotes), valid, uncited, answer.latency_ms,
                        answer.text)


def answer_scores(judged: Sequence[JudgedAnswer]) -> dict[str, float]:
    answerable = [j for j in judged if j.question.answerable]
    unanswerable = [j for j in judged if not j.question.answerable]
    citations = sum(j.citations for j in judged)
    latencies = sorted(j.latency_ms for j in judged) or [0.0]
    return {
        "questions": len(judged),
        "evidence_coverage": sum(j.covered for j in answerable) / len(answerable) if answerable else 0.0,
        "citation_validity": sum(j.valid_citations for j in judged) / citations if citations else 1.0,
        "abstained_unanswerable": _share([j.abstained for j in unanswerable], 1.0),
        "answered_answerable": _share([not j.abstained for j in answerable], 1.0),
        "uncited_sentences": sum(j.uncited for j in judged),
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)],
    }


def _share(flags: Sequence[bool], empty: float) -> float:
    """The share of ``flags`` that are true; ``empty`` when there are none."""
    return sum(flags) / len(flags) if flags else empty


def render_answers(judged: Sequence[JudgedAnswer]) -> str:

    """Answer metrics overall and per category, then the questions whose evidence the answer misses."""
    lines = ["answers (offline composer)",
             f"{'category':<14} {'n':>3} {'coverage':>9} {'validity':>9} {'answered':>9} {'abstained':>10} "
             f"{'uncited':>8} {'p50ms':>6} {'p95ms':>6}"]
    categories = sorted({j.question.category for j in judged})
    for name, group in [("overall", list(judged)), *[(c, [j for j in judged if j.question.category == c])
                                                      for c in categories]]:
        s = answer_scores(group)
        answerable = any(j.question.answerable for j in group)
        unanswerable = any(not j.question.answerable for j in group)
        coverage = f"{s['evidence_coverage']:.3f}" if answerable else "-"
        answered = f"{s['answered_answerable']:.3f}" if answerable else "-"
        abstained = f"{s['abstained_unanswerable']:.3f}" if unanswerable else "-"
        lines.append(f"{name:<14} {len(group):>3} {coverage:>9} {s['citation_validity']:>9.3f} {answered:>9} "
                     f"{abstained:>10} {s['uncited_sentences']:>8} {s['latency_p50_ms']:>6.1f} "
                     f"{s['latency_p95_ms']:>6.1f}")
    missed = [j for j in judged if (j.question.answerable and not j.covered) or (not j.question.answerable
                                                                                 and not j.abstained)]
    lines.append("")
    lines.append(f"answers missing evidence, or answering the unanswerable: {len(missed)}")
    for j in missed:
        lines.append(f"  {j.question.id} [{j.question.category}] {j.question.question}")
        lines.append(f"      said: {' '.join(j.text.split())[:160]}")
    return "\n".join(lines)
