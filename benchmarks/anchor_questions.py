"""Turn a question set written with text evidence into the form kept in the repository.

The repository holds no text of the corpus, so our own question sets give each evidence span as a
place in its document: offset and length in the document's extracted text, normalised as the judging
rules say, and the sha256 of the span. ``levelup eval`` reads the spans back from the fetched
documents (``assistant.evaluation.read_questions``) and refuses if a document has changed.

    python benchmarks/anchor_questions.py drafts.jsonl benchmarks/questions/tune.jsonl

Run it where ``levelup fetch`` has fetched the documents (corpus/documents/ by default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import anchor, normalise
from assistant.ingest.load import extracted_text
from assistant.settings import get_settings

FIELDS = ("id", "question", "category", "user", "kind", "doc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="questions with text evidence (the dev.jsonl format)")
    parser.add_argument("target", type=Path, help="where to write them with evidence_at instead")
    args = parser.parse_args()
    documents = get_settings().documents_dir
    texts: dict[str, str] = {}
    out = []
    for number, line in enumerate(args.source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        record = {name: raw.get(name, "") for name in FIELDS}
        if raw.get("evidence"):
            doc = raw["doc"]
            if doc not in texts:
                texts[doc] = normalise(extracted_text(documents / doc))
            try:
                record["evidence_at"] = [anchor(span, texts[doc]) for span in raw["evidence"]]
            except ValueError:
                sys.exit(f"{args.source}, line {number}: an evidence span is not in {documents / doc}")
        out.append(json.dumps(record, ensure_ascii=False))
    args.target.parent.mkdir(parents=True, exist_ok=True)
    args.target.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(out)} questions -> {args.target}")


if __name__ == "__main__":
    main()
