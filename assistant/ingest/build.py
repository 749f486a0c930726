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

Embedding dominates the cost. Documents are read and chunked first, so the embedding phase
knows its total (an honest bar, and a job too large is refused before any embedding); a
writer thread stores finished batches while the model embeds the next.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..embed import Embedder, get_embedder
from ..errors import DocumentError, IndexNotFoundError, IndexWriteError, IngestTooLargeError
from ..index.lexical import LexicalIndex
from ..index.loaded import keep_arrays
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
           embedder: Embedder | None = None, progress: bool = True, prune: bool = False,
           notify: Callable[[str], None] | None = None,
           on_progress: Callable[[str, int, int], None] | None = None) -> IngestReport:
    """Index the manifest's fetched documents, or the given files and folders.

    Documents already indexed and not named in this run are kept, unless ``prune`` is set.
    ``progress`` shows a bar per phase (reading, embedding); ``notify`` is handed one line as each
    phase starts or ends ("Embedding 730 passages (about 49 s on 2 cores)"), bars or not;
    ``on_progress`` gets (phase, done, total) as each phase advances ("Reading", 3, 7), for a
    progress bar of an app's own.
    Raises ``IndexBusyError`` when another ingest runs and ``IngestTooLargeError`` past
    ``max_ingest_passages``; per-file problems go in the report.
    """
    settings = get_settings(settings)
    started = time.perf_counter()
    report = IngestReport()
    items = path_items(list(paths), report, settings) if paths else manifest_items(settings, report)
    if not items and not prune:
        if not report.failed:
            report.failed.append(("(nothing)",
                                  "no documents to ingest: run levelup fetch, or name files or folders"))
        return report

    store = Store(settings)
    with store.lock():
        store.clean()
        previous = _previous(store, report, keep_nothing=prune or not paths)
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
            build = _Build(store, settings, embedder or get_embedder(settings), report, progress, notify,
                           on_progress)
            build.run(previous, old_docs, changed, digests)
        else:
            report.passages = sum(d.passages for d in old_docs.values())
    report.seconds = time.perf_counter() - started
    return report


def _previous(store: Store, report: IngestReport, keep_nothing: bool) -> Generation | None:
    """The generation whose documents this ingest keeps: the serving one, or the newest complete
    one when the pointer names a generation that is gone.

    With none left, an ingest of a few files would publish only those, silently dropping every
    other document: it refuses instead, unless it rebuilds from the manifest or ``--prune`` asks
    for exactly these files."""
    pointer = store.current_name()
    try:
        previous = store.open_serving()
    except IndexNotFoundError:
        if pointer is None:
            return None  # a first ingest
        if not keep_nothing:
            raise IndexNotFoundError(
                f"The serving index generation {pointer} in {store.home} is missing or damaged and no "
                "complete earlier generation is left, so this ingest would publish only the files named "
                "and drop every other document. Rebuild from the manifest with: levelup ingest (then add "
                "these files again), or index only these files with: levelup ingest --prune PATHS") from None
        report.warnings.append(f"the serving index generation {pointer} is missing or damaged and no "
                               "complete earlier one is left: started a new index from this run's documents")
        return None
    if pointer is not None and previous.name != pointer:
        report.warnings.append(f"the serving index generation {pointer} is missing or damaged: kept the "
                               f"documents of {previous.name}, the newest complete generation")
    return previous


def status(settings: Settings | None = None) -> IndexInfo:
    """What the serving index holds; ``IndexNotFoundError`` when nothing is built yet."""
    settings = get_settings(settings)
    store = Store(settings)
    return store.open_serving().info(store.key)


# --- one build, with writing beside the embedding ----------------------------------------

#: A document with more passages than this gets a warning (the full White Paper has about 1,000).
_LARGE_DOCUMENT = 5_000
#: Passages embedded per second on this project's 2-core machines (measured on the corpus, a quiet machine),
#: by how sentence vectors are made: for the size of a job before it starts.
_PASSAGES_PER_SECOND = {"separate": 5.5, "late": 15.0}


def _duration(passages: int, sentence_vectors: str) -> str:
    seconds = passages / _PASSAGES_PER_SECOND[sentence_vectors]
    if seconds < 10:
        return "a few seconds"
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


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
                 progress: bool, notify: Callable[[str], None] | None,
                 on_progress: Callable[[str, int, int], None] | None = None) -> None:
        self.store, self.settings, self.embedder, self.report = store, settings, embedder, report
        self.progress, self.notify, self.on_progress = progress, notify, on_progress
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
                # Passages and sentence vectors as arrays beside the generation: what serving reads.
                keep_arrays(generation, self.embedder, self.store.files(generation.name))
            except OSError as exc:
                raise IndexWriteError(f"Cannot write the word index and sentence array for "
                                      f"{generation.location}: {exc.strerror or exc}. Free disk space or "
                                      "make the folder writable.") from exc
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
        """Two phases, each with an honest bar: read and chunk every changed document, then, knowing
        how many passages are new, say so (or refuse past ``max_ingest_passages``) and embed them."""
        self._read_all(changed, documents, digests)
        count = len(self.pending)
        limit = self.settings.max_ingest_passages
        duration = _duration(count, self.settings.sentence_vectors)
        if count > limit:
            raise IngestTooLargeError(
                f"This ingest would embed {count:,} passages ({duration} on 2 cores), over the limit "
                f"of {limit:,} (LEVELUP_MAX_INGEST_PASSAGES). Nothing was changed. Raise the limit to go "
                "ahead, or ingest fewer or smaller files.")
        if count:
            self._say(f"Embedding {count:,} passages ({duration} on 2 cores)")
        started = time.perf_counter()
        with tqdm(total=count, desc="Embedding", unit="passage", disable=not self.progress,
                  leave=False) as bar:
            while self.pending:
                self._embed_batch(bar)
        if count:
            self._say(f"Embedded {count:,} passages in {time.perf_counter() - started:.1f} s")

    def _read_all(self, changed: list[IngestItem], documents: dict[str, IndexedDocument],
                  digests: dict[str, str]) -> None:
        report, settings = self.report, self.settings
        changed_ids = {i.source.id for i in changed}
        seen_content = {d.content_digest: d.id for d in documents.values() if d.id not in changed_ids}
        started, read = time.perf_counter(), 0
        with tqdm(changed, desc="Reading", unit="doc", disable=not self.progress, leave=False) as bar:
            for position, item in enumerate(bar):
                self._tick("Reading", position, len(changed))
                begun = time.perf_counter()
                try:
                    document = load_document(item.path, item.source, int(settings.max_file_mb * 1e6))
                    chunks = chunk_document(document, self.embedder.count_tokens, settings)
                except DocumentError as exc:
                    report.failed.append((str(item.path), exc.reason))
                    continue
                finally:
                    report.read_seconds += time.perf_counter() - begun
                read += 1
                content_key = hashlib.sha256(document.text.encode()).hexdigest()
                if seen_content.get(content_key, document.id) != document.id:
                    report.warnings.append(f"{item.path}: same text as {seen_content[content_key]}; "
                                           "indexed once")
                    continue
                seen_content[content_key] = document.id
                if len(chunks) > _LARGE_DOCUMENT:
                    report.warnings.append(f"{item.path}: {len(chunks):,} passages from one file (the White "
                                           "Paper itself has about 1,000): check it is one document")
                self._accept(item, document, chunks, digests[document.id], content_key, documents)
        self._tick("Reading", len(changed), len(changed))
        self._say(f"Read {read} document(s) in {time.perf_counter() - started:.1f} s: "
                  f"{len(self.chunks):,} passages, {len(self.pending):,} new")

    def _say(self, line: str) -> None:
        if self.notify is not None:
            self.notify(line)

    def _tick(self, phase: str, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(phase, done, total)

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

    def _embed_batch(self, bar: tqdm) -> None:
        """Embed one batch of pending passages and hand it to the writer. Batches are one model batch
        each, so Ctrl-C (checked between them) stops an ingest within seconds even on a busy machine."""
        step = self.settings.embedding_batch_size
        batch, self.pending = self.pending[:step], self.pending[step:]
        units = [c.units() for c in batch]
        spans = [(c.id, a, b) for c, found in zip(batch, units) for a, b in found]
        started = time.perf_counter()
        if self.settings.sentence_vectors == "late":  # the sentences' vectors from the passages' own pass
            heading = [len(c.embed_text) - len(c.text) for c in batch]  # the text follows its heading line
            passages, sentences = self.embedder.embed_passages(
                [c.embed_text for c in batch], [[(a + h, b + h) for a, b in found]
                                                for h, found in zip(heading, units)])
        else:  # every sentence embedded again as if on its own (packed several to a model row)
            passages = self.embedder.embed_documents([c.embed_text for c in batch])
            sentences = self.embedder.embed_sentences([c.text[a:b] for c, found in zip(batch, units)
                                                       for a, b in found])
            self.report.sentences_embedded += len(spans)
        self.report.embed_seconds += time.perf_counter() - started
        self.report.embedded += len(batch)
        self.writer.put(batch, passages)
        self.writer.put_sentences(spans, sentences)
        bar.update(len(batch))
        self._tick("Embedding", self.report.embedded, self.report.embedded + len(self.pending))

    def _link_duplicates(self, generation: Generation) -> None:
        """Near-duplicates are known only once every passage is: fix up the few that have one."""
        linked = link_near_duplicates(self.chunks)
        changed = [new for old, new in zip(self.chunks, linked) if old.dup_group != new.dup_group]
        generation.update_metadata(changed)
        self.chunks = linked
