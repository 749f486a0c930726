"""Ingest throughput on the shared corpus, next to the raw speed of the embedding model.

    python benchmarks/ingest_speed.py [--mirror ../shared/corpus]

Prints pages/s and passages/s for a cold ingest into a fresh index; the same texts (each
passage, and each of its sentences, which answers quote) embedded directly by the model, the
floor no pipeline can beat; the pipeline's overhead as a share of that embedding time; and
the time of a re-ingest with nothing changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from assistant.embed import get_embedder
from assistant.index.store import Store
from assistant.ingest import ingest
from assistant.ingest.sources import fetch
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=REPO.parent / "shared" / "corpus")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "corpus").mkdir()
        shutil.copy(REPO / "corpus" / "manifest.json", home / "corpus" / "manifest.json")
        settings = Settings(index_dir=home / "index", corpus_dir=home / "corpus", corpus_mirror=args.mirror)
        assert fetch(settings, progress=False).ok
        embedder = get_embedder(settings)
        embedder.embed_query("warm up: load the model before timing")

        cold = ingest(settings=settings, embedder=embedder, progress=False)
        assert cold.ok, cold.failed
        # The same texts the ingest embedded: each passage, and each of its quotable sentences.
        chunks = [chunk for chunk, _ in Store(settings).open().iter_records()]
        texts = [c.embed_text for c in chunks] + [c.text[a:b] for c in chunks for a, b in c.units()]
        started = time.perf_counter()
        embedder.embed_documents(texts)
        raw = time.perf_counter() - started
        started = time.perf_counter()
        warm = ingest(settings=settings, embedder=embedder, progress=False)
        unchanged = time.perf_counter() - started
        assert warm.embedded == 0

    # Honest overhead: the whole ingest's wall time beyond what the model alone needs for the same passages.
    overhead = cold.seconds - raw
    print(f"corpus            {len(cold.added)} documents, {cold.pages} pages, {cold.passages} passages")
    print(f"cold ingest       {cold.seconds:6.2f} s  = {cold.pages / cold.seconds:5.1f} pages/s, "
          f"{cold.passages / cold.seconds:5.1f} passages/s")
    print(f"  read+chunk      {cold.read_seconds:6.2f} s CPU (in a thread beside the model)")
    print(f"  embed           {cold.embed_seconds:6.2f} s (slowed by the reader: both cores are busy)")
    print(f"  write           {cold.write_seconds:6.2f} s (in a thread beside the model)")
    print(f"raw model         {raw:6.2f} s  for the same {len(chunks)} passages and "
          f"{len(texts) - len(chunks)} sentences, same run")
    print(f"overhead          {overhead:6.2f} s  = {100 * overhead / raw:4.1f}% of raw embedding time "
          f"(target < 10%; ingest wall time minus the raw model time)")
    print(f"no-change ingest  {unchanged:6.3f} s  ({warm.embedded} passages re-embedded)")


if __name__ == "__main__":
    main()
