"""Ingest and the store, on an embedded index and on a real Chroma server.

The lifecycle: ingest -> search -> re-ingest unchanged (nothing embedded) -> change one
document (only its passages replaced) -> prune. Then the safety promises: a killed or
interrupted ingest leaves the previous index serving, and the next one completes cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import IndexBusyError, IndexNotFoundError
from assistant.index.store import Store
from assistant.ingest import ingest, status
from assistant.pipeline import Assistant
from assistant.settings import Settings

from .pdfs import make_pdf, policy_paper_pages


class CountingEmbedder:
    """The real model, counting how many passages it is asked to embed."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.name = real.name
        self.max_tokens = real.max_tokens
        self.embedded = 0

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.real.embed_documents(texts)

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.real.embed_sentences(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.real.embed_query(text)


@pytest.fixture
def counting(embedder) -> CountingEmbedder:  # type: ignore[no-untyped-def]
    return CountingEmbedder(embedder)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder of three documents: a PDF, a Markdown note and a text file."""
    folder = tmp_path / "library"
    folder.mkdir()
    make_pdf(folder / "towns-programme.pdf", policy_paper_pages())
    (folder / "harbours.md").write_text(
        "# Harbour renewal\n\nThe Harbour Renewal Scheme gives coastal towns £30 million for new quays.\n\n"
        "## Eligibility\n\nCouncils on the coast of Wales and Scotland may bid before March 2025.\n",
        encoding="utf-8")
    (folder / "skills.txt").write_text(
        "Adult skills bootcamps\n\nBootcamps last up to 16 weeks and lead to a job interview.\n\n"
        "Employers pay a tenth of the cost when they are small firms.\n", encoding="utf-8")
    return folder


def test_lifecycle(store_settings: Settings, library: Path, counting: CountingEmbedder, subtests) -> None:  # type: ignore[no-untyped-def]
    with subtests.test("nothing indexed yet"), pytest.raises(IndexNotFoundError, match="levelup ingest"):
        status(store_settings)

    with subtests.test("first ingest embeds every passage"):
        report = ingest([library], settings=store_settings, embedder=counting, progress=False)
        assert report.ok and sorted(report.added) == ["harbours", "skills", "towns-programme"]
        assert report.embedded == report.passages > 0
        # passages and their sentences
        assert counting.embedded == report.embedded + report.sentences_embedded
        info = status(store_settings)
        assert {d.id for d in info.documents} == {"harbours", "skills", "towns-programme"}
        assert info.passages == report.passages and info.model == store_settings.embedding_model
        # beside the generation (in server mode, a local folder): the word index and the sentence array
        files = Store(store_settings).files(Store(store_settings).current_name())
        assert {p.name for p in files.iterdir()} >= {"lexical.json.gz", "sentences.npy", "sentences.json",
                                                     "passages.npy", "passages.json"}

    assistant = Assistant(store_settings, embedder=counting.real)
    with subtests.test("search finds the passage with its citation"):
        top = assistant.search("money for new quays in coastal towns", k=3).hits[0]
        assert top.chunk.doc_id == "harbours" and "£30 million" in top.chunk.text
        assert top.chunk.heading_path == ("Harbour renewal",)

    first_generation = Store(store_settings).current_name()
    with subtests.test("re-ingesting an unchanged corpus embeds nothing and keeps the generation"):
        counting.embedded = 0
        again = ingest([library], settings=store_settings, embedder=counting, progress=False)
        assert again.ok and sorted(again.unchanged) == ["harbours", "skills", "towns-programme"]
        assert counting.embedded == 0 and again.embedded == 0 and again.generation is None
        assert Store(store_settings).current_name() == first_generation

    before = {c.id: c for c, _ in Store(store_settings).open().iter_records()}
    with subtests.test("a changed document replaces exactly its own passages"):
        (library / "harbours.md").write_text(
            "# Harbour renewal\n\nThe Harbour Renewal Scheme gives coastal towns £45 million for new "
            "quays.\n\n"
            "## Eligibility\n\nCouncils on the coast of Wales and Scotland may bid before March 2025.\n",
            encoding="utf-8")
        counting.embedded = 0
        changed = ingest([library], settings=store_settings, embedder=counting, progress=False)
        assert changed.updated == ["harbours"] and sorted(changed.unchanged) == ["skills", "towns-programme"]
        after = {c.id: c for c, _ in Store(store_settings).open().iter_records()}
        assert {i for i in before if not i.startswith("harbours:")} <= set(after)
        assert not any("£30 million" in c.text for c in after.values())  # no stale passage
        assert sum("£45 million" in c.text for c in after.values()) == 1
        assert counting.embedded == changed.embedded + changed.sentences_embedded
        assert changed.embedded < changed.passages  # unchanged text reused its vectors
        top = assistant.search("coastal towns quays funding", k=1).hits[0]
        assert top.chunk.text.count("£45 million") == 1

    with subtests.test("a broken file is reported and its old passages stay"):
        (library / "skills.txt").write_bytes(b"")
        broken = ingest([library], settings=store_settings, embedder=counting, progress=False)
        assert not broken.ok and any("skills.txt" in path and "empty" in reason
                                     for path, reason in broken.failed)
        assert any(c.doc_id == "skills" for c, _ in Store(store_settings).open().iter_records())

    with subtests.test("prune removes documents not part of the run"):
        pruned = ingest([library / "harbours.md"], settings=store_settings, embedder=counting, progress=False,
                        prune=True)
        assert sorted(pruned.removed) == ["skills", "towns-programme"]
        assert {d.id for d in status(store_settings).documents} == {"harbours"}

    with subtests.test("old generations are cleared away"):
        store = Store(store_settings)
        assert len(store._generation_names()) <= store_settings.keep_generations


def test_a_second_ingest_refuses_while_one_is_running(settings: Settings, library: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    with Store(settings).lock(), pytest.raises(IndexBusyError, match=r"Another ingest is running \(pid \d+"):
        ingest([library], settings=settings, embedder=embedder, progress=False)


# --- interrupted ingests -------------------------------------------------------------

def _big_library(folder: Path) -> Path:
    """Enough distinct text that embedding takes several seconds."""
    folder.mkdir()
    paragraphs = [f"Programme {n} funds {n % 17 + 2} projects in district {n * 7 % 311}, opening bids in "
                  f"month {n % 12 + 1} with a budget of £{n * 3 + 1} million for roads, skills and housing."
                  for n in range(900)]
    (folder / "programmes.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    return folder


def _levelup(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LEVELUP_INDEX_DIR": str(settings.index_dir),
           "LEVELUP_CORPUS_DIR": str(settings.corpus_dir),
           "LEVELUP_COLLECTION_PREFIX": settings.collection_prefix}
    if settings.chroma_url:
        env["LEVELUP_CHROMA_URL"] = settings.chroma_url
    command = [str(Path(sys.executable).with_name("levelup")), *args]
    # Ctrl-C as a user's terminal sends it: a suite started in the background (``cmd &``) ignores SIGINT,
    # and a child would inherit that and never see it.
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(process: subprocess.Popen[bytes], marker: bytes,
              timeout: float = 120) -> tuple[bytearray, threading.Thread]:
    """Read the process's stderr until ``marker`` shows (the progress bar of a stage).

    Returns the buffer, which keeps filling until the process ends, and its reader thread.
    """
    seen = bytearray()

    def reader() -> None:
        while chunk := process.stderr.read1(1024):  # type: ignore[union-attr]
            seen.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while marker not in seen:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never saw {marker!r}; stderr: {bytes(seen)[-2000:]!r}")
        time.sleep(0.05)
    return seen, thread


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_an_interrupted_ingest_leaves_the_previous_index_serving(store_settings: Settings, library: Path,
                                                                 tmp_path: Path, embedder, how: str) -> None:  # type: ignore[no-untyped-def]
    ingest([library], settings=store_settings, embedder=embedder, progress=False)
    store = Store(store_settings)
    serving, count = store.current_name(), store.open().count()

    process = _levelup(store_settings, "ingest", str(_big_library(tmp_path / "big")))
    stderr, reader = _wait_for(process, b"Embedding")
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
    interrupted = time.monotonic()
    process.wait(timeout=60)
    stopped_within = time.monotonic() - interrupted
    reader.join(timeout=10)
    if how == "SIGINT":
        assert process.returncode == 130
        assert b"previous index is still serving" in bytes(stderr)
        # Ctrl-C is checked between model batches: it stops within seconds (target 5 s on a busy machine;
        # the bound here leaves room for a test machine running other work).
        assert stopped_within < 10, f"took {stopped_within:.1f} s to stop after Ctrl-C"
    else:
        assert process.returncode == -signal.SIGKILL

    assert store.current_name() == serving and store.open().count() == count
    hit = Assistant(store_settings, embedder=embedder).search("coastal towns quays", k=1).hits[0]
    assert hit.chunk.doc_id == "harbours"

    report = ingest([tmp_path / "big"], settings=store_settings, embedder=embedder, progress=False)
    assert report.ok and report.added == ["programmes"]
    assert store.current_name() != serving
    assert {d.id for d in status(store_settings).documents} == {"harbours", "skills", "towns-programme",
                                                                "programmes"}
    assert len(store._generation_names()) <= store_settings.keep_generations


def test_a_generated_pdf_is_cited_with_page_and_section(settings: Settings, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "paper.pdf", policy_paper_pages())
    ingest([folder], settings=settings, embedder=embedder, progress=False)
    hit = Assistant(settings, embedder=embedder).search("Harbour Fund amount", k=1).hits[0].to_dict()
    assert hit["doc_id"] == "paper" and hit["page_start"] == 2 \
        and hit["section"] == "1 Introduction > 1.2 Funding table"
    assert "Harbour Fund £4 million 2024" in hit["text"]


def test_a_word_index_from_an_older_tokenizer_is_rebuilt_when_opened(settings: Settings, library: Path,  # type: ignore[no-untyped-def]
                                                                       embedder) -> None:
    import gzip
    import json

    from assistant.text import TOKENIZER_VERSION

    ingest([library], settings=settings, embedder=embedder, progress=False)
    store = Store(settings)
    path = store.lexical_path(store.current_name())
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    assert payload["tokenizer"] == TOKENIZER_VERSION
    del payload["tokenizer"]  # as written before the tokenizer had a version
    payload["postings"] = {}  # and stale: it finds nothing
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)
    hits = Assistant(settings, embedder=embedder).search("harbour renewal quays", k=3,
                                                         mode="lexical").hits
    assert hits and "Harbour Renewal Scheme" in hits[0].chunk.text
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["tokenizer"] == TOKENIZER_VERSION


def test_warm_up_loads_the_index_before_the_first_question(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")
    (tmp_path / "fund.md").write_text("# Quay Fund\n\nThe Quay Fund repairs quays in Whitby.\n")
    assert ingest([tmp_path / "fund.md"], settings=settings, embedder=embedder, progress=False).ok
    assistant = Assistant(settings, embedder=embedder)
    assert not assistant.ready
    assistant.warm_up()
    assert assistant.ready and assistant._serving is not None  # the first question opens nothing


def test_serving_reads_the_arrays_kept_beside_the_generation_not_chroma(settings: Settings, library: Path,  # type: ignore[no-untyped-def]
                                                                        embedder, monkeypatch) -> None:
    """Reading every passage and sentence vector back from Chroma was most of opening a large index
    (48 of 60 s at 20x the corpus): ingest keeps them as arrays, and serving reads those (the sentence
    vectors mapped into memory). An array that is missing, damaged or another generation's is rebuilt
    from Chroma, and answers do not change."""
    import json

    from assistant.index.loaded import _read_passages
    from assistant.index.store import Generation

    ingest([library], settings=settings, embedder=embedder, progress=False)
    question = "money for new quays in coastal towns"
    expected = Assistant(settings, embedder=embedder).ask(question)
    assert "£30 million" in expected.text
    from_chroma, chroma_vectors = _read_passages(Store(settings).open_serving())

    def read_from_chroma(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("opened by reading Chroma's collections")

    with monkeypatch.context() as patched:
        patched.setattr(Generation, "iter_sentences", read_from_chroma)
        patched.setattr(Generation, "iter_records", read_from_chroma)
        mapped = Assistant(settings, embedder=embedder)
        assert mapped.ask(question).text == expected.text
        index = mapped._serve().index
        assert dict(index.chunks) == from_chroma  # every field of every passage, as Chroma has it
        assert all(np.array_equal(index.vectors[c], chroma_vectors[c]) for c in from_chroma)
        assert all(isinstance(index.sentences[c].vectors, np.memmap) for c in index.chunks)

    store = Store(settings)
    files = store.files(store.current_name())
    damaged = {"truncated": "{\"generation\": ", "another generation's": None}
    for case, text in damaged.items():
        if text is None:
            spans = json.loads((files / "sentences.json").read_text(encoding="utf-8"))
            text = json.dumps({**spans, "generation": "g19990101000000000000-000000"})
        (files / "sentences.json").write_text(text, encoding="utf-8")
        assert Assistant(settings, embedder=embedder).ask(question).text == expected.text, case
        kept = json.loads((files / "sentences.json").read_text(encoding="utf-8"))
        assert kept["generation"] == store.current_name(), case  # rebuilt and kept again
    for kept in ("sentences.npy", "passages.npy", "passages.json"):
        (files / kept).unlink()
        assert Assistant(settings, embedder=embedder).ask(question).text == expected.text, kept
        assert (files / kept).is_file(), kept
