"""Measure retrieval on a question set, judged exactly as ``../shared/eval/README.md`` says.

A passage *covers* an evidence span when the span, normalised (Unicode NFKC, lower case,
whitespace runs to one space, soft hyphens removed), is a substring of the normalised
passage text, whatever document it comes from. Then, over answerable questions:

* recall@k   share of questions whose spans are *all* covered within the first k passages;
* MRR@10     mean of 1/rank of the first passage covering any span (0 if none in the top 10);
* nDCG@10    a passage gains 1 for each span it covers that no earlier passage covered; the ideal
             ranking covers one new span per rank, so duplicates earn nothing.

Figures are given overall and per category, with the questions missed at k and what came
back instead, and the retrieval latency (p50/p95, warm).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AssistantError, ConfigurationError
from .ingest.load import extracted_text
from .models import Answer, Hit
from .retrieval.modes import DEFAULT_MODE, MODES

if TYPE_CHECKING:
    from .pipeline import Assistant

KS = (1, 3, 5, 10)


def normalise(text: str) -> str:
    """The judging normalisation: NFKC, lower case, one space per whitespace run, no soft hyphens."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    evidence: tuple[str, ...]
    category: str
    user: str = ""
    answer: str = ""
    doc: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def read_questions(path: Path) -> list[EvalQuestion]:
    """Questions in the ``dev.jsonl`` format; a malformed line is named with its number."""
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the question file {path}: {exc.strerror or exc}.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(EvalQuestion(
                id=str(raw["id"]), question=str(raw["question"]), evidence=tuple(raw.get("evidence") or ()),
                category=str(raw.get("category") or "uncategorised"), user=str(raw.get("user") or ""),
                answer=str(raw.get("answer") or ""), doc=str(raw.get("doc") or "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}, line {number}: not a question record ({exc}). "
                                     "Each line needs at least \"id\" and \"question\".") from exc
    return questions


@dataclass(frozen=True, slots=True)
class Judged:
    """One question's retrieval, judged."""

    question: EvalQuestion
    span_ranks: tuple[int | None, ...]  # first rank covering each span (1-based), None if not in the top 10
    gains: tuple[int, ...]  # new spans covered at each rank 1..10
    latency_ms: float
    returned: tuple[str, ...]  # "doc_id p.N: text start" of the top results, to show what came instead

    def covered_at(self, k: int) -> bool:
        return all(rank is not None and rank <= k for rank in self.span_ranks)

    @property
    def reciprocal_rank(self) -> float:
        ranks = [r for r in self.span_ranks if r is not None]
        return 1.0 / min(ranks) if ranks else 0.0

    @property
    def ndcg(self) -> float:
        """nDCG@10 with one unit of gain per evidence span, at the rank that first covers it.

        The ideal ranking is the same passages best-first, with each span missing from the top 10
        as a passage of its own: a passage holding every span at rank 1 scores 1.0, and so do spans
        spread one per passage over ranks 1, 2, 3 (no single passage could do better).
        """
        missing = sum(rank is None for rank in self.span_ranks)
        ideal_gains = sorted([g for g in self.gains if g] + [1] * missing, reverse=True)[:10]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(self.gains))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
        return dcg / ideal if ideal else 0.0


def judge(question: EvalQuestion, texts: Sequence[str], latency_ms: float = 0.0,
          labels: Sequence[str] = ()) -> Judged:
    spans = [normalise(s) for s in question.evidence]
    passages = [normalise(t) for t in texts[:10]]
    span_ranks = tuple(next((i + 1 for i, p in enumerate(passages) if s in p), None) for s in spans)
    covered: set[int] = set()
    gains = []
    for passage in passages:
        new = {j for j, s in enumerate(spans) if j not in covered and s in passage}
        covered |= new
        gains.append(len(new))
    return Judged(question, span_ranks, tuple(gains), latency_ms, tuple(labels[:5]))


@dataclass(slots=True)
class Scores:
    """Retrieval metrics over a set of judged answerable questions."""

    count: int = 0
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    ndcg: float = 0.0

    @classmethod
    def of(cls, judged: Sequence[Judged]) -> Scores:
        answerable = [j for j in judged if j.question.answerable]
        if not answerable:
            return cls()
        n = len(answerable)
        return cls(count=n, recall={k: sum(j.covered_at(k) for j in answerable) / n for k in KS},
                   mrr=sum(j.reciprocal_rank for j in answerable) / n,
                   ndcg=sum(j.ndcg for j in answerable) / n)

    def to_dict(self) -> dict[str, object]:
        return {"questions": self.count, **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
                "mrr@10": round(self.mrr, 4), "ndcg@10": round(self.ndcg, 4)}


@dataclass(slots=True)
class EvalRun:
    """A mode's results on a question set."""

    mode: str
    judged: list[Judged]
    # The same questions judged on each result's own passage only, its collapsed renderings aside.
    first_rendering: list[Judged] = field(default_factory=list)

    @property
    def overall(self) -> Scores:
        return Scores.of(self.judged)

    def by_category(self) -> dict[str, Scores]:
        categories = sorted({j.question.category for j in self.judged if j.question.answerable})
        return {c: Scores.of([j for j in self.judged if j.question.category == c]) for c in categories}

    def latency(self) -> tuple[float, float]:
        """p50 and p95 in milliseconds."""
        values = sorted(j.latency_ms for j in self.judged)
        if not values:
            return 0.0, 0.0
        p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
        return statistics.median(values), p95

    def missed(self, k: int) -> list[Judged]:
        return [j for j in self.judged if j.question.answerable and not j.covered_at(k)]

    def to_dict(self, k: int) -> dict[str, object]:
        p50, p95 = self.latency()
        return {
            "mode": self.mode,
            "overall": self.overall.to_dict(),
            "categories": {c: s.to_dict() for c, s in self.by_category().items()},
            "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1)},
            "first_rendering_only": Scores.of(self.first_rendering).to_dict(),
            "missed": [{"id": j.question.id, "question": j.question.question,
                        "evidence": list(j.question.evidence), "span_ranks": list(j.span_ranks),
                        "returned": list(j.returned)} for j in self.missed(k)],
        }


SearchFunction = Callable[[str], Sequence[Hit]]


def run(questions: Sequence[EvalQuestion], search: SearchFunction, mode: str = "default") -> EvalRun:
    """Search every question (top 10) and judge it; latency is measured per call.

    A result is judged on its passage in every rendering it returns (``Hit.texts``: the gov.uk page
    and the PDF of the executive summary, collapsed into one result); ``first_rendering`` keeps the
    stricter judgement on the result's own passage alone.
    """
    judged, first = [], []
    for question in questions:
        started = time.perf_counter()
        hits = search(question.question)
        latency = (time.perf_counter() - started) * 1000
        labels = [f"{h.chunk.doc_id} p.{h.chunk.page_label or '-'}: {' '.join(h.chunk.text.split())[:90]}"
                  for h in hits]
        judged.append(judge(question, ["\n\n".join(h.texts) for h in hits], latency, labels))
        first.append(judge(question, [h.chunk.text for h in hits], latency, labels))
    return EvalRun(mode, judged, first)


def render(runs: Sequence[EvalRun], k: int) -> str:
    """A readable report: one table row per mode, categories, then the misses of the first mode."""
    lines = []
    width = max(28, *(len(r.mode) for r in runs))
    header = f"{'mode':<{width}} " + " ".join(f"{name:>6}" for name in
                                               ("R@1", "R@3", "R@5", "R@10", "MRR", "nDCG", "p50ms", "p95ms"))
    lines += [header, "-" * len(header)]
    for r in runs:
        s, (p50, p95) = r.overall, r.latency()
        lines.append(f"{r.mode:<{width}} " + " ".join(f"{s.recall.get(x, 0):6.3f}" for x in KS)
                     + f" {s.mrr:6.3f} {s.ndcg:6.3f} {p50:6.1f} {p95:6.1f}")
    strict = Scores.of(runs[0].first_rendering)
    if runs[0].first_rendering and strict.count:
        lines.append(f"{runs[0].mode}, judged on each result's own passage only "
                     "(its other renderings aside): "
                     f"R@1 {strict.recall[1]:.3f}, R@5 {strict.recall[5]:.3f}, MRR {strict.mrr:.3f}")
    lines.append("")
    lines.append(f"recall@{k} by category ({runs[0].overall.count} answerable questions)")
    categories = list(runs[0].by_category())
    lines.append(f"{'mode':<{width}} " + " ".join(f"{c[:12]:>12}" for c in categories))
    for r in runs:
        by = r.by_category()
        lines.append(f"{r.mode:<{width}} " + " ".join(f"{by[c].recall.get(k, 0):12.3f}" for c in categories))
    main = runs[0]
    missed = main.missed(k)
    lines.append("")
    lines.append(f"missed at {k} by '{main.mode}': {len(missed)}")
    for j in missed:
        lines.append(f"  {j.question.id} [{j.question.category}] {j.question.question}")
        for span, rank in zip(j.question.evidence, j.span_ranks):
            lines.append(f"      span {'not in top 10' if rank is None else f'at rank {rank}'}: {span!r}")
        for label in j.returned[:3]:
            lines.append(f"      got: {label}")
    return "\n".join(lines)


# --- answers -------------------------------------------------------------------------------

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


# --- a whole evaluation --------------------------------------------------------------------

@dataclass(slots=True)
class EvalReport:
    """Every mode's retrieval run, and the answers judged (empty when answers were not asked)."""

    runs: list[EvalRun]
    answers: list[JudgedAnswer] | None = None  # None: answers were not asked for

    def to_dict(self, k: int) -> dict[str, object]:
        payload: dict[str, object] = {"retrieval": [r.to_dict(k) for r in self.runs]}
        if self.answers is not None:
            payload["answers"] = answer_scores(self.answers)
        return payload

    def render(self, k: int) -> str:
        text = render(self.runs, k)
        return f"{text}\n\n{render_answers(self.answers)}" if self.answers is not None else text


def run_eval(assistant: Assistant, questions: Sequence[EvalQuestion], *, compare: bool = False,
             answers: bool = True) -> EvalReport:
    """Search every question in the default mode (with ``compare``, in every mode of ``MODES``) and,
    with ``answers``, answer and judge each; latency is warm (the model and index load first)."""
    assistant.ask("warm up the model, the index and its sentence vectors")
    modes = [DEFAULT_MODE, *[m for m in MODES if m != DEFAULT_MODE]] if compare else [DEFAULT_MODE]
    runs = []
    for mode in modes:
        assistant.embedder.forget_queries()  # each mode pays for its own embeddings

        def search_one(question: str, mode: str = mode) -> Sequence[Hit]:
            try:
                return assistant.search(question, 10, mode=mode).hits
            except AssistantError:
                return ()
        runs.append(run(questions, search_one, mode))
    report = EvalReport(runs, [] if answers else None)
    if report.answers is not None:
        assistant.embedder.forget_queries()
        documents = source_texts(assistant)
        for item in questions:
            try:
                answer = assistant.ask(item.question)
            except AssistantError as exc:
                answer = Answer(question=item.question, text=str(exc), abstained=True, reason="error")
            report.answers.append(judge_answer(item, answer, documents))
    return report


def source_texts(assistant: Assistant) -> Callable[[str], str | None]:
    """doc id -> its extracted source text, normalised as the judging rules say; read on first use."""
    files = {d.id: d.file for d in assistant.status().documents}
    cache: dict[str, str | None] = {}

    def text(doc_id: str) -> str | None:
        if doc_id not in cache:
            relative = files.get(doc_id)
            path = None if relative is None else (Path(relative) if Path(relative).is_absolute()
                                                  else assistant.settings.documents_dir / relative)
            try:
                cache[doc_id] = normalise(extracted_text(path)) if path and path.is_file() else None
            except AssistantError:
                cache[doc_id] = None
        return cache[doc_id]

    return text
