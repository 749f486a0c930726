"""``Assistant``: the object the CLI, the app and the API talk to.

It builds the stages from one ``Settings`` (embedder, store), keeps the expensive ones
loaded between calls (the model, the passages and the word index of the serving
generation), and notices when an ingest publishes a new generation, so a long-running app
serves the new index without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import time
from dataclasses import replace

from .answer import PASSAGES, compose
from .embed import Embedder, get_embedder
from .errors import QueryError
from .guard import route
from .index import ingest, status
from .models import Answer, IndexInfo, IngestReport, SearchResult
from .query import prepare_query, standalone
from .retrieve import DEFAULT_MODE, MODES, Filters, RetrievalConfig, SearchIndex, search
from .settings import Settings, get_settings
from .store import Store


class Assistant:
    """Answers and search over the index the settings describe.

        assistant = Assistant()
        answer = assistant.ask("How much is the UKSPF worth?")
        follow_up = assistant.ask("and who runs it?", history=["How much is the UKSPF worth?"])
        result = assistant.search("Innovation Accelerators", k=5)
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

    def ask(self, question: object, *, history: Sequence[str] = (), filters: Filters = Filters()) -> Answer:
        """A short answer from the documents, every sentence quoted and cited, or an honest abstention.

        Raises ``QueryError`` for a question that is empty or not text; everything else
        (personal data, a question too long, instructions, small talk) gets an ``Answer`` that
        says why it is not answered from the documents.
        """
        started = time.perf_counter()
        if not isinstance(question, str):
            raise QueryError(f"The question must be text, not {type(question).__name__}.")
        fixed = route(question.strip(), self.settings)
        if fixed is None or fixed.reason != "personal_data":
            query = prepare_query(question, self.settings)  # empty or symbols only: QueryError
        if fixed is not None:
            return Answer(question="" if fixed.reason == "personal_data" else query.text, text=fixed.reply,
                          abstained=True, reason=fixed.reason, kind=fixed.kind,
                          latency_ms=(time.perf_counter() - started) * 1000)
        query = standalone(query, history)
        # Both renderings of a passage are kept here: the composer drops repeated sentences itself, and
        # cites the second rendering of a sentence beside the first.
        config = replace(MODES[DEFAULT_MODE], collapse=False)
        query, hits = search(self.index(), self.embedder, query, PASSAGES * 2, filters, config)
        answer = compose(self.index(), self.embedder, query, hits, self.settings)
        return replace(answer, latency_ms=(time.perf_counter() - started) * 1000)
