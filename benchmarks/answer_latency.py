"""Warm latency of search and of answers, end to end, on the dev questions.

    python benchmarks/answer_latency.py [--questions ../shared/eval/dev.jsonl] [--repeat 3]

Uses the index the settings point at (LEVELUP_INDEX_DIR, default index/): build it first with
`levelup fetch --mirror ../shared/corpus && levelup ingest`. Targets: search p95 <= 50 ms,
answer p95 <= 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from assistant.pipeline import Assistant

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=REPO.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    questions = [json.loads(line)["question"]
                 for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    assistant = Assistant()
    started = time.perf_counter()
    assistant.ask("warm up: load the model, the index, the sentence vectors and the place lookups")
    print(f"cold start (first answer)  {time.perf_counter() - started:6.2f} s")
    for name, call in (("search", lambda q: assistant.search(q, 10)), ("answer", assistant.ask)):
        timings = []
        for _ in range(args.repeat):
            for question in questions:
                # Every question as if new: the embedder remembers recent question vectors, which
                # would otherwise make a repeat look faster than any user sees.
                assistant.embedder.forget_queries()
                t = time.perf_counter()
                call(question)
                timings.append((time.perf_counter() - t) * 1000)
        print(f"{name:<7} n={len(timings):<4} p50 {statistics.median(timings):6.1f} ms   "
              f"p95 {percentile(timings, 0.95):6.1f} ms   max {max(timings):6.1f} ms")


if __name__ == "__main__":
    main()
