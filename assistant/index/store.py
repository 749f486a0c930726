"""The Chroma index, in generations: readers use the published one, an ingest builds the next.

This is the only module that imports chromadb. An ingest never writes to the generation
that is serving: it builds a complete new one, marks it complete, and only then moves the
``current`` pointer to it (an atomic file rename, or one metadata update on a server).
A build that is interrupted (Ctrl-C, ``kill -9``, a full disk) therefore leaves the previous
index serving untouched; the next ingest clears the half-built generation away.

Layouts:
    embedded (default)  index/<index_key>/<generation>/chroma/   one PersistentClient folder each
                        index/<index_key>/CURRENT                 name of the serving generation
    server              collection <prefix>-<index_key>-<generation> per generation, and
                        collection <prefix>-<index_key>-current whose metadata names the serving one
Vectors are always passed explicitly: Chroma's default embedding function (which downloads a
model) is never used.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import (
    ConfigurationError,
    IndexBusyError,
    IndexNotFoundError,
    IndexWriteError,
    StoreUnavailableError,
)
from ..models import Chunk, IndexedDocument, IndexInfo, Source
from ..settings import Settings, get_settings
from . import lexical

_SOURCE_FIELDS = ("title", "publisher", "published", "licence", "file", "url", "download_url", "kind",
                  "relation")
_PAGE = 500  # records per read/write call: well under Chroma's batch limit


def _chroma_settings():  # type: ignore[no-untyped-def]
    from chromadb.config import Settings as ChromaSettings

    # One settings object for every client: Chroma refuses two clients of one folder with different settings.
    return ChromaSettings(anonymized_telemetry=False)


# --- chunk <-> Chroma record -------------------------------------------------------------

def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """Everything needed to rebuild the Chunk (and cite it) without another lookup."""
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "digest": chunk.digest,
        "heading_path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
        "page_start": chunk.page_start if chunk.page_start is not None else -1,
        "page_end": chunk.page_end if chunk.page_end is not None else -1,
        "page_label": chunk.page_label or "",
        "dup_group": chunk.dup_group or "",
        "page_breaks": json.dumps(chunk.page_breaks),
    }
    for name in _SOURCE_FIELDS:
        value = getattr(chunk.source, name)
        meta[f"source_{name}"] = "" if value is None else value
    return meta


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    values = {name: meta.get(f"source_{name}", "") for name in _SOURCE_FIELDS}
    source = Source(id=meta["doc_id"], **{**values, "url": values["url"] or None,
                                          "download_url": values["download_url"] or None})
    page_start, page_end = meta.get("page_start", -1), meta.get("page_end", -1)
    return Chunk(
        id=chunk_id, digest=meta["digest"], doc_id=meta["doc_id"], source=source, text=text,
        heading_path=tuple(json.loads(meta.get("heading_path") or "[]")),
        page_start=None if page_start < 0 else page_start, page_end=None if page_end < 0 else page_end,
        page_label=meta.get("page_label") or None, start=meta["start"], end=meta["end"],
        dup_group=meta.get("dup_group") or None,
        page_breaks=tuple((int(o), int(n), str(label))
                          for o, n, label in json.loads(meta.get("page_breaks") or "[]")),
    )


# --- a generation: one complete, immutable index -----------------------------------------

@dataclass
class Generation:
    """A published (or being-built) index: the passages collection, with its description, and the
    vectors of the passages' sentences (what answers quote) in a second collection."""

    name: str
    collection: Any  # chromadb Collection of passages
    sentences: Any  # chromadb Collection of sentence vectors: id "<chunk id>#<start>-<end>"
    location: str
    _count: int | None = None

    def info(self, key: str) -> IndexInfo:
        meta = self.collection.metadata or {}
        documents = tuple(IndexedDocument(**d) for d in json.loads(meta.get("documents", "[]")))
        return IndexInfo(key=key, generation=self.name, location=self.location, model=meta.get("model", "?"),
                         built_at=meta.get("built_at", "?"), documents=documents)

    def count(self) -> int:
        """Passages in the generation (fixed once published, so asked once)."""
        if self._count is None:
            self._count = int(self.collection.count())
        return self._count

    def iter_records(self, embeddings: bool = False) -> Iterator[tuple[Chunk, np.ndarray | None]]:
        """Every passage (and its vector), in pages, so a large index never loads at once."""
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        offset = 0
        while True:
            batch = self.collection.get(include=include, limit=_PAGE, offset=offset)
            ids = batch["ids"]
            if not ids:
                return
            vectors = batch.get("embeddings") if embeddings else None
            for i, chunk_id in enumerate(ids):
                chunk = chunk_from_record(chunk_id, batch["documents"][i], batch["metadatas"][i])
                yield chunk, (np.asarray(vectors[i], dtype=np.float32) if vectors is not None else None)
            offset += len(ids)

    def nearest(self, vector: np.ndarray, k: int,
                where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` passages nearest ``vector`` (no text: callers hold it)."""
        k = min(k, self.count())
        if k <= 0:
            return []
        result = self.collection.query(query_embeddings=[vector.tolist()], n_results=k, where=where or None,
                                       include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        batch = self.collection.get(ids=list(ids), include=["embeddings"])
        return {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(batch["ids"], batch["embeddings"])}

    def add_sentences(self, spans: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> None:
        """Store the vectors of sentences, given as (chunk id, start, end) within the passage text."""
        with self._writing():
            for start in range(0, len(spans), _PAGE):
                part = spans[start:start + _PAGE]
                self.sentences.add(ids=[f"{c}#{a}-{b}" for c, a, b in part],
                                   metadatas=[{"chunk_id": c, "start": a, "end": b} for c, a, b in part],
                                   embeddings=vectors[start:start + _PAGE])

    def iter_sentences(self) -> Iterator[tuple[str, int, int, np.ndarray]]:
        """Every stored sentence vector as (chunk id, start, end, vector), in pages."""
        offset = 0
        while True:
            batch = self.sentences.get(include=["metadatas", "embeddings"], limit=_PAGE, offset=offset)
            if not batch["ids"]:
                return
            for meta, vector in zip(batch["metadatas"], batch["embeddings"]):
                yield (meta["chunk_id"], int(meta["start"]), int(meta["end"]),
                       np.asarray(vector, dtype=np.float32))
            offset += len(batch["ids"])

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Rewrite the stored metadata of passages already added (their text and vector stay)."""
        with self._writing():
            for start in range(0, len(chunks), _PAGE):
                part = chunks[start:start + _PAGE]
                self.collection.update(ids=[c.id for c in part], metadatas=[chunk_metadata(c) for c in part])

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write passages and their vectors; a failure (full disk) becomes ``IndexWriteError``."""
        self._count = None
        with self._writing():
            for start in range(0, len(chunks), _PAGE):
                part = chunks[start:start + _PAGE]
                self.collection.add(ids=[c.id for c in part], documents=[c.text for c in part],
                                    metadatas=[chunk_metadata(c) for c in part],
                                    embeddings=vectors[start:start + _PAGE])

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write (a full disk) becomes ``IndexWriteError``; what serves is another generation."""
        try:
            yield
        except Exception as exc:
            raise IndexWriteError(f"Cannot write the new index at {self.location}: {exc}. Free disk space or "
                                  "make the folder writable; the previous index is still serving.") from exc


# --- the store ---------------------------------------------------------------------------

def _write_error(store: Store, action: str, exc: BaseException) -> IndexWriteError:
    reason = getattr(exc, "strerror", None) or str(exc)
    where = store.settings.chroma_url or str(store.home)
    return IndexWriteError(f"Cannot {action} in {where}: {reason}. Free disk space or make the folder "
                           "writable (or set LEVELUP_INDEX_DIR); the previous index is still serving.")


class Store:
    """Where the index for the current settings lives, embedded or on a Chroma server."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = get_settings(settings)
        self.key = self.settings.index_key()
        self.home = self.settings.index_dir / self.key  # pointer and lock (embedded), lock (server)
        self._server = None

    # -- clients --
    @property
    def remote(self) -> bool:
        return self.settings.chroma_url is not None

    def _server_client(self):  # type: ignore[no-untyped-def]
        if self._server is None:
            import chromadb

            url = urlparse(self.settings.chroma_url)
            try:
                client = chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                             ssl=url.scheme == "https", settings=_chroma_settings())
                client.heartbeat()
            except Exception as exc:
                raise StoreUnavailableError(
                    f"Cannot reach the Chroma server at {self.settings.chroma_url} ({exc}). Start it with: "
                    f"chroma run --path index/server --host {url.hostname} --port {url.port or 8000}, "
                    "or unset LEVELUP_CHROMA_URL to use the embedded index."
                ) from exc
            self._server = client
        return self._server

    def _embedded_client(self, generation: str):  # type: ignore[no-untyped-def]
        import chromadb

        path = self.home / generation / "chroma"
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())

    def _collection_name(self, generation: str) -> str:
        return f"{self.settings.collection_prefix}-{self.key}-{generation}"

    def _sentences_name(self, generation: str) -> str:
        return f"{self.settings.collection_prefix}-{self.key}-sentences-{generation}"

    def files(self, generation: str) -> Path:
        """Where a generation's own files live (its BM25 index, its sentence vectors as an array):
        its folder, or (server mode) a local cache folder per generation."""
        if self.remote:
            return self.home / "cache" / generation
        return self.home / generation

    def lexical_path(self, generation: str) -> Path:
        """The BM25 index of a generation, among its files."""
        return self.files(generation) / lexical.FILE

    @property
    def _pointer_name(self) -> str:
        return f"{self.settings.collection_prefix}-{self.key}-current"

    # -- reading --
    def current_name(self) -> str | None:
        """Name of the serving generation, or None when nothing has been published."""
        if self.remote:
            client = self._server_client()
            try:
                pointer = client.get_collection(self._pointer_name)
            except Exception:
                return None
            return (pointer.metadata or {}).get("current")
        try:
            return (self.home / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None
        except OSError as exc:  # LEVELUP_INDEX_DIR names a file, or a folder that cannot be read
            raise ConfigurationError(self._unusable_home(exc)) from exc

    def _unusable_home(self, exc: OSError) -> str:
        if isinstance(exc, NotADirectoryError):
            blocker = next((p for p in [self.home, *self.home.parents] if p.exists() and not p.is_dir()),
                           self.settings.index_dir)
            return (f"The index folder {self.settings.index_dir} cannot be used: {blocker} is a file, not a "
                    "folder. Set LEVELUP_INDEX_DIR to a folder (it is created if missing), or move the file.")
        return (f"Cannot read the index folder {self.home}: {exc.strerror or exc}. Make it readable or set "
                "LEVELUP_INDEX_DIR to another folder.")

    def serving_names(self) -> list[str]:
        """The generations a reader may serve, best first: the one the pointer names when it is
        complete, then the other complete ones, newest first.

        The pointer can name a generation that is gone (deleted by hand, a restored backup): then
        the newest complete one left serves, so a broken pointer never empties what is served."""
        current = self.current_name()
        complete = sorted((n for n in self._generation_names() if self._is_complete(n)), reverse=True)
        return [current] if current in complete else complete

    def open_serving(self, names: Sequence[str] | None = None) -> Generation:
        """The generation readers use (``names``, as ``serving_names`` gives them, when the caller has them
        already); ``IndexNotFoundError`` when none opens."""
        failures = []
        for name in self.serving_names() if names is None else names:
            try:
                return self.open(name)
            except IndexNotFoundError as exc:
                failures.append(str(exc))
        if failures:
            raise IndexNotFoundError(failures[0])
        return self.open()  # nothing complete: the pointer's own message (or "build it with")

    def open(self, name: str | None = None) -> Generation:
        """The serving generation (or the named one); ``IndexNotFoundError`` when there is none."""
        name = name or self.current_name()
        if name is None:
            where = self.settings.chroma_url or str(self.home)
            raise IndexNotFoundError(
                f"No index at {where} for the current settings (model {self.settings.embedding_model}). "
                "Build it with: levelup ingest"
            )
        try:
            if self.remote:
                client = self._server_client()
                collection = client.get_collection(self._collection_name(name))
                sentences = client.get_collection(self._sentences_name(name))
                location = f"{self.settings.chroma_url} collection {collection.name}"
            else:
                if not (self.home / name / "chroma").is_dir():  # deleted: a cached client would still answer
                    raise IndexNotFoundError(f"The index generation {name} is missing from {self.home}. "
                                             "Rebuild it with: levelup ingest")
                client = self._embedded_client(name)
                collection, sentences = client.get_collection("passages"), client.get_collection("sentences")
                location = str(self.home / name)
        except (IndexNotFoundError, StoreUnavailableError):
            raise
        except Exception as exc:
            raise IndexNotFoundError(
                f"The index generation {name} cannot be opened ({exc}). Rebuild it with: levelup ingest"
            ) from exc
        return Generation(name, collection, sentences, location)

    # -- writing --
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the ingest lock: a second ingest refuses at once instead of racing the first.

        An OS lock (flock) on index/<key>/ingest.lock: it is released by the kernel when the
        holder dies, so a killed ingest never leaves a stale lock behind.
        """
        path = self.home / "ingest.lock"
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexWriteError(f"Cannot write the index folder {self.home}: {exc.strerror or exc}. "
                                  "Make it writable or set LEVELUP_INDEX_DIR to another folder.") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                raise IndexBusyError(f"Another ingest is running ({holder}) on {self.home}. "
                                     "Wait for it to finish, then run levelup ingest again.") from exc
            try:  # who holds the lock, for the message a second ingest shows
                note = f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
                os.ftruncate(fd, 0)
                os.pwrite(fd, note.encode(), 0)
            except OSError as exc:
                raise IndexWriteError(f"Cannot write the index folder {self.home}: {exc.strerror or exc}. "
                                      "Free disk space or make the folder writable.") from exc
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def create(self) -> Generation:
        """A new, empty generation to build into. Call ``publish`` or ``discard`` after."""
        name = f"g{datetime.now(UTC):%Y%m%d%H%M%S%f}-{uuid.uuid4().hex[:6]}"  # sorts by when it was begun
        configuration = {"hnsw": {"space": "cosine"}}
        try:
            if self.remote:
                client = self._server_client()
                collection = client.create_collection(
                    self._collection_name(name), embedding_function=None, configuration=configuration)
                sentences = client.create_collection(
                    self._sentences_name(name), embedding_function=None, configuration=configuration)
                location = f"{self.settings.chroma_url} collection {collection.name}"
            else:
                (self.home / name).mkdir(parents=True)
                client = self._embedded_client(name)
                collection = client.create_collection("passages", embedding_function=None,
                                                      configuration=configuration)
                sentences = client.create_collection("sentences", embedding_function=None,
                                                     configuration=configuration)
                location = str(self.home / name)
        except StoreUnavailableError:
            raise
        except Exception as exc:  # OSError, or Chroma's own "disk I/O error"
            raise _write_error(self, "create a new index", exc) from exc
        return Generation(name, collection, sentences, location)

    def publish(self, generation: Generation, info: dict[str, Any]) -> None:
        """Record what the generation holds, then make it the serving one in one atomic step."""
        meta = {**info, "complete": True, "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            generation.collection.modify(metadata={k: v for k, v in meta.items() if v is not None})
            if self.remote:
                client = self._server_client()
                pointer = client.get_or_create_collection(self._pointer_name, embedding_function=None)
                pointer.modify(metadata={"current": generation.name})
            else:
                (self.home / generation.name / "COMPLETE").write_text(meta["built_at"])
                tmp = self.home / f"CURRENT.{os.getpid()}.tmp"
                tmp.write_text(generation.name)
                with open(tmp) as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, self.home / "CURRENT")
        except Exception as exc:
            raise _write_error(self, "publish the new index", exc) from exc

    def discard(self, generation: Generation) -> None:
        """Throw away a generation that was never published."""
        self._delete(generation.name)

    def clean(self) -> None:
        """Delete half-built generations and all but the newest ``keep_generations`` complete ones.

        Call while holding the lock: then no other process is building.
        """
        current = self.current_name()
        complete, partial = [], []
        for name in self._generation_names():
            (complete if self._is_complete(name) else partial).append(name)
        spares = [n for n in sorted(complete, reverse=True)
                  if n != current][: self.settings.keep_generations - 1]
        for name in complete + partial:
            if name != current and name not in spares:
                self._delete(name)

    def _generation_names(self) -> list[str]:
        if self.remote:
            prefix = f"{self.settings.collection_prefix}-{self.key}-g"
            return [c.name[len(prefix) - 1:] for c in self._server_client().list_collections()
                    if c.name.startswith(prefix)]
        try:
            return [p.name for p in self.home.iterdir() if p.is_dir() and p.name.startswith("g")]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigurationError(self._unusable_home(exc)) from exc

    def _is_complete(self, name: str) -> bool:
        if self.remote:
            try:
                collection = self._server_client().get_collection(self._collection_name(name))
            except StoreUnavailableError:
                raise
            except Exception:  # deleted meanwhile
                return False
            return bool((collection.metadata or {}).get("complete"))
        return (self.home / name / "COMPLETE").is_file()

    def _delete(self, name: str) -> None:
        if self.remote:
            for collection in (self._collection_name(name), self._sentences_name(name)):
                with suppress(Exception):  # already gone
                    self._server_client().delete_collection(collection)
            shutil.rmtree(self.files(name), ignore_errors=True)
            return
        self._release_embedded(name)
        shutil.rmtree(self.home / name, ignore_errors=True)

    def _release_embedded(self, name: str) -> None:
        """Drop Chroma's cached client for a folder before deleting it."""
        try:
            from chromadb.api.shared_system_client import SharedSystemClient

            path = str(self.home / name / "chroma")
            system = SharedSystemClient._identifier_to_system.pop(path, None)
            if system is not None:
                system.stop()
        except Exception:
            pass
