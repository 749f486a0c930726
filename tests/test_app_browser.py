"""The chat app in a real browser: `streamlit run app.py` on a free loopback port, Debian's chromium
driven by playwright. Screenshots go to tests/artefacts/ (not committed) to be looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.settings import Settings

from .conftest import _free_port

REPO = Path(__file__).resolve().parents[1]
ARTEFACTS = Path(__file__).resolve().parent / "artefacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUESTION = "How much is the UK Shared Prosperity Fund worth?"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason="needs Debian's chromium (apt-get install chromium, as .ci/run does)")


@pytest.fixture(scope="module")
def served(corpus_settings: Settings) -> Iterator[str]:
    """The app served by `streamlit run` on the shared corpus index; its address."""
    port = _free_port()
    env = {**os.environ, **{f"LEVELUP_{n.upper()}": str(getattr(corpus_settings, n))
                            for n in ("index_dir", "corpus_dir", "corpus_mirror")}}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{address}/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.5)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the chat input, press Enter, wait for the sources under the answer."""
    box = page.get_by_placeholder("Ask about the missions, funds or devolution…")
    box.wait_for(timeout=120_000)
    box.fill(question)
    box.press("Enter")
    page.get_by_text("Sources", exact=True).first.wait_for(timeout=120_000)


def test_an_answer_in_the_browser_links_its_source_at_a_page(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(served)
    ask(page, QUESTION)
    # A web page opens as itself, a PDF at the page ("#page=N": the next test); the source says its page.
    named = re.compile(r"^Open the (document at page \d+|official page) \(new tab\)$")
    links = page.get_by_role("link", name=named)
    links.first.wait_for(timeout=30_000)
    href = links.first.get_attribute("href") or ""
    assert href.startswith("http")
    assert ("#page=" in href) == ("at page" in links.first.inner_text())  # it says what it opens
    assert links.first.get_attribute("target") == "_blank"  # as its text says: a new tab
    assert page.get_by_text(re.compile(r"· page \d+")).count() >= 1
    assert page.get_by_text("£2.6 billion").count() >= 1
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "chat-answer.png"), full_page=True)
    page.close()


def test_a_pdf_source_opens_the_apps_own_copy_at_its_page(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(served)
    ask(page, "What is the Lifetime Skills Guarantee?")  # answered from the Skills for Jobs PDF
    ours = page.get_by_role("link", name="Our copy at page")
    ours.first.wait_for(timeout=30_000)  # drawn just after the quote it belongs to
    href = ours.first.get_attribute("href") or ""
    assert re.search(r"#page=\d+$", href) and ours.first.get_attribute("target") == "_blank"
    with urllib.request.urlopen(urllib.parse.urljoin(served + "/", href.split("#")[0])) as served_pdf:
        assert served_pdf.headers["Content-Type"] == "application/pdf" and served_pdf.read(5) == b"%PDF-"
    page.close()


def test_embedded_mode_has_no_sidebar_and_answers(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 420, "height": 800})
    page.goto(f"{served}/?embed=true")
    ask(page, QUESTION)
    assert page.locator('[data-testid="stSidebar"]').count() == 0
    assert page.get_by_role("textbox", name="Your town or council (optional)").count() == 1
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "embedded.png"), full_page=True)
    page.close()


def test_keyboard_alone_reaches_the_input_and_a_source_link(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 320, "height": 800})  # 1280 px at 400% zoom
    page.goto(served)
    page.get_by_placeholder("Ask about the missions, funds or devolution…").wait_for(timeout=120_000)
    for _ in range(40):  # Tab until the chat input has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.tagName") == "TEXTAREA":
            break
    else:
        pytest.fail("Tab never reached the chat input")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.get_by_text("Sources", exact=True).first.wait_for(timeout=120_000)
    for _ in range(80):
        page.keyboard.press("Tab")
        if "(new tab)" in (page.evaluate("document.activeElement.textContent") or ""):
            break
    else:
        pytest.fail("Tab never reached a source link")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the page scrolls sideways at 320 px ({width} px wide)"
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "zoom-400.png"), full_page=True)
    page.close()


WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


@pytest.mark.parametrize("path", ["/", "/?embed=true"])
def test_axe_finds_no_serious_or_critical_wcag_violation_with_an_answer_shown(served: str, browser,  # type: ignore[no-untyped-def]
                                                                              path: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(served + path)
    ask(page, QUESTION)
    found = Axe().run(page, options=WCAG).response["violations"]
    page.close()
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, bad


def open_explorer_at(page, served: str, topic: str) -> None:  # type: ignore[no-untyped-def]
    """The commitments explorer with ``topic`` chosen in its Topic box (typed, as a keyboard user would)."""
    page.goto(f"{served}/explorer")
    page.get_by_text("passages, showing").wait_for(timeout=120_000)
    page.get_by_label("Topic").click()
    page.keyboard.type(topic)
    page.keyboard.press("Enter")
    page.get_by_text(f"Topics: {topic}").first.wait_for(timeout=60_000)


def test_the_explorer_lists_a_missions_passages_with_why_and_a_page_link(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    open_explorer_at(page, served, "Mission 3: Transport Infrastructure")
    rows = page.get_by_text("Topics: Mission 3: Transport Infrastructure")
    rows.nth(1).wait_for(timeout=30_000)  # the rows are drawn one after another
    assert page.get_by_text(re.compile("names \u201cMission Three\u201d")).count() >= 1
    assert page.get_by_role("heading", name=re.compile(r"\d+ passages?, showing 1-")).count() == 1
    assert page.get_by_role("heading", name=re.compile(r", page \d+$")).count() >= 2  # each row's page
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "explorer.png"), full_page=True)
    open_explorer_at(page, served, "National Skills Fund")  # named in the Skills for Jobs PDF
    link = page.get_by_role("link", name=re.compile(r"Our copy at page \d+ \(new tab\)")).first
    assert re.search(r"\.pdf#page=\d+$", link.get_attribute("href") or "")
    assert link.get_attribute("target") == "_blank"
    page.close()


def test_the_explorer_is_not_in_embedded_mode(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 420, "height": 800})
    page.goto(f"{served}/?embed=true")
    page.get_by_placeholder("Ask about the missions, funds or devolution…").wait_for(timeout=120_000)
    assert page.get_by_role("link", name="Commitments explorer").count() == 0
    page.close()


def test_axe_finds_no_serious_or_critical_wcag_violation_in_the_explorer(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    open_explorer_at(page, served, "Towns Fund")
    found = Axe().run(page, options=WCAG).response["violations"]
    page.close()
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, bad
