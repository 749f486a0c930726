"""Question sets: text evidence, or evidence kept as places in the documents (no corpus text in the repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import ConfigurationError
from assistant.evaluation import anchor, normalise, read_questions
from assistant.evaluation.answers import JudgedAnswer
from assistant.evaluation.questions import EvalQuestion

TEXT = "The UK Shared Prosperity Fund   is worth\n£2.6 billion. It replaces EU structural funds."


def write(path: Path, *records: dict[str, object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_anchored_evidence_is_read_back_from_the_fetched_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "fund.txt").write_text(TEXT, encoding="utf-8")
    place = anchor("is worth £2.6 billion", normalise(TEXT))
    questions = write(tmp_path / "q.jsonl", {"id": "q1", "question": "how much is the ukspf?",
                                             "doc": "fund.txt", "category": "fact", "kind": "plain",
                                             "evidence_at": [place]})
    (question,) = read_questions(questions, tmp_path / "docs")
    assert question.evidence == ("is worth £2.6 billion",) and question.kind == "plain"
    assert "2.6" not in questions.read_text(encoding="utf-8")  # the set itself holds no text of the document


def test_a_changed_document_is_refused_not_misjudged(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    place = anchor("is worth £2.6 billion", normalise(TEXT))
    (tmp_path / "docs" / "fund.txt").write_text(TEXT.replace("2.6", "9.9"), encoding="utf-8")
    questions = write(tmp_path / "q.jsonl", {"id": "q1", "question": "how much?", "doc": "fund.txt",
                                             "category": "fact", "evidence_at": [place]})
    with pytest.raises(ConfigurationError, match=r"q.jsonl, line 1: .*not the text.*levelup fetch"):
        read_questions(questions, tmp_path / "docs")


def test_anchored_evidence_needs_the_documents_fetched(tmp_path: Path) -> None:
    place = anchor("is worth £2.6 billion", normalise(TEXT))
    questions = write(tmp_path / "q.jsonl", {"id": "q1", "question": "how much?", "doc": "fund.txt",
                                             "category": "fact", "evidence_at": [place]})
    with pytest.raises(ConfigurationError, match=r"not fetched.*levelup fetch"):
        read_questions(questions, tmp_path / "nowhere")


def test_text_evidence_needs_no_documents(tmp_path: Path) -> None:
    questions = write(tmp_path / "q.jsonl",
                      {"id": "q1", "question": "how much?", "evidence": ["£2.6 billion"]},
                      {"id": "q2", "question": "what is the weather?", "evidence": [],
                       "category": "unanswerable"})
    first, second = read_questions(questions)
    assert first.answerable and first.evidence == ("£2.6 billion",)
    assert not second.answerable and second.category == "unanswerable"


def test_an_anchor_is_only_made_for_text_that_is_there() -> None:
    with pytest.raises(ValueError):
        anchor("is worth £3 billion", normalise(TEXT))


@pytest.mark.parametrize("answerable,covered,abstained,passed", [
    (True, True, False, True),
    (True, False, False, False),
    (False, False, True, True),
    (False, False, False, False),
], ids=["answered with every span", "a span missing", "abstained on unanswerable",
        "answered the unanswerable"])
def test_what_passing_means_for_each_kind_of_question(answerable: bool, covered: bool, abstained: bool,
                                                      passed: bool) -> None:
    evidence = ("span",) if answerable else ()
    question = EvalQuestion("q", "?", evidence, "fact" if answerable else "unanswerable")
    judged = JudgedAnswer(question, abstained, covered, 1, 1, 0, 1.0, "")
    assert judged.passed is passed
