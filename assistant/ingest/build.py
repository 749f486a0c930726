"""Ingest: sources -> documents -> passages -> vectors -> a new published index generation.

The one place that knows the order of the indexing stages. It is incremental and safe:

* a document whose bytes and metadata are unchanged is not even re-read: its passages and
  vectors are carried over from the serving generation;
* a changed document is re-chunked and replaces exactly its own passages; vectors are
  reused for any passage whose text (digest) was embedded before;
* a file that cannot be read is reported and skipped, and whatever was indexed for it
  before stays;
* the new generation is published only when complete (see ``index/store.py``), so an interrupted
  ingest leaves the previous index serving.

Embedding dominates the cost, so the other stages run beside it: a reader thread loads and
chunks documents while the model embeds the passages already found, and a writer thread
stores finished batches.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..embed import Embedder, get_embedder
from ..errors import DocumentError, IndexWriteError
from ..index.lexical import LexicalIndex
from ..index.store import Generation, Store
from ..models import Chunk, Document, IndexedDocument, IndexInfo, IngestReport
from ..settings import PARSER_VERSION, Settings, get_settings
from .chunk import chunk_document
from .duplicates import link_near_duplicates
from .inputs import IngestItem, manifest_items, path_items
from .load import load_document


def _digest(path: Path, item: IngestItem) -> str:
    """Changes when the file's bytes or its citation metadata change."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    hasher.update(json.dumps(item.source.to_dict(), sort_keys=True).encode())
    hasher.update(PARSER_VERSION.encode())
    return hasher.hexdigest()


def ingest(paths: Sequence[Path] | None = None, *, settings: Settings | None = None,
           embedder: Embedder | None = None, progress: bool = True, prune: bool = False) -> IngestReport:
    """Index the manifest's fetched documents, or the given files and folders.

    Documents already indexed and not named in this run are kept, unless ``prune`` is set.
    Raises ``IndexBusyError`` when another ingest runs; per-file problems go in the report.
    """
    settings = get_settings(settings)
    started = time.perf_counter()
    report = IngestReport()
    items = path_items(list(paths), report) if paths else manifest_items(settings, report)
    if not items and not prune:
        if not report.failed:
            report.failed.append(("(nothing)",
                                  "no documents to ingest: run levelup fetch, or name files or folders"))
        return report

    store = Store(settings)
    with store.lock():
        store.clean()
        previous = store.open_or_none()
        old_docs = {d.id: d for d in previous.info(store.key).documents} if previous else {}
        named = {i.source.id for i in items}
        digests = {}
        for item in items:
            try:
                digests[item.source.id] = _digest(item.path, item)
            except OSError as exc:
                report.failed.append((str(item.path), f"cannot be read ({exc.strerror or exc})"))
        items = [i for i in items if i.source.id in digests]
        changed = [i for i in items
                   if getattr(old_docs.get(i.source.id), "digest", None) != digests[i.source.id]]
        report.unchanged = [i.source.id for i in items if i not in changed]
        report.removed = [doc_id for doc_id in old_docs if prune and doc_id not in named]
        if changed or report.removed:
            build = _Build(store, settings, embedder or get_embedder(settings), report, progress)
            build.run(previous, old_docs, changed, digests)
        else:
            report.passages = sum(d.passages for d in old_docs.values())
    report.seconds = time.perf_counter() - started
    return report


def status(settings: Settings | None = None) -> IndexInfo:
    """What the serving index holds; ``IndexNotFoundError`` when nothing is built yet."""
    settings = get_settings(settings)
    store = Store(settings)
    return store.open().info(store.key)


# --- one build, with reading and writing beside the embedding ----------------------------

def _in_background(work: Callable[[Callable[[Any], None]], None], size: int = 8) -> Iterator[Any]:
    """Run ``work(put)`` in a thread and yield what it puts; its exceptions re-raise here."""
    results: queue.Queue[Any] = queue.Queue(maxsize=size)
    done = object()

    def run() -> None:
        try:
            work(results.put)
        except BaseException as exc:  # handed to the consumer, never lost in the thread
            results.put(exc)
        else:
            results.put(done)

    threading.Thread(target=run, daemon=True).start()
    while (result := results.get()) is not done:
        if isinstance(result, BaseException):
            raise result
        yield result


class _Writer:
    """Stores batches (passages, or sentence vectors) in a thread while the model embeds the next ones."""

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.seconds = 0.0
        self._queue: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self._submit(self.generation.add, chunks, vectors)

    def put_sentences(self, spans: list[tuple[str, int, int]], vectors: np.ndarray) -> None:
        self._submit(self.generation.add_sentences, spans, vectors)

    def _submit(self, write: Callable[..., None], items: list[Any], vectors: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        if items:
            self._queue.put((write, (items, vectors)))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (task := self._queue.get()) is not None:
            if self._error is None:
                started = time.perf_counter()
                try:
                    task[0](*task[1])
                except BaseException as exc:
                    self._error = exc
                self.seconds += time.perf_counter() - started


class _Build:
    """Everything one ingest run changes: read what changed, embed what is new, publish."""

    def __init__(self, store: Store, settings: Settings, embedder: Embedder, report: IngestReport,
                 progress: bool) -> None:
        self.store, self.settings, self.embedder, self.report = store, settings, embedder, report
        self.progress = progress
        self.known_vectors: dict[str, np.ndarray] = {}
        self.known_sentences: dict[str, list[tuple[int, int, np.ndarray]]] = {}  # chunk digest -> sentences
        self.pending: list[Chunk] = []
        self.chunks: list[Chunk] = []

    def run(self, previous: Generation | None, old_docs: dict[str, IndexedDocument],
            changed: list[IngestItem], digests: dict[str, str]) -> None:
        report = self.report
        carried: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
        if previous is not None:
            digest_of: dict[str, str] = {}
            for chunk, vector in previous.iter_records(embeddings=True):
                carried.setdefault(chunk.doc_id, []).append((chunk, vector))
                self.known_vectors[chunk.digest] = vector  # type: ignore[assignment]
                digest_of[chunk.id] = chunk.digest
            for chunk_id, start, end, vector in previous.iter_sentences():
                if chunk_id in digest_of:
                    self.known_sentences.setdefault(digest_of[chunk_id], []).append((start, end, vector))
        documents = {d: old_docs[d] for d in old_docs if d not in report.removed}
        generation = self.store.create()
        try:
            self.writer = _Writer(generation)
            self._read_and_embed(changed, documents, digests)
            renewed = set(report.added + report.updated)
            for doc_id in documents:  # unchanged, or changed but unreadable now: keep what was indexed
                if doc_id not in renewed and carried.get(doc_id):
                    kept = carried[doc_id]
                    self.chunks.extend(c for c, _ in kept)
                    self.writer.put([c for c, _ in kept], np.stack([v for _, v in kept]))
                    self._reuse_sentences([c for c, _ in kept])
            self.writer.close()
            if not any(i.source.id in report.added + report.updated for i in changed) and not report.removed:
                self.store.discard(generation)  # every changed file failed: the serving index stays as it is
                return
            self._link_duplicates(generation)
            lexical = LexicalIndex.build((c.id, c.embed_text) for c in self.chunks)
            try:
                lexical.save(self.store.lexical_path(generation.name))
            except OSError as exc:
                raise IndexWriteError(f"Cannot write the word index for {generation.location}: "
                                      f"{exc.strerror or exc}. Free disk space or make the folder "
                                      "writable.") from exc
            self.store.publish(generation, {
                "model": self.settings.embedding_model,
                "index_key": self.store.key,
                "documents": json.dumps([asdict(d) for d in documents.values()], ensure_ascii=False),
            })
        except BaseException:
            self.store.discard(generation)
            raise
        report.generation = generation.name
        report.passages = len(self.chunks)
        report.write_seconds = self.writer.seconds
        self.store.clean()

    def _read_and_embed(self, changed: list[IngestItem], documents: dict[str, IndexedDocument],
                        digests: dict[str, str]) -> None:
        report = self.report
        changed_ids = {i.source.id for i in changed}
        seen_content = {d.content_digest: d.id for d in documents.values() if d.id not in changed_ids}
        count_tokens, settings = self.embedder.count_tokens, self.settings

        def read(put: Callable[[Any], None]) -> None:
            for item in changed:
                started = time.perf_counter()
                try:
                    document = load_document(item.path, item.source)
                    put((item, document, chunk_document(document, count_tokens, settings),
                         time.perf_counter() - started))
                except DocumentError as exc:
                    put((item, exc, [], time.perf_counter() - started))

        bar = tqdm(total=0, desc="Embedding", unit="passage", disable=not self.progress, leave=False)
        reading = tqdm(total=len(changed), desc="Reading", unit="doc", disable=not self.progress, leave=False)
        with bar, reading:
            for item, document, chunks, seconds in _in_background(read):
                reading.update(1)
                report.read_seconds += seconds
                if isinstance(document, DocumentError):
                    report.failed.append((str(item.path), document.reason))
                    continue
                content_key = hashlib.sha256(document.text.encode()).hexdigest()
                if seen_content.get(content_key, document.id) != document.id:
                    report.warnings.append(f"{item.path}: same text as {seen_content[content_key]}; "
                                           "indexed once")
                    continue
                seen_content[content_key] = document.id
                self._accept(item, document, chunks, digests[document.id], content_key, documents)
                bar.total += sum(c.digest not in self.known_vectors or c.digest not in self.known_sentences
                                 for c in chunks)
                bar.refresh()
                self._embed(bar, at_least=settings.embedding_batch_size * 4)
            self._embed(bar, at_least=1)

    def _accept(self, item: IngestItem, document: Document, chunks: list[Chunk], digest: str,
                content_key: str, documents: dict[str, IndexedDocument]) -> None:
        report = self.report
        report.warnings.extend(f"{item.path}: {w}" for w in document.warnings)
        report.pages += len(document.pages)
        (report.updated if document.id in documents else report.added).append(document.id)
        documents[document.id] = IndexedDocument(
            id=document.id, title=document.source.title, file=item.source.file, digest=digest,
            passages=len(chunks), pages=len(document.pages), content_digest=content_key)
        self.chunks.extend(chunks)
        reused = [c for c in chunks if c.digest in self.known_vectors and c.digest in self.known_sentences]
        if reused:
            self.writer.put(reused, np.stack([self.known_vectors[c.digest] for c in reused]))
            self._reuse_sentences(reused)
            report.reused += len(reused)
        self.pending.extend(c for c in chunks if c not in reused)

    def _reuse_sentences(self, chunks: list[Chunk]) -> None:
        spans = [(c.id, a, b) for c in chunks for a, b, _ in self.known_sentences.get(c.digest, [])]
        if spans:
            self.writer.put_sentences(spans, np.stack([v for c in chunks for _, _, v in
                                                       self.known_sentences.get(c.digest, [])]))

    def _embed(self, bar: tqdm, at_least: int) -> None:
        """Embed pending passages in batches of the given size, handing each to the writer."""
        step = self.settings.embedding_batch_size * 4
        while len(self.pending) >= at_least and self.pending:
            batch, self.pending = self.pending[:step], self.pending[step:]
            # A passage's vector, and those of its sentences (what answers quote), in one model call.
            spans = [(c.id, a, b) for c in batch for a, b in c.units()]
            texts = {c.id: c.text for c in batch}
            started = time.perf_counter()
            vectors = self.embedder.embed_documents([c.embed_text for c in batch]
                                                    + [texts[i][a:b] for i, a, b in spans])
            self.report.embed_seconds += time.perf_counter() - started
            self.report.embedded += len(batch)
            self.report.sentences_embedded += len(spans)
            self.writer.put(batch, vectors[:len(batch)])
            self.writer.put_sentences(spans, vectors[len(batch):])
            bar.update(len(batch))

    def _link_duplicates(self, generation: Generation) -> None:
        """Near-duplicates are known only once every passage is: fix up the few that have one."""
        linked = link_near_duplicates(self.chunks)
        changed = [new for old, new in zip(self.chunks, linked) if old.dup_group != new.dup_group]
        generation.update_metadata(changed)
        self.chunks = linked
