"""Evaluation: question sets, judged by the rules of ``../shared/eval/README.md``.

    questions.py  the dev.jsonl format (and our sets' evidence given as places in the documents)
    retrieval.py  recall@k, MRR@10, nDCG@10 per question set, mode and category
    answers.py    evidence coverage, citation validity, abstention, uncited sentences
    runner.py     ``run_eval``: search and answer every question; the report ``levelup eval`` prints
"""

from .answers import JudgedAnswer, answer_scores, judge_answer, uncited_sentences
from .questions import EvalQuestion, anchor, normalise, read_questions
from .retrieval import EvalRun, Scores, judge, run
from .runner import EvalReport, run_eval, source_texts

__all__ = ["EvalQuestion", "EvalReport", "EvalRun", "JudgedAnswer", "Scores", "anchor", "answer_scores",
           "judge", "judge_answer", "normalise", "read_questions", "run", "run_eval", "source_texts",
           "uncited_sentences"]

