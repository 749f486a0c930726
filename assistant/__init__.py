"""Levelling Up Assistant: cited answers from the Levelling Up White Paper and related texts.

    from assistant import Assistant
    result = Assistant().search("How much is the UK Shared Prosperity Fund worth?")

Everything public is listed in ``__all__``; other names are internal and may change.
"""

from .errors import (
    AssistantError,
    ConfigurationError,
    DocumentError,
    IndexBusyError,
    IndexNotFoundError,
    IndexWriteError,
    IngestTooLargeError,
    ModelLoadError,
    QueryError,
    SourceError,
    StoreUnavailableError,
)
from .ingest import ingest, status
from .ingest.sources import FetchReport, Manifest, fetch, load_manifest
from .models import (
    Answer,
    Chunk,
    Citation,
    Document,
    Filters,
    Heading,
    Hit,
    IndexedDocument,
    IndexInfo,
    IngestReport,
    Page,
    Query,
    SearchResult,
    Source,
)
from .pipeline import Assistant
from .retrieval.browse import Listing, Row
from .settings import Settings, get_settings
from .topics import Label, Topic

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Chunk",
    "Citation",
    "ConfigurationError",
    "Document",
    "DocumentError",
    "FetchReport",
    "Filters",
    "Heading",
    "Hit",
    "IndexBusyError",
    "IndexInfo",
    "IndexNotFoundError",
    "IndexWriteError",
    "IndexedDocument",
    "IngestReport",
    "IngestTooLargeError",
    "Label",
    "Listing",
    "Manifest",
    "ModelLoadError",
    "Page",
    "Query",
    "QueryError",
    "Row",
    "SearchResult",
    "Settings",
    "Source",
    "SourceError",
    "StoreUnavailableError",
    "Topic",
    "fetch",
    "get_settings",
    "ingest",
    "load_manifest",
    "status",
]
