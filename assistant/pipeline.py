"""``Assistant``: the object the CLI, the app and the API talk to.

It builds the stages from one ``Settings`` (embedder, store), keeps the expensive ones
loaded between calls (the model, the passages and the word index of the serving
generation), and notices when an ingest publishes a new generation, so a long-running app
serves the new index without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .embed import Embedder, get_embedder
from .index import ingest, status
from .models import IndexInfo, IngestReport, SearchResult
from .query import prepare_query, standalone
from .retrieve import DEFAULT_MODE, MODES, Filters, RetrievalConfig, SearchIndex, search
from .settings import Settings, get_settings
from .store import Store


class Assistant:
    """Search (and, later, answer) over the index the settings describe.

        assistant = Assistant()
        result = assistant.search("How much is the UKSPF worth?")
        follow_up = assistant.search("and who runs it?", history=["How much is the UKSPF worth?"])
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = get_settings(settings)
        self.embedder = embedder or get_embedder(self.settings)
        self.store = Store(self.settings)
        self._index: SearchIndex | None = None

    def index(self) -> SearchIndex:
        """The serving generation, re-opened when an ingest has published a newer one."""
        current = self.store.current_name()
        if self._index is None or self._index.generation.name != current:
            generation = self.store.open(current)
            self._index = SearchIndex.open(generation, self.store.lexical_path(generation.name))
        return self._index

    def ingest(self, paths: Sequence[Path] | None = None, *, progress: bool = True, prune: bool = False) -> IngestReport:
        return ingest(paths, settings=self.settings, embedder=self.embedder, progress=progress, prune=prune)

    def status(self) -> IndexInfo:
        return status(self.settings)

    def search(self, question: object, k: int | None = None, *, filters: Filters = Filters(),
               history: Sequence[str] = (), mode: str | RetrievalConfig = DEFAULT_MODE) -> SearchResult:
        """The passages that best answer ``question`` (a follow-up is read in the light of ``history``)."""
        query = standalone(prepare_query(question, self.settings), history)
        config = MODES[mode] if isinstance(mode, str) else mode
        query, hits = search(self.index(), self.embedder, query, k or self.settings.search_k, filters, config)
        return SearchResult(query=query, hits=tuple(hits))
