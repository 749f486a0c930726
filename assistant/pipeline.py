"""``Assistant``: the object the CLI, the app and the API talk to, and the one place that orders the stages.

Asking runs, in this order::

    guard -> understand -> embed -> retrieve -> gate (screen) -> score -> gate (weigh, expect)
          -> compose -> check (which quotes no publisher vouches for, which figures disagree)

(a question about a document itself is answered from its source record once understood; a request
for an opinion gets the guard's reply with the passages retrieval finds), and searching
``understand -> embed -> retrieve -> re-rank -> follow lists -> fold repeats``. Each stage is a
function of another module, handed what it needs; none calls the next one.

It builds the stages from one ``Settings`` (embedder, store, gazetteer, composer), keeps the
expensive ones loaded between calls (the model, the serving generation in memory, the place
lookups), and notices when an ingest publishes a new generation, so a long-running app serves
the new index without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .answers import gate
from .answers.composer import Composer, Evidence
from .answers.extractive import ExtractiveComposer
from .answers.facts import source_notes
from .answers.guard import Context, Route, check_request
from .answers.records import answer_from_records
from .answers.scoring import PASSAGES, best_by_passage, score_sentences, with_followers
from .embed import Embedder, get_embedder
from .errors import ConfigurationError, QueryError
from .events import Event, events_of
from .index.loaded import LoadedIndex
from .index.store import Store
from .ingest import ingest
from .models import Answer, Chunk, Filters, Hit, IndexInfo, IngestReport, PlaceContext, Query, SearchResult
from .places.gazetteer import Gazetteer
from .places.load import WD23, load_gazetteer
from .retrieval.browse import Listing, listing, rows_of
from .retrieval.follow_up import standalone
from .retrieval.modes import DEFAULT_MODE, MODES, RetrievalConfig
from .retrieval.names import DocumentNames
from .retrieval.query import prepare_query, read, understand
from .retrieval.rerank import collapse_duplicates, follow_lists, prefer_verified, rerank
from .retrieval.search import search
from .settings import Settings, get_settings
from .topics import Topic


@dataclass(frozen=True)
class _Serving:
    """The serving generation in memory, with the names of its documents: swapped as one."""

    index: LoadedIndex
    names: DocumentNames


class Assistant:
    """Answers and search over the index the settings describe.

        assistant = Assistant()
        answer = assistant.ask("How much is the UKSPF worth?")
        follow_up = assistant.ask("and who runs it?", history=["How much is the UKSPF worth?"])
        local = assistant.ask("we're a business in Bolton - what applies to us?")
        result = assistant.search("Innovation Accelerators", k=5, place="Salford")
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 composer: Composer | None = None) -> None:
        self.settings = get_settings(settings)
        self.embedder: Embedder = embedder or get_embedder(self.settings)

        self.store = Store(self.settings)
        self.composer = composer or ExtractiveComposer(self.settings)
        self._serving: _Serving | None = None
        self._gazetteer: Gazetteer | bool | None = False  # False: not looked for yet
        self._warm = False
        self._lock = threading.Lock()

    # -- what is loaded -------------------------------------------------------------------

    def index(self) -> LoadedIndex:
        """The serving generation, re-opened when an ingest has published a newer one."""
        return self._serve().index

    def _serve(self) -> _Serving:
        current = self.store.current_name()
        serving = self._serving
        if serving is not None and serving.index.generation.name == current:
            return serving
        with self._lock:  # one thread opens it; the others wait and share it
            serving = self._serving
            names = self.store.serving_names()  # the pointer's, or a spare when its generation is gone
            if serving is None or serving.index.generation.name not in names[:1]:
                generation = self.store.open_serving(names)
                index = LoadedIndex.open(generation, self.store.files(generation.name), self.embedder)
                serving = self._serving = _Serving(index, DocumentNames(index.sources.values()))
        return serving

    def gazetteer(self) -> Gazetteer | None:
        """The ONS place lookups, when fetched (`levelup fetch`); None without them: places are then
        searched as words only."""
        if self._gazetteer is False:
            with self._lock:
                if self._gazetteer is False:
                    self._gazetteer = self._load_gazetteer()
        return self._gazetteer if isinstance(self._gazetteer, Gazetteer) else None

    def _load_gazetteer(self) -> Gazetteer | None:
        folder = self.settings.datasets_dir
        try:
            return load_gazetteer(folder) if (folder / WD23).is_file() else None
        except (ConfigurationError, OSError):
            return None


    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for: the serving index in memory, the
        place lookups and the question model. A long-running app or server calls it at start, so no
        user pays the cold start; ``ready`` says when it is done (a health check's "warming up")."""
        self._serve()
        self.gazetteer()
        self.embedder.embed_queries(["What is levelling up?"])
        self._warm = True

    @property
    def ready(self) -> bool:
        """True once ``warm_up`` has run."""
        return self._warm

    def ingest(self, paths: Sequence[Path] | None = None, *, progress: bool = True, prune: bool = False,
               notify: Callable[[str], None] | None = None,
               on_progress: Callable[[str, int, int], None] | None = None) -> IngestReport:
        """``ingest.ingest`` with this assistant's settings and model; the next question serves the result."""
        return ingest(paths, settings=self.settings, embedder=self.embedder, progress=progress, prune=prune,
                      notify=notify, on_progress=on_progress)

    def status(self) -> IndexInfo:
        """What the serving index holds, from the generation in memory (an app asks on every rerun).
        Raises ``IndexNotFoundError`` when nothing is built yet."""
        return self._serve().index.generation.info(self.store.key)

    # -- the stages, in order -------------------------------------------------------------

    def understand(self, question: object, *, history: Sequence[str] = (), place: str | None = None,
                   mode: str | RetrievalConfig = DEFAULT_MODE) -> Query:
        """The question as it will be searched, with everything it was understood to ask.

        Raises ``QueryError`` for a question that cannot be searched (not text, empty, symbols only)."""
        query, context = self._checked(question, history, place)
        return self._understood(self._serve(), standalone(query, context.history), context.place,
                                _config(mode))

    def _checked(self, question: object, history: Sequence[str], place: object) -> tuple[Query, Context]:
        """The guard for a search: personal data in the question or the place is refused without being
        repeated (``QueryError``), and so is a place that cannot be one; the question is then tidied.
        Checked before the index is loaded."""
        _, context = check_request(question, history, place, self.settings)
        if context.refusal is not None:
            raise QueryError(context.refusal.reply)
        query = prepare_query(question, self.settings)
        return (replace(query, notes=(*query.notes, *context.notes)) if context.notes else query), context

    def _understood(self, serving: _Serving, query: Query, place: str | None,
                    config: RetrievalConfig) -> Query:

        return understand(query, place=place, gazetteer=self.gazetteer() if config.places else None,
                          names=serving.names, vocabulary=serving.index.vocabulary,
                          dictionary=self.embedder.dictionary, spell=config.expand)

    def search(self, question: object, k: int | None = None, *, filters: Filters = Filters(),
               history: Sequence[str] = (), mode: str | RetrievalConfig = DEFAULT_MODE,
               place: str | None = None) -> SearchResult:
        """The passages that best answer ``question`` (a follow-up is read in the light of ``history``).

        A place in the question (or ``place``) widens the search to the areas that contain it, and a
        passage found for one of them says so in its reasons.
        """
        config = _config(mode)
        k = k or self.settings.search_k
        query, context = self._checked(question, history, place)
        serving = self._serve()  # one generation for the whole request, whatever an ingest publishes
        query = self._understood(serving, standalone(query, context.history), context.place, config)
        index = serving.index
        if not config.sentence_rerank:
            vector = self._embed([query.searched])[0] if config.dense else None
            hits = search(index, query, vector, k, filters, config)
            return SearchResult(query=query, hits=tuple(_with_place_reasons(hits, query.place)))
        # Re-ranking scores each passage's sentences against the question and its parts; a sentence of
        # a document the question names, against what is asked of that document (names left out).
        texts, beside = query.texts(ranking=True), query.beside_names if config.rerank_beside_name else ()
        vectors = self._embed([*texts, *beside])
        pool = config.rerank_pool * (2 if config.parts_pool and query.parts else 1)
        hits = search(index, query, vectors[0], max(pool, k), filters, replace(config, collapse=False))
        scored = score_sentences(index, query, hits, vectors[:len(texts)],
                                 vectors[len(texts):] if beside else None, ranking=True)
        hits = prefer_verified(rerank(hits, best_by_passage(scored), config.sentence_rerank),
                               config.unverified_share)
        if config.follow_lists:
            hits = follow_lists(hits, query, index.next_chunk)
        hits = (collapse_duplicates(hits, index) if config.collapse else hits)[:k]
        return SearchResult(query=query, hits=tuple(_with_place_reasons(hits, query.place)))

    def ask(self, question: object, *, history: Sequence[str] = (), filters: Filters = Filters(),
            place: str | None = None) -> Answer:
        """A short answer from the documents, every sentence quoted and cited, or an honest abstention.

        Raises ``QueryError`` for a question that is empty or not text; everything else
        (personal data, a postcode, a question too long, instructions, small talk) gets an
        ``Answer`` that says why it is not answered from the documents.
        """
        started = time.perf_counter()
        answer = self._answer(question, history, filters, place)
        return replace(answer, latency_ms=(time.perf_counter() - started) * 1000)

    def ask_stream(self, question: object, *, history: Sequence[str] = (), filters: Filters = Filters(),
                   place: str | None = None) -> Iterator[Event]:
        """``ask`` as typed events (``events.py``): how the question was read, the answer piece by piece,
        its sources, then the whole answer. The app streams these; the API will send them as SSE.
        ``QueryError`` (an empty question) is raised when the first event is asked for."""
        yield from events_of(self.ask(question, history=history, filters=filters, place=place))

    def document_file(self, doc_id: str) -> Path | None:
        """The file a document of the serving index was read from, when this machine has it (a worker
        serving from a Chroma server may not): what a citation's "open the PDF at page N" serves."""
        document = next((d for d in self.status().documents if d.id == doc_id), None)
        if document is None:
            return None
        path = Path(document.file)
        path = path if path.is_absolute() else self.settings.documents_dir / path
        return path if path.is_file() else None

    def passage(self, chunk_id: str) -> Chunk | None:
        """A passage of the serving index by id: the text around a cited quote."""
        return self._serve().index.chunks.get(chunk_id)

    # -- browsing -------------------------------------------------------------------------

    def topics(self) -> tuple[Topic, ...]:
        """The topics passages can be browsed and filtered by: the missions (from the paper's missions
        table), the funds the documents name, and the themes (``topics.py``)."""
        return self._serve().index.topics.topics

    def topic_counts(self) -> dict[str, int]:
        """topic id (and the groups ``missions``, ``funds``) -> how many passages carry it."""
        return {t: len(ids) for t, ids in self._serve().index.topics.having.items()}

    def browse(self, filters: Filters = Filters(), text: str | None = None, *, limit: int = 20,
               offset: int = 0) -> Listing:
        """The passages ``filters`` admit (a topic, documents, a page range), each with its topic
        labels and why it carries them: closest to the topic first, or in document order. With
        ``text``, the admitted passages that best match it, best first (at most ``limit``)."""
        index = self._serve().index
        if text is not None and text.strip():
            hits = self.search(text, k=limit, filters=filters).hits
            return rows_of(index, hits, filters)
        return listing(index, filters, limit, offset)

    def _answer(self, question: object, history: Sequence[str], filters: Filters,
                place: str | None) -> Answer:
        """guard -> understand -> (the documents' own records) -> embed -> retrieve -> gate -> score -> gate
        -> compose; an answer that stops early says why (its reason)."""
        fixed, context = check_request(question, history, place, self.settings)
        if context.refusal is not None:  # refused before anything else reads it, and not repeated back
            return _refusal("", context.refusal)
        prepared = prepare_query(question, self.settings)  # not text, empty or symbols only: QueryError
        if context.notes:
            prepared = replace(prepared, notes=(*prepared.notes, *context.notes))
        if fixed is not None and fixed.reason != "advice":
            return _refusal(_shortened(prepared.text, self.settings.max_question_chars), fixed)
        serving = self._serve()  # one generation for the whole request
        query = self._understood(serving, standalone(prepared, context.history), context.place,
                                 MODES[DEFAULT_MODE])
        index = serving.index
        named = [index.sources[d] for d in sorted(query.named) if d in index.sources]
        if query.asks_record and named and fixed is None:  # about the documents themselves: their records
            return answer_from_records(query, named, index)
        vectors = self._embed(query.texts())
        # Both renderings of a passage are kept: the composer says each sentence once and cites its
        # other rendering beside it.
        config = replace(MODES[DEFAULT_MODE], collapse=False)
        hits = search(index, query, vectors[0], PASSAGES * 2, filters, config)
        if fixed is not None:  # an opinion is not given; what the documents say on it is shown
            return Answer(question=query.text, text=fixed.reply, abstained=True, reason=fixed.reason,
                          kind=fixed.kind, related=tuple(hits[:3]), notes=query.notes, trace=tuple(hits))
        local = []
        if query.place.found and query.about_place:
            local = self._local_hits(serving, query.place, hits, filters, config)
        hits = _with_place_reasons([*hits, *local], query.place)
        decision = gate.screen(query, hits, index, vectors[0], self.settings, self.gazetteer())
        if decision is None:
            # The sentences of the best passages, and of those found for the user's own areas.
            candidates = score_sentences(index, query, [*hits[:PASSAGES], *hits[PASSAGES * 2:]], vectors)
            decision = gate.weigh(candidates, self.settings)
        if decision is None:
            candidates = with_followers(index, candidates, query.place.areas,
                                        lead_paragraph=not query.listing)
            decision, candidates = gate.expect(query, candidates, self.settings)
        if decision is not None:
            return gate.abstention(query, hits, decision)
        evidence = Evidence(tuple(hits), tuple(candidates), index, self.gazetteer())
        answer = self.composer.compose(query, evidence)
        checked = source_notes(answer.citations)  # the check after any composer: who vouches, what disagrees
        return replace(answer, notes=(*answer.notes, *checked)) if checked else answer

    def _local_hits(self, serving: _Serving, context: PlaceContext, hits: Sequence[Hit], filters: Filters,
                    config: RetrievalConfig) -> list[Hit]:
        """Passages about the user's own areas ("Greater Manchester"), for "what applies to us?" questions
        whose wording alone finds only what applies everywhere."""
        areas = read(Query("; ".join(context.areas[1:4]) or context.areas[0]), serving.names)
        seen = {h.chunk.id for h in hits}
        local = search(serving.index, areas, self._embed([areas.searched])[0], 4, filters, config)
        return [h for h in local if h.chunk.id not in seen]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """The question's texts in one model call: the question as searched first, then what else the
        stages after search score sentences against (its parts, what it asks of a document it names)."""
        return self.embedder.embed_queries(list(texts))


def _refusal(question: str, fixed: Route) -> Answer:
    return Answer(question=question, text=fixed.reply, abstained=True, reason=fixed.reason, kind=fixed.kind)


def _shortened(text: str, limit: int) -> str:
    """A refused question as echoed back: a 100,000-character paste is not returned whole."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " \u2026"


def _config(mode: str | RetrievalConfig) -> RetrievalConfig:
    return MODES[mode] if isinstance(mode, str) else mode


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
