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

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..models import Hit
from .questions import EvalQuestion, normalise

KS = (1, 3, 5, 10)


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
