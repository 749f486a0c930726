"""The chat app (app.py), run by Streamlit's own test runner on the real corpus index.

Each test starts the app script afresh with the index named by environment variables, as
`streamlit run app.py` would read them, and drives it through its widgets: the chat input, the
place box. (``AppTest`` drops query parameters, so ``?embed=true`` is tested in a real browser:
``test_app_browser.py``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant.settings import Settings

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture
def feedback_db(tmp_path: Path) -> Path:
    return tmp_path / "feedback.sqlite3"


@pytest.fixture
def app(corpus_settings: Settings, feedback_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app on the shared corpus index, its first page rendered."""
    for name in ("index_dir", "corpus_dir", "corpus_mirror"):
        monkeypatch.setenv(f"LEVELUP_{name.upper()}", str(getattr(corpus_settings, name)))
    monkeypatch.setenv("LEVELUP_FEEDBACK_DB", str(feedback_db))
    st.cache_resource.clear()  # the assistant of another test's settings
    page = AppTest.from_file(str(APP), default_timeout=120)
    page.run()
    assert not page.exception
    return page


def ask(page: AppTest, question: str) -> list[str]:
    """Ask in the chat; the markdown of the answer's message, after its notes on how it was read."""
    page.chat_input[0].set_value(question).run()
    assert not page.exception, page.exception
    assert page.chat_message[-1].name == "assistant"
    return [m.value for m in page.chat_message[-1].markdown if not m.value.startswith("Note: ")]


def test_an_answer_shows_its_markers_and_sources_with_pages(app: AppTest) -> None:
    shown = ask(app, "How much is the UK Shared Prosperity Fund worth?")
    assert "£2\\.6 billion" in shown[0] and "\\[1\\]" in shown[0]
    sources = [m for m in shown if m.startswith("**\\[")]
    assert sources and any("page" in s for s in sources)
    assert any("(new tab)](http" in s for s in sources)  # a link that says where it opens
    assert any("Licence" in s for s in sources)
    quoted = [m for m in app.chat_message[-1].markdown if "<mark>" in m.value]
    assert quoted, "the quote is shown highlighted in its passage"


def test_a_follow_up_is_read_with_the_question_before_it(app: AppTest) -> None:
    ask(app, "How much is the UK Shared Prosperity Fund worth?")
    ask(app, "and who runs it?")
    notes = [m.value for m in app.chat_message[-1].markdown if m.value.startswith("Note: ")]
    assert any("Shared Prosperity Fund" in n for n in notes), notes


def test_the_place_box_makes_answers_place_aware(app: AppTest) -> None:
    app.sidebar.text_input(key="place").set_value("Bolton").run()
    shown = ask(app, "is there an innovation accelerator near us?")
    assert "Greater Manchester" in shown[0]


def test_an_off_topic_question_gets_a_plain_reply_and_no_sources(app: AppTest) -> None:
    shown = ask(app, "What is a good recipe for banana bread?")
    assert "other than what my documents cover" in shown[0]
    assert not any(m.startswith("**\\[") for m in shown)


def test_html_and_script_in_a_question_are_shown_as_text(app: AppTest) -> None:
    ask(app, '<script>alert("x")</script><b>Towns Fund</b> [link](http://evil.example)')
    user = app.chat_message[-2].markdown[0].value
    assert user.startswith("\\<script\\>") and "\\[link\\]\\(http" in user
    raw = [m.value for m in app.markdown if m.allow_html]
    assert not any("<script" in m or "<b>" in m for m in raw)  # only escaped text ever goes out as HTML


def test_a_fault_while_answering_is_a_chat_message_not_a_traceback(app: AppTest,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.pipeline import Assistant

    def broken(self, question, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the store went away")

    monkeypatch.setattr(Assistant, "ask", broken)  # ask_stream calls it: a real fault path through the app
    app.chat_input[0].set_value("How much is the UK Shared Prosperity Fund worth?").run()
    assert not app.exception
    assert "Something went wrong on our side" in app.chat_message[-1].markdown[0].value
    assert "store went away" not in " ".join(m.value for m in app.markdown)


def test_an_empty_question_is_answered_in_the_chat(app: AppTest) -> None:
    app.chat_input[0].set_value("?!").run()
    assert not app.exception
    assert "question" in app.chat_message[-1].markdown[0].value.lower()


def test_a_rating_and_its_comment_are_stored_without_personal_details(app: AppTest,
                                                                      feedback_db: Path) -> None:
    from assistant.feedback import FeedbackStore

    ask(app, "How much is the UK Shared Prosperity Fund worth?")
    app.feedback[-1].set_value(1).run()
    app.text_input(key="comment-1").set_value("Clear, and the page link worked").run()
    assert not app.exception
    [row] = FeedbackStore(feedback_db).rows()
    assert row.rating == 1 and row.comment == "Clear, and the page link worked"
    assert row.question == "How much is the UK Shared Prosperity Fund worth?" and "£2.6 billion" in row.answer
    assert row.citations and row.app_version
    app.text_input(key="comment-1").set_value("call me on 07700 900123").run()
    assert FeedbackStore(feedback_db).rows()[0].comment == "Clear, and the page link worked"  # not kept
    app.feedback[-1].set_value(0).run()  # the other thumb: the same row changes
    [row] = FeedbackStore(feedback_db).rows()
    assert row.rating == 0


def test_a_question_refused_for_personal_data_cannot_be_rated(app: AppTest, feedback_db: Path) -> None:
    shown = ask(app, "I am jane.doe@example.com - which funds apply to my shop?")
    assert "email address" in shown[0]
    assert not app.feedback and not feedback_db.exists()


def test_the_first_run_builds_the_index_and_then_answers(tmp_path: Path, shared: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """From nothing: a manifest of one small source, its mirror; the button fetches and ingests it."""
    import json

    from .conftest import REPO

    manifest = json.loads((REPO / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "manifest.json").write_text(json.dumps({
        "documents": [d for d in manifest["documents"] if d["id"] == "techuk-levelling-up-white-paper-blog"],
        "datasets": []}), encoding="utf-8")
    for name, value in (("INDEX_DIR", tmp_path / "index"), ("CORPUS_DIR", tmp_path / "corpus"),
                        ("CORPUS_MIRROR", shared / "corpus"), ("FEEDBACK_DB", tmp_path / "feedback.sqlite3")):
        monkeypatch.setenv(f"LEVELUP_{name}", str(value))
    st.cache_resource.clear()
    page = AppTest.from_file(str(APP), default_timeout=300)
    page.run()
    page.button[0].click().run()
    assert not page.exception
    assert page.status[0].label.startswith("Indexed ") and page.status[0].state == "complete"
    page.run()
    shown = ask(page, "What does techUK say about digital connectivity?")
    assert "\\[1\\]" in shown[0]


def test_with_no_index_it_says_so_and_offers_to_build_one(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVELUP_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("LEVELUP_CORPUS_DIR", str(tmp_path / "corpus"))
    st.cache_resource.clear()
    page = AppTest.from_file(str(APP), default_timeout=60)
    page.run()
    assert not page.exception
    assert "No index has been built yet" in page.warning[0].value
    assert page.button[0].label == "Build the index"
