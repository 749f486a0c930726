"""Every error the assistant raises on purpose.

Each message says what happened, to which input, and what to do next, so the CLI, the app
and the API can show it as it is, never a traceback::

    AssistantError
    ├── ConfigurationError      a setting is missing or wrong
    ├── SourceError             a source could not be fetched (network, checksum, mirror)
    ├── DocumentError           a file could not be read as a document (broken PDF, empty, ...)
    ├── IndexNotFoundError      nothing is indexed yet for the current settings
    ├── IndexBusyError          another ingest holds the index lock
    ├── IndexWriteError         the index folder cannot be written (read-only, disk full)
    ├── IngestTooLargeError     an ingest would embed more passages than the setting allows
    ├── StoreUnavailableError   the Chroma server does not answer
    ├── ModelLoadError          the embedding model cannot be loaded
    └── QueryError              the question cannot be searched (empty, unknown filter, ...)

Library code wraps third-party errors (pypdf, chromadb, OSError) at the boundary with
``raise ... from exc``.
"""

from __future__ import annotations

from pathlib import Path


class AssistantError(Exception):
    """Base class: catch this to show any assistant failure to a user."""


class ConfigurationError(AssistantError):
    """A setting is missing or has an unusable value."""


class SourceError(AssistantError):
    """A source in the manifest could not be fetched or verified."""

    def __init__(self, source_id: str, reason: str) -> None:
        self.source_id = source_id
        self.reason = reason
        super().__init__(f"{source_id}: {reason}")


class DocumentError(AssistantError):
    """A file could not be turned into a document; the rest of the corpus is unaffected."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class IndexNotFoundError(AssistantError):
    """No index has been built for the current settings."""


class IndexBusyError(AssistantError):
    """Another process is building the index right now."""


class IndexWriteError(AssistantError):
    """The index could not be written; the previous index is untouched."""


class IngestTooLargeError(AssistantError):
    """An ingest found more new passages than ``max_ingest_passages``; nothing was embedded."""


class StoreUnavailableError(AssistantError):
    """The vector store (a Chroma server) cannot be reached."""


class ModelLoadError(AssistantError):
    """The embedding model could not be loaded."""


class QueryError(AssistantError):
    """The question or its filters cannot be searched."""
