"""A whole evaluation: every question searched (in one mode or all) and answered, then reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AssistantError
from ..ingest.load import extracted_text
from ..models import Answer, Hit
from ..retrieval.modes import DEFAULT_MODE, MODES
from .answers import JudgedAnswer, answer_scores, judge_answer, render_answers
from .questions import EvalQuestion, normalise
from .retrieval import EvalRun, render, run

if TYPE_CHECKING:
    from ..pipeline import Assistant


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


def render_sets(reports: dict[str, EvalReport]) -> str:
    """Question sets side by side (dev, the split tuned on, the one never tuned on): retrieval and
    answers, then, for sets whose questions name the kind they probe, how each kind fares."""
    names = list(reports)
    width = max(12, *(len(n) for n in names))
    rows: list[tuple[str, list[str]]] = []
    for label, value in _SUMMARY:
        rows.append((label, [value(reports[n]) for n in names]))
    lines = [f"{'':<28}" + "".join(f"{n:>{width + 2}}" for n in names)]
    lines += [f"{label:<28}" + "".join(f"{cell:>{width + 2}}" for cell in cells) for label, cells in rows]
    kinds = sorted({j.question.kind for r in reports.values() for j in r.answers or () if j.question.kind})
    if kinds:
        lines += ["", "passed by kind (answerable: every span cited; unanswerable: abstained)"]
        for kind in kinds:
            cells = []
            for n in names:
                group = [j for j in reports[n].answers or () if j.question.kind == kind]
                cells.append(f"{sum(j.passed for j in group)}/{len(group)}" if group else "-")
            lines.append(f"  {kind:<26}" + "".join(f"{cell:>{width + 2}}" for cell in cells))
    return "\n".join(lines)


def _answer_figure(name: str, answerable: bool | None = None) -> Callable[[EvalReport], str]:
    def value(report: EvalReport) -> str:
        if report.answers is None:
            return "-"
        group = [j for j in report.answers if answerable is None or j.question.answerable == answerable]
        if not group:
            return "-"
        figure = answer_scores(report.answers)[name]
        return f"{figure:.3f}" if isinstance(figure, float) and name != "uncited_sentences" else f"{figure:g}"
    return value


def _retrieval_figure(name: str) -> Callable[[EvalReport], str]:
    def value(report: EvalReport) -> str:
        scores = report.runs[0].overall
        figure = scores.recall.get(5, 0.0) if name == "recall@5" else scores.mrr
        return f"{figure:.3f}" if scores.count else "-"
    return value


_SUMMARY: list[tuple[str, Callable[[EvalReport], str]]] = [
    ("questions", lambda r: str(len(r.runs[0].judged))),
    ("answerable", lambda r: str(r.runs[0].overall.count)),
    ("retrieval recall@5", _retrieval_figure("recall@5")),
    ("retrieval MRR@10", _retrieval_figure("mrr")),
    ("evidence coverage", _answer_figure("evidence_coverage", True)),
    ("citation validity", _answer_figure("citation_validity")),
    ("abstains on unanswerable", _answer_figure("abstained_unanswerable", False)),
    ("answers answerable", _answer_figure("answered_answerable", True)),
    ("uncited sentences", _answer_figure("uncited_sentences")),
    ("answer latency p95 ms", _answer_figure("latency_p95_ms")),
]
