"""``Assistant``: the object the CLI, the app and the API talk to.

It builds the stages from one ``Settings`` (embedder, store, gazetteer), keeps the expensive
ones loaded between calls (the model, the passages, the word index and sentence vectors of
the serving generation, the place lookups), and notices when an ingest publishes a new
generation, so a long-running app serves the new index without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .answer import compose
from .eligibility import PlaceContext, expand_for_places, is_about_place, place_context
from .embed import Embedder, get_embedder
from .errors import ConfigurationError, QueryError
from .guard import route
from .index import ingest, status
from .lists import follow_lists
from .models import Answer, Hit, IndexInfo, IngestReport, Query, SearchResult
from .places import Gazetteer
from .places_load import WD23, load_gazetteer
from .query import prepare_query, question_parts, standalone
from .retrieve import DEFAULT_MODE, MODES, Filters, RetrievalConfig, SearchIndex, collapse_duplicates, search
from .sentences import PASSAGES, rerank
from .settings import Settings, get_settings
from .store import Store


class Assistant:
    """Answers and search over the index the settings describe.

        assistant = Assistant()
        answer = assistant.ask("How much is the UKSPF worth?")
        follow_up = assistant.ask("and who runs it?", history=["How much is the UKSPF worth?"])
        local = assistant.ask("we're a business in Bolton - what applies to us?")
        result = assistant.search("Innovation Accelerators", k=5, place="Salford")
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = get_settings(settings)
        self.embedder = embedder or get_embedder(self.settings)
        self.store = Store(self.settings)
        self._index: SearchIndex | None = None
        self._gazetteer: Gazetteer | None | bool = False  # False: not looked for yet

    def index(self) -> SearchIndex:
        """The serving generation, re-opened when an ingest has published a newer one."""
        current = self.store.current_name()
        if self._index is None or self._index.generation.name != current:
            generation = self.store.open(current)
            self._index = SearchIndex.open(generation, self.store.lexical_path(generation.name))
        return self._index

    def gazetteer(self) -> Gazetteer | None:
        """The ONS place lookups, when fetched (`levelup fetch`); None without them: places are then
        searched as words only."""
        if self._gazetteer is False:
            folder = self.settings.datasets_dir
            try:
                self._gazetteer = load_gazetteer(folder) if (folder / WD23).is_file() else None
            except (ConfigurationError, OSError):
                self._gazetteer = None
        return self._gazetteer or None

    def ingest(self, paths: Sequence[Path] | None = None, *, progress: bool = True, prune: bool = False) -> IngestReport:
        return ingest(paths, settings=self.settings, embedder=self.embedder, progress=progress, prune=prune)

    def status(self) -> IndexInfo:
        return status(self.settings)

    def _understand(self, question: object, history: Sequence[str], place: str | None,
                    config: RetrievalConfig) -> tuple[Query, PlaceContext]:
        query = standalone(prepare_query(question, self.settings), history)
        context = place_context(query.text, self.gazetteer(), place) if config.places else PlaceContext()
        return expand_for_places(query, context), context

    def search(self, question: object, k: int | None = None, *, filters: Filters = Filters(),
               history: Sequence[str] = (), mode: str | RetrievalConfig = DEFAULT_MODE,
               place: str | None = None) -> SearchResult:
        """The passages that best answer ``question`` (a follow-up is read in the light of ``history``).

        A place in the question (or ``place``) widens the search to the areas that contain it, and a
        passage found for one of them says so in its reasons.
        """
        config = MODES[mode] if isinstance(mode, str) else mode
        k = k or self.settings.search_k
        query, context = self._understand(question, history, place, config)
        if config.sentence_rerank:
            pool = config.rerank_pool * (2 if config.parts_pool and question_parts(query.text) else 1)
            query, hits = search(self.index(), self.embedder, query, max(pool, k), filters,
                                 replace(config, collapse=False))
            hits = rerank(self.index(), self.embedder, query, hits, config.sentence_rerank, context.areas,
                          beside_name=config.rerank_beside_name)
            if config.follow_lists:
                hits = follow_lists(hits, query.text, self.index().next_chunk)
            hits = (collapse_duplicates(hits, self.index()) if config.collapse else hits)[:k]
        else:
            query, hits = search(self.index(), self.embedder, query, k, filters, config)
        return SearchResult(query=query, hits=tuple(_with_place_reasons(hits, context)))

    def ask(self, question: object, *, history: Sequence[str] = (), filters: Filters = Filters(),
            place: str | None = None) -> Answer:
        """A short answer from the documents, every sentence quoted and cited, or an honest abstention.

        Raises ``QueryError`` for a question that is empty or not text; everything else
        (personal data, a postcode, a question too long, instructions, small talk) gets an
        ``Answer`` that says why it is not answered from the documents.
        """
        started = time.perf_counter()
        if not isinstance(question, str):
            raise QueryError(f"The question must be text, not {type(question).__name__}.")
        fixed = route(question.strip(), self.settings)
        private = fixed is not None and fixed.reason in {"personal_data", "postcode"}
        if not private:
            prepare_query(question, self.settings)  # empty or symbols only: QueryError
        if fixed is not None:
            return Answer(question="" if private else question.strip(), text=fixed.reply, abstained=True,
                          reason=fixed.reason, kind=fixed.kind, latency_ms=(time.perf_counter() - started) * 1000)
        # Both renderings of a passage are kept here: the composer drops repeated sentences itself, and
        # cites the second rendering of a sentence beside the first.
        config = replace(MODES[DEFAULT_MODE], collapse=False)
        query, context = self._understand(question, history, place, config)
        query, hits = search(self.index(), self.embedder, query, PASSAGES * 2, filters, config, for_answer=True)
        if context.found and is_about_place(query.text):
            hits = [*hits, *self._local_hits(context, hits, filters, config)]
        hits = _with_place_reasons(hits, context)
        answer = compose(self.index(), self.embedder, query, hits, self.settings, context, self.gazetteer())
        return replace(answer, latency_ms=(time.perf_counter() - started) * 1000)


    def _local_hits(self, context: PlaceContext, hits: Sequence[Hit], filters: Filters,
                    config: RetrievalConfig) -> list[Hit]:
        """Passages about the user's own areas ("Greater Manchester"), for "what applies to us?" questions
        whose wording alone finds only what applies everywhere."""
        areas = "; ".join(context.areas[1:4]) or context.areas[0]
        seen = {h.chunk.id for h in hits}
        _, local = search(self.index(), self.embedder, Query(areas), 4, filters, replace(config, expand=False))
        return [h for h in local if h.chunk.id not in seen]


def _with_place_reasons(hits: Sequence[Hit], context: PlaceContext) -> list[Hit]:
    """Say why a passage was found for a place: "mentions Greater Manchester, which contains Salford"."""
    if not context.found:
        return list(hits)
    place = context.places[0].name
    out = []
    for hit in hits:
        text = hit.chunk.text.lower()
        area = next((a for a in context.areas[1:] if a.lower() in text), None)
        if area is not None:
            hit = replace(hit, reasons=(*hit.reasons, f"mentions {area}, which contains {place}"))
        out.append(hit)
    return out
