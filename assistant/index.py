"""Ingest: sources -> documents -> passages -> vectors -> a new published index generation.

The one place that knows the order of the indexing stages. It is incremental and safe:

* a document whose bytes and metadata are unchanged is not even re-read: its passages and
  vectors are carried over from the serving generation;
* a changed document is re-chunked and replaces exactly its own passages; vectors are
  reused for any passage whose text (digest) was embedded before;
* a file that cannot be read is reported and skipped, and whatever was indexed for it
  before stays;
* the new generation is published only when complete (see ``store.py``), so an interrupted
  ingest leaves the previous index serving.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunk import chunk_document, link_near_duplicates
from .embed import Embedder, get_embedder
from .errors import ConfigurationError, DocumentError
from .load import SUPPORTED_SUFFIXES, load_document
from .models import Chunk, IndexedDocument, IndexInfo, IngestReport, Source
from .settings import PARSER_VERSION, Settings, get_settings
from .sources import load_manifest, local_path, read_manifest
from .store import Store


@dataclass(frozen=True, slots=True)
class IngestItem:
    """A file to index and the source record it will be cited as."""

    path: Path
    source: Source


# --- what to ingest ----------------------------------------------------------------------

def manifest_items(settings: Settings, report: IngestReport) -> list[IngestItem]:
    """The manifest's documents that have been fetched; the others are reported as skipped."""
    items = []
    for source in load_manifest(settings).documents:
        path = local_path(source, settings)
        if path.is_file():
            items.append(IngestItem(path, source))
        else:
            report.skipped.append((source.id, f"not fetched ({path} is missing); run: levelup fetch"))
    return items


def path_items(paths: Sequence[Path], report: IngestReport) -> list[IngestItem]:
    """Files and folders given on the command line; a MANIFEST.json beside them supplies metadata."""
    items: list[IngestItem] = []
    for path in paths:
        if not path.exists():
            report.failed.append((str(path), "does not exist; check the path"))
            continue
        if path.is_dir():
            try:
                everything = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
            except PermissionError:
                report.failed.append((str(path), "cannot be read (permission denied)"))
                continue
            files = sorted(p for p in everything if p.suffix.lower() in SUPPORTED_SUFFIXES)
            others = sorted({p.suffix.lower() or "(no extension)" for p in everything
                             if p not in files and p.name != "MANIFEST.json"})
            if others:
                skipped = len(everything) - len(files) - sum(p.name == "MANIFEST.json" for p in everything)
                report.warnings.append(f"{path}: skipped {skipped} file(s) of types not indexed "
                                       f"({', '.join(others)}); convert them to PDF, .md, .txt or .html")
            if not files:
                unreadable = not _can_list(path)
                report.failed.append((str(path), "cannot be read (permission denied)" if unreadable else
                                      "contains no PDF, .md, .txt or .html files"))
                continue
        else:
            files = [path]
        for file in files:
            items.append(IngestItem(file, _source_for(file)))
    return _unique_ids(items)


def _can_list(path: Path) -> bool:
    try:
        next(path.iterdir(), None)
        return True
    except PermissionError:
        return False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def _source_for(file: Path) -> Source:
    """Metadata for a loose file: from a MANIFEST.json in its folder (or a parent), else from its name."""
    for folder in [file.parent, *file.parent.parents][:3]:
        manifest = folder / "MANIFEST.json"
        if manifest.is_file():
            relative = file.relative_to(folder).as_posix()
            entry = _manifest_entry(manifest, relative)
            if entry is not None:
                return entry
    return Source(id=_slug(file.stem), title=re.sub(r"[-_]+", " ", file.stem).strip().capitalize(),
                  publisher="Unknown publisher (no MANIFEST.json beside the file)", published="",
                  licence="Unknown: check before reuse", file=str(file), kind="local", relation="related")


def _manifest_entry(manifest: Path, relative: str) -> Source | None:
    """The entry for ``relative`` in a project manifest or in a plain list like ../shared's."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(raw, dict) and "documents" in raw:
        try:
            return next((s for s in read_manifest(manifest).documents if s.file == relative), None)
        except ConfigurationError:
            return None
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and entry.get("file") == relative:
            url = entry.get("official_url") or entry.get("url")
            return Source(
                id=_slug(Path(relative).stem), title=str(entry.get("title") or Path(relative).stem),
                publisher=str(entry.get("publisher") or ""), published=str(entry.get("published") or ""),
                licence=str(entry.get("licence") or ""), file=relative,
                url=str(url).split(" ")[0] if url else None,
                kind="commentary" if "not OGL" in str(entry.get("licence")) else "government",
                relation="related",
            )
    return None


def _unique_ids(items: list[IngestItem]) -> list[IngestItem]:
    seen: dict[str, int] = {}
    result = []
    for item in items:
        count = seen[item.source.id] = seen.get(item.source.id, 0) + 1
        if count > 1:
            suffix = hashlib.sha256(str(item.path).encode()).hexdigest()[:6]
            item = IngestItem(item.path, _with_id(item.source, f"{item.source.id}-{suffix}"))
        result.append(item)
    return result


def _with_id(source: Source, new_id: str) -> Source:
    values = source.to_dict()
    values["id"] = new_id
    return Source(**values)


# --- ingest ------------------------------------------------------------------------------

def _digest(path: Path, source: Source) -> str:
    """Changes when the file's bytes or its citation metadata change."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    hasher.update(json.dumps(source.to_dict(), sort_keys=True).encode())
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
            report.failed.append(("(nothing)", "no documents to ingest: run levelup fetch, or name files or folders"))
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
                digests[item.source.id] = _digest(item.path, item.source)
            except OSError as exc:
                report.failed.append((str(item.path), f"cannot be read ({exc.strerror or exc})"))
        items = [i for i in items if i.source.id in digests]
        changed = [i for i in items if old_docs.get(i.source.id) is None or old_docs[i.source.id].digest != digests[i.source.id]]
        removed = [doc_id for doc_id in old_docs if prune and doc_id not in named]
        report.unchanged = [i.source.id for i in items if i not in changed]
        if not changed and not removed:
            report.passages = sum(d.passages for d in old_docs.values())
            report.seconds = time.perf_counter() - started
            return report
        _build(store, previous, old_docs, changed, removed, digests, report, settings,
               embedder or get_embedder(settings), progress)
    report.seconds = time.perf_counter() - started
    return report


def _build(store: Store, previous, old_docs: dict[str, IndexedDocument], changed: list[IngestItem],  # type: ignore[no-untyped-def]
           removed: list[str], digests: dict[str, str], report: IngestReport, settings: Settings,
           embedder: Embedder, progress: bool) -> None:
    """Load and chunk what changed, reuse everything else, embed what is new, publish."""
    old_chunks: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
    known_vectors: dict[str, np.ndarray] = {}
    if previous is not None:
        for chunk, vector in previous.iter_records(embeddings=True):
            old_chunks.setdefault(chunk.doc_id, []).append((chunk, vector))
            known_vectors[chunk.digest] = vector

    documents: dict[str, IndexedDocument] = {d: old_docs[d] for d in old_docs if d not in removed}
    new_chunks: dict[str, list[Chunk]] = {}
    changed_ids = {i.source.id for i in changed}
    seen_content = {d.content_digest: d.id for d in documents.values() if d.id not in changed_ids}
    read_started = time.perf_counter()
    bar = tqdm(changed, desc="Reading", unit="doc", disable=not progress, leave=False)
    for item in bar:
        bar.set_postfix_str(item.path.name[-40:])
        try:
            document = load_document(item.path, item.source)
        except DocumentError as exc:
            report.failed.append((str(item.path), exc.reason))
            continue
        content_key = hashlib.sha256(document.text.encode()).hexdigest()
        if content_key in seen_content and seen_content[content_key] != document.id:
            report.warnings.append(f"{item.path}: same text as {seen_content[content_key]}; indexed once")
            continue
        seen_content[content_key] = document.id
        report.warnings.extend(f"{item.path}: {w}" for w in document.warnings)
        chunks = chunk_document(document, embedder.count_tokens, settings)
        new_chunks[document.id] = chunks
        report.pages += len(document.pages)
        (report.updated if item.source.id in old_docs else report.added).append(item.source.id)
        documents[document.id] = IndexedDocument(
            id=document.id, title=document.source.title, file=item.source.file, digest=digests[document.id],
            passages=len(chunks), pages=len(document.pages), content_digest=content_key)
    report.removed = removed
    report.read_seconds = time.perf_counter() - read_started
    if not new_chunks and not removed:
        return  # every changed file failed: keep serving the previous generation as it is

    final: list[Chunk] = []
    vectors: dict[str, np.ndarray] = {}
    for doc_id in documents:
        if doc_id in new_chunks:
            final.extend(new_chunks[doc_id])
        else:
            for chunk, vector in old_chunks.get(doc_id, []):
                final.append(chunk)
                vectors[chunk.id] = vector
    final = link_near_duplicates(final)

    to_embed = [c for c in final if c.id not in vectors and c.digest not in known_vectors]
    for chunk in final:
        if chunk.id not in vectors and chunk.digest in known_vectors:
            vectors[chunk.id] = known_vectors[chunk.digest]
            report.reused += 1
    embed_started = time.perf_counter()
    step = settings.embedding_batch_size * 4
    with tqdm(total=len(to_embed), desc="Embedding", unit="passage", disable=not progress, leave=False) as bar:
        for start in range(0, len(to_embed), step):
            batch = to_embed[start:start + step]
            for chunk, vector in zip(batch, embedder.embed_documents([c.embed_text for c in batch])):
                vectors[chunk.id] = vector
            bar.update(len(batch))
    report.embed_seconds = time.perf_counter() - embed_started
    report.embedded = len(to_embed)
    report.passages = len(final)

    write_started = time.perf_counter()
    generation = store.create()
    try:
        generation.add(final, np.stack([vectors[c.id] for c in final]) if final else np.zeros((0, 1)))
        store.publish(generation, {
            "model": settings.embedding_model,
            "index_key": store.key,
            "documents": json.dumps([asdict(d) for d in documents.values()], ensure_ascii=False),
        })
    except BaseException:
        store.discard(generation)
        raise
    report.generation = generation.name
    store.clean()
    report.write_seconds = time.perf_counter() - write_started


def status(settings: Settings | None = None) -> IndexInfo:
    """What the serving index holds; ``IndexNotFoundError`` when nothing is built yet."""
    settings = get_settings(settings)
    store = Store(settings)
    return store.open().info(store.key)

