"""The chat app as a user sees it: cold start and warm answers in a real browser.

    python benchmarks/app_speed.py [--questions ../shared/eval/dev.jsonl] [--repeat 1]

Serves ``app.py`` with ``streamlit run`` on a free loopback port (on the index the environment's
settings name, as ``make run`` does), opens it in Debian's chromium through playwright, and prints:

* cold start: from starting the server process to the first answer sentence visible in the page
  (the model and index are loaded on the first visit, as they are for a real user);
* warm, over the questions: from pressing Enter to the first answer sentence visible, and to the
  last citation visible (the thumbs under the answer are drawn after every source), median and p95.

Targets (issue 13): cold start <= 20 s on 2 cores; warm first sentence <= 300 ms p95.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from speed import SHARED, load_average, percentile, read_questions

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
INPUT = "Ask about the missions, funds or devolution…"
#: The newest answer's first sentence is shown (not a note on how the question was read), and its end:
#: the feedback thumbs, drawn after the last source.
FIRST_SENTENCE = """n => { const m = document.querySelectorAll('[data-testid="stChatMessage"]');
  if (m.length < n) return false;
  return [...m[n - 1].querySelectorAll('[data-testid="stMarkdown"]')]
    .some(e => e.innerText.trim() && !e.innerText.startsWith('Note: ')); }"""
LAST_CITATION = """n => { const m = document.querySelectorAll('[data-testid="stChatMessage"]');
  return m.length >= n && m[n - 1].querySelector('[data-testid="stFeedback"]') !== null; }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=SHARED / "eval" / "dev.jsonl")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the questions, warm")
    parser.add_argument("--app", type=Path, default=REPO / "app.py", help="the Streamlit script to serve")
    args = parser.parse_args()
    questions = read_questions(args.questions)

    from playwright.sync_api import sync_playwright

    port = free_port()
    address = f"http://127.0.0.1:{port}"
    print(f"load average before: {load_average()}")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(args.app), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"{address}/_stcore/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit("streamlit exited before serving")
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(address)
            box = page.get_by_placeholder(INPUT)
            box.wait_for(timeout=300_000)

            def ask(question: str, turn: int) -> tuple[float, float]:
                """Seconds from Enter to the first sentence, and to the last citation, of answer ``turn``."""
                box.fill(question)
                pressed = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(FIRST_SENTENCE, arg=2 * turn, timeout=300_000, polling=10)
                first = time.perf_counter() - pressed
                page.wait_for_function(LAST_CITATION, arg=2 * turn, timeout=300_000, polling=10)
                return first, time.perf_counter() - pressed

            first, _ = ask(questions[0], 1)
            cold = time.perf_counter() - started
            firsts, lasts = [], []
            turn = 1
            for _ in range(args.repeat):
                for question in questions:
                    turn += 1
                    if turn % 10 == 0:  # a fresh conversation now and then: the page grows with each answer
                        page.goto(address)
                        box.wait_for(timeout=300_000)
                        turn = 1
                    a, b = ask(question, turn)
                    firsts.append(a * 1000)
                    lasts.append(b * 1000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"cold start, server process start -> first answer sentence visible: {cold:.1f} s "
          f"(target <= 20 s; the first question itself {first:.1f} s)")
    for label, values in (("first answer sentence", firsts), ("last citation", lasts)):
        print(f"warm, Enter -> {label:<22} p50 {statistics.median(values):6.0f} ms   "
              f"p95 {percentile(values, 0.95):6.0f} ms   ({len(values)} questions)")
    print(f"target: warm first sentence p95 <= 300 ms; load average after: {load_average()}")


if __name__ == "__main__":
    main()
