"""The `levelup` command, driven through click's CliRunner with real files, model and index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assistant.cli import cli
from assistant.settings import Settings

from .conftest import REPO
from .pdfs import make_pdf, policy_paper_pages


def env_for(settings: Settings) -> dict[str, str]:
    env = {"LEVELUP_INDEX_DIR": str(settings.index_dir), "LEVELUP_CORPUS_DIR": str(settings.corpus_dir)}
    if settings.corpus_mirror:
        env["LEVELUP_CORPUS_MIRROR"] = str(settings.corpus_mirror)
    return env


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env_for(settings), catch_exceptions=False)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    make_pdf(folder / "towns-programme.pdf", policy_paper_pages())
    (folder / "harbours.md").write_text("# Harbour renewal\n\nCoastal towns get £30 million for new quays.\n",
                                        encoding="utf-8")
    return folder


@pytest.fixture
def indexed(settings: Settings, library: Path) -> Settings:
    result = run(settings, "ingest", "--no-progress", str(library))
    assert result.exit_code == 0, result.output
    return settings


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("fetch", "ingest", "status", "search"):
        assert f"  {command}" in result.output


def test_fetch_from_a_mirror_copies_every_source_it_holds(settings: Settings, shared: Path) -> None:
    settings.corpus_dir.mkdir(parents=True)
    shutil.copy(REPO / "corpus" / "manifest.json", settings.manifest_path)
    result = run(settings, "fetch", "--no-progress", "--mirror", str(shared / "corpus"))
    assert result.exit_code == 0, result.output
    assert "fetched     hmt-green-book-2026" in result.output
    assert "skipped     levelling-up-the-united-kingdom-white-paper: not in mirror" in result.output
    assert (settings.documents_dir / "pdf" / "dfe-skills-for-jobs-white-paper-2021.pdf").is_file()
    again = run(settings, "fetch", "--no-progress", "--mirror", str(shared / "corpus"))
    assert "up to date  hmt-green-book-2026" in again.output


def test_fetch_names_a_missing_mirror(settings: Settings, tmp_path: Path) -> None:
    settings.corpus_dir.mkdir(parents=True)
    shutil.copy(REPO / "corpus" / "manifest.json", settings.manifest_path)
    result = run(settings, "fetch", "--mirror", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "nowhere" in result.output


def test_ingest_reports_what_it_did_and_a_rerun_embeds_nothing(settings: Settings, library: Path) -> None:
    first = run(settings, "ingest", "--no-progress", str(library))
    assert first.exit_code == 0
    assert "Indexed 2 document(s) (2 new, 0 changed, 0 unchanged, 0 removed)" in first.output
    second = run(settings, "ingest", "--no-progress", str(library))
    assert second.exit_code == 0
    assert "Index up to date: 2 document(s) unchanged" in second.output \
        and "nothing re-embedded" in second.output


def test_ingest_fails_with_one_line_per_bad_path(settings: Settings, library: Path, tmp_path: Path) -> None:
    (library / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * 100)
    result = run(settings, "ingest", "--no-progress", str(library), str(tmp_path / "missing.pdf"))
    assert result.exit_code == 1
    assert f"FAILED   {tmp_path / 'missing.pdf'}: does not exist" in result.output
    assert f"FAILED   {library / 'broken.pdf'}: is truncated" in result.output
    assert "Indexed 2 document(s)" in result.output  # the good files still went in


def test_ingest_without_fetched_sources_says_what_to_run(settings: Settings) -> None:
    settings.corpus_dir.mkdir(parents=True)
    shutil.copy(REPO / "corpus" / "manifest.json", settings.manifest_path)
    result = run(settings, "ingest", "--no-progress")
    assert result.exit_code == 1
    assert "run: levelup fetch" in result.output


def test_status_lists_documents_and_model(indexed: Settings) -> None:
    result = run(indexed, "status")
    assert result.exit_code == 0
    assert "sentence-transformers/all-MiniLM-L6-v2" in result.output
    assert "Documents  2," in result.output and "towns-programme" in result.output \
        and "harbours" in result.output


def test_status_before_any_ingest_says_to_ingest(settings: Settings) -> None:
    result = run(settings, "status")
    assert result.exit_code == 1 and "Build it with: levelup ingest" in result.output


def test_search_prints_passages_with_their_source(indexed: Settings) -> None:
    result = run(indexed, "search", "Which fund gets £4 million?", "--k", "2")
    assert result.exit_code == 0
    assert " 1. [" in result.output and "Towns programme, p. 2" in result.output
    assert "§ 1 Introduction > 1.2 Funding table" in result.output


def test_search_json_has_the_documented_fields(indexed: Settings) -> None:
    result = run(indexed, "search", "new quays for coastal towns", "--k", "2", "--json")
    payload = json.loads(result.output)
    first = payload["results"][0]
    assert {"rank", "chunk_id", "doc_id", "title", "page_start", "page_end", "section", "text",
            "score"} <= set(first)
    assert first["doc_id"] == "harbours" and first["rank"] == 1


def test_search_batch_writes_one_line_per_question(indexed: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "quays"}\n{"id": "b", "question": "   "}\n'
                         '{"id": "c", "question": "who chairs the regional board?"}\n', encoding="utf-8")
    result = run(indexed, "search", "--batch", str(questions), "--k", "3", "--json")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    assert len(lines[0]["results"]) == 3 and lines[0]["results"][0]["doc_id"] == "harbours"
    assert lines[1]["results"] == [] and "empty" in lines[1]["error"]
    assert "Mayor" in lines[2]["results"][0]["text"]


@pytest.mark.parametrize("question, message", [
    ("", "The question is empty"),
    ("?!?!", "only punctuation"),
])
def test_search_refuses_a_question_with_no_words(indexed: Settings, question: str, message: str) -> None:
    result = run(indexed, "search", question)
    assert result.exit_code == 1 and message in result.output


def test_search_before_any_ingest_says_to_ingest(settings: Settings) -> None:
    result = run(settings, "search", "anything")
    assert result.exit_code == 1 and "Build it with: levelup ingest" in result.output


def test_search_batch_over_the_dev_set(corpus_settings: Settings, shared: Path) -> None:
    result = run(corpus_settings, "search", "--batch", str(shared / "eval" / "dev.jsonl"), "--k", "10",
                 "--json")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    with open(shared / "eval" / "dev.jsonl", encoding="utf-8") as questions:
        assert len(lines) == sum(1 for _ in questions)
    assert all(len(line["results"]) == 10 for line in lines)
    assert all(r["rank"] == i + 1 for line in lines for i, r in enumerate(line["results"]))


# --- what a hostile user or document sends: one clear line, nothing echoed, nothing sent to the terminal --

def test_ingest_without_bars_still_prints_a_line_per_phase(settings: Settings, library: Path) -> None:
    result = run(settings, "ingest", "--no-progress", str(library))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("Read 2 document(s) in ") and lines[0].endswith(" new")
    assert lines[1].startswith("Embedding ") and lines[2].startswith("Embedded ")


def test_an_empty_path_argument_is_a_usage_error(settings: Settings, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("# Notes\n\nThese notes must not be indexed by accident.\n")
    result = run(settings, "ingest", "--no-progress", "")
    assert result.exit_code == 2
    assert "An empty path was given; name a file or folder (use . for the current folder)." in result.output
    assert not settings.index_dir.exists()


def test_an_index_folder_that_is_a_file_gives_one_line_not_a_traceback(settings: Settings,
                                                                       tmp_path: Path) -> None:
    blocker = tmp_path / "index-file"
    blocker.write_text("not a folder")
    misplaced = Settings(index_dir=blocker, corpus_dir=settings.corpus_dir)
    for command in (["status"], ["search", "fund"], ["ask", "What is the fund?"]):
        result = run(misplaced, *command)  # an exception other than the clean exit would propagate here
        assert result.exit_code == 1
        assert f"Error: The index folder {blocker} cannot be used: {blocker} is a file" in result.output


def test_search_with_personal_data_is_refused_without_echoing_it(indexed: Settings) -> None:
    for args in (["search", "email jo@example.com about quays"], ["search", "--json", "call 07700 900123"],
                 ["search", "quays", "--place", "SW1A 1AA"],
                 ["ask", "quays?", "--json", "--place", "07700 900123"]):
        result = run(indexed, *args)
        assert "jo@example.com" not in result.output and "900123" not in result.output
        assert "SW1A" not in result.output
        assert "haven't used or stored" in result.output


def test_escape_sequences_in_a_document_never_reach_the_terminal(settings: Settings, tmp_path: Path) -> None:
    hostile = tmp_path / "quay.md"
    hostile.write_bytes(b"# Quay Fund\n\nThe Quay Fund\x1b]0;owned\x07 repairs quays\x07 in "
                        b"\x1b[31mWhitby\x1b[0m.\n")
    assert run(settings, "ingest", "--no-progress", str(hostile)).exit_code == 0
    for args in (["search", "Quay Fund quays"], ["ask", "What does the Quay Fund repair?"]):
        result = run(settings, *args)
        assert "repairs quays in Whitby" in result.output
        assert not any(ch in result.output for ch in "\x1b\x07\x9b")


def test_feedback_export_writes_json_lines_and_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    from assistant.feedback import FeedbackStore
    from assistant.models import Answer

    db = tmp_path / "feedback.sqlite3"
    monkeypatch.setenv("LEVELUP_FEEDBACK_DB", str(db))
    store = FeedbackStore(db)
    assert store.record(Answer(question="What is the UKSPF?", text="A fund. [1]"), 1, "helpful") == 1
    refused = Answer(question="Funds for jane@example.com?", text="", reason="personal_data")
    assert store.record(refused, 0) is None  # a question refused for personal data is never stored
    runner = CliRunner()
    done = runner.invoke(cli, ["feedback", "export"])
    assert done.exit_code == 0
    [line] = done.output.splitlines()
    assert json.loads(line) | {"created_at": "", "app_version": ""} == {
        "id": 1, "created_at": "", "question": "What is the UKSPF?", "answer": "A fund. [1]", "citations": "",
        "rating": 1, "comment": "helpful", "app_version": ""}
    done = runner.invoke(cli, ["feedback", "export", "--csv", str(tmp_path / "out.csv")])
    assert done.exit_code == 0 and "Wrote 1 rating" in done.output
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        assert [r["question"] for r in csv.DictReader(handle)] == ["What is the UKSPF?"]
