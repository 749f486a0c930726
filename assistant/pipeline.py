"""``Assistant``: the object the CLI, the app and the API talk to.

It builds the stages from one ``Settings`` (embedder, store), keeps the expensive ones
loaded between calls, and notices when an ingest publishes a new index generation so a
long-running app serves the new index without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .embed import Embedder, get_embedder
from .index import ingest, status
from .models import IndexInfo, IngestReport
from .retrieve import SearchResult, dense_search, prepare_query
from .settings import Settings, get_settings
from .store import Generation, Store


class Assistant:
    """Search (and, later, answer) over the index the settings describe.

        assistant = Assistant()
        result = assistant.search("How much is the UKSPF worth?")
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = get_settings(settings)
        self.embedder = embedder or get_embedder(self.settings)
        self.store = Store(self.settings)
        self._generation: Generation | None = None

    def generation(self) -> Generation:
        """The serving generation, re-opened when an ingest has published a newer one."""
        current = self.store.current_name()
        if self._generation is None or self._generation.name != current:
            self._generation = self.store.open(current)
        return self._generation

    def ingest(self, paths: Sequence[Path] | None = None, *, progress: bool = True, prune: bool = False) -> IngestReport:
        return ingest(paths, settings=self.settings, embedder=self.embedder, progress=progress, prune=prune)

    def status(self) -> IndexInfo:
        return status(self.settings)

    def search(self, question: object, k: int | None = None) -> SearchResult:
        query = prepare_query(question, self.settings)
        k = k or self.settings.search_k
        hits = dense_search(self.generation(), self.embedder, query, k)
        return SearchResult(query=query, hits=tuple(hits), notes=query.notes)
