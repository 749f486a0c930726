"""How well the computed topic labels (``assistant/index/topics.py``) agree with labels given by hand.

    python benchmarks/topics.py sample --out /tmp/to-label.jsonl [--random 120] [--nearest 3]
    python benchmarks/topics.py score [--labels benchmarks/topic_labels.jsonl] [--json]

``sample`` writes passages to label, with their text and the topics' descriptions, outside the
repository (the texts are the documents', not ours to copy in): a seeded random sample of the
passages the labeller reads for recall, and the few passages nearest each topic in meaning, whether
or not the rule labels them, so every topic has some candidates. Each line is a passage.

``score`` reads the hand labels (``{"chunk_id", "topics": [...], "part": "random"|"nearest"}``,
ids only) and prints each topic's precision and recall over the labelled passages, for the two
halves apart: ``tune`` (passages whose id hashes even; the rule may be adjusted looking at these)
and ``held-out`` (never looked at while adjusting). Recall is also given over the random sample
alone, where it is not flattered by the nearest passages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LABELS = HERE / "topic_labels.jsonl"


def half(chunk_id: str) -> str:
    return "tune" if hashlib.sha256(chunk_id.encode()).digest()[0] % 2 == 0 else "held-out"


def sample(out: Path, random_count: int, nearest: int, seed: int = 2026) -> None:
    from assistant import Assistant

    index = Assistant().index()
    labels = index.topics
    ids = sorted(i for i in index.chunks if i not in index.contents)
    picked = {i: "random" for i in random.Random(seed).sample(ids, min(random_count, len(ids)))}
    matrix = np.stack([index.vectors[i] for i in ids])
    described = index.embedder.embed_documents([f"{t.title}. {t.description}" for t in labels.topics])
    for vector in described:
        order = np.argsort(-(matrix @ vector))
        for row in [r for r in order if ids[r] not in picked][:nearest]:
            picked[ids[row]] = "nearest"
    topics = [{"id": t.id, "title": t.title, "description": t.description} for t in labels.topics]
    with out.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"topics": topics}, ensure_ascii=False) + "\n")
        for chunk_id, part in sorted(picked.items()):
            chunk = index.chunks[chunk_id]
            f.write(json.dumps({"chunk_id": chunk_id, "part": part, "document": chunk.source.title,
                                "section": chunk.section, "text": chunk.text}, ensure_ascii=False) + "\n")
    print(f"{len(picked)} passages ({sum(p == 'random' for p in picked.values())} random) -> {out}")


def score(path: Path, as_json: bool) -> None:
    from assistant import Assistant

    index = Assistant().index()
    labels = index.topics
    hand = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    missing = [h["chunk_id"] for h in hand if h["chunk_id"] not in index.chunks]
    if missing:
        sys.exit(f"{len(missing)} labelled passages are not in the index (rebuilt with other settings?): "
                 f"{missing[:3]}")
    report: dict[str, dict[str, dict[str, object]]] = {}
    for part in ("tune", "held-out"):
        rows = [h for h in hand if half(h["chunk_id"]) == part]
        report[part] = {}
        for topic in labels.topics:
            computed = {h["chunk_id"] for h in rows if h["chunk_id"] in labels.having.get(topic.id, ())}
            truth = {h["chunk_id"] for h in rows if topic.id in h["topics"]}
            random_truth = {h["chunk_id"] for h in rows if topic.id in h["topics"] and h["part"] == "random"}
            both = computed & truth
            report[part][topic.id] = {
                "labelled": len(computed), "true": len(truth), "agree": len(both),
                "precision": round(len(both) / len(computed), 3) if computed else None,
                "recall": round(len(both) / len(truth), 3) if truth else None,
                "recall_random": round(len(computed & random_truth) / len(random_truth), 3)
                if random_truth else None,
            }
        by_topic = dict(report[part])
        for group in ("missions", "funds", "themes"):
            report[part][f"(all {group})"] = _pooled(v for t, v in by_topic.items()
                                                     if labels.group_of.get(t) == group)
        report[part]["(all topics)"] = _pooled(by_topic.values())
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for part, topics in report.items():
        n = sum(half(h["chunk_id"]) == part for h in hand)
        print(f"\n{part}: {n} passages labelled by hand")
        print(f"  {'topic':44} {'rule':>5} {'hand':>5} {'both':>5} {'precision':>9} {'recall':>7} "
              f"{'recall (random)':>15}")
        for topic, row in topics.items():
            print(f"  {topic:44} {row['labelled']:5} {row['true']:5} {row['agree']:5} "
                  f"{_f(row['precision']):>9} {_f(row['recall']):>7} {_f(row['recall_random']):>15}")


def _pooled(rows) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rows = list(rows)
    labelled, true, agree = (sum(r[k] for r in rows) for k in ("labelled", "true", "agree"))
    return {"labelled": labelled, "true": true, "agree": agree,
            "precision": round(agree / labelled, 3) if labelled else None,
            "recall": round(agree / true, 3) if true else None, "recall_random": None}


def _f(value: object) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sample")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--random", type=int, default=120)
    s.add_argument("--nearest", type=int, default=3)
    c = commands.add_parser("score")
    c.add_argument("--labels", type=Path, default=LABELS)
    c.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.command == "sample":
        sample(args.out, args.random, args.nearest)
    else:
        score(args.labels, args.json)


if __name__ == "__main__":
    main()
