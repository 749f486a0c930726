"""The HTTP API: FastAPI over one ``Assistant`` per process, with no answer logic of its own.

    POST /api/v1/ask            the Answer as JSON (what `levelup ask --json` prints)
    POST /api/v1/ask/stream     the same answer as Server-Sent Events (``events.py``), then an
                                ``error`` event instead of a dropped connection if it fails midway
    GET  /api/v1/search         passages, best first
    GET  /api/v1/health         what is served: generation, documents, model (503 until it can answer)
    GET  /api/v1/documents/ID   the indexed file itself, so a citation opens the PDF at #page=N
    GET  /openapi.json, /docs   the contract

``levelup serve`` runs it on uvicorn; ``create_app(settings, assistant)`` builds it for tests.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as InPath
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from ..errors import (
    AssistantError,
    IndexNotFoundError,
    ModelLoadError,
    QueryError,
    StoreUnavailableError,
)
from ..events import Event, to_dict
from ..models import Filters
from ..pipeline import Assistant
from ..settings import Settings, get_settings
from .protect import BodyLimit, Guard, RateLimiter, client_id
from .schemas import QUESTION_CHARS, AnswerOut, AskIn, ErrorOut, FiltersIn, HealthOut, SearchOut

log = logging.getLogger("levelup.api")

MEDIA_TYPES = {".pdf": "application/pdf", ".md": "text/markdown; charset=utf-8",
               ".txt": "text/plain; charset=utf-8", ".html": "text/plain; charset=utf-8"}

#: Every error status any operation may answer, documented once (the contract fuzzer checks them).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what} for status, what in (
        (400, "The body is not JSON."),
        (403, "The page's origin is not an allowed hub site."),
        (413, "The body is too long."),
        (422, "A field is missing, empty, too long or of the wrong kind, or the question unsearchable."),
        (429, "Too many requests: wait Retry-After seconds."),
        (500, "A fault of ours; it is logged."),
        (503, "Not ready (no index yet, the store or model unavailable) or too busy: try after Retry-After."),
    )
}


FAULT = "Something went wrong on our side; it is logged. Please try again."


class Busy(Exception):
    """More asks are queued than the process can start within ``queue_seconds``."""


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The API over ``assistant`` (built from ``settings`` when not given), warmed up in the
    background as the server starts, so the port opens at once and health says when it can answer."""
    settings = get_settings(settings)
    assistant = assistant or Assistant(settings)
    limiter = RateLimiter({"ask": settings.asks_per_minute, "search": settings.searches_per_minute},
                          settings.requests_per_minute)
    slots = threading.BoundedSemaphore(settings.max_concurrent_asks)
    warming = threading.Thread(target=_warm_up, args=(assistant,), daemon=True, name="warm-up")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warming.start()
        yield

    app = FastAPI(title="Levelling Up Assistant API", version="1", lifespan=lifespan,
                  description="Answers about the Levelling Up White Paper and related policy texts; every "
                  "answer sentence is a quoted sentence of a cited passage (document, section, page, link).")

    @contextmanager
    def admitted(request: Request, kind: str) -> Iterator[None]:
        """The rate limit, then a free slot (or 503 after ``queue_seconds``)."""
        wait = limiter.check(client_id(request.scope), kind)
        if wait:
            raise _Limited(wait)
        if not slots.acquire(timeout=settings.queue_seconds):
            raise Busy
        try:
            yield
        finally:
            slots.release()

    @app.post("/api/v1/ask", response_model=AnswerOut, responses=ERRORS, tags=["answers"])
    def ask(body: AskIn, request: Request) -> dict[str, Any]:
        """A short answer quoted from the documents, each sentence cited, or an honest abstention
        with the nearest passages."""
        with admitted(request, "ask"):
            answer = assistant.ask(body.question, history=body.history, filters=_filters(body.filters),
                                   place=body.place)
        return answer.to_dict()

    @app.post("/api/v1/ask/stream", response_class=StreamingResponse, tags=["answers"], responses={
        200: {"description": "Server-Sent Events: reading, piece..., sources, done (or error).",
              "content": {"text/event-stream": {"schema": {"type": "object"}}}},
        **ERRORS})
    def ask_stream(body: AskIn, request: Request) -> StreamingResponse:
        """The answer as Server-Sent Events: ``reading`` (how the question was read), ``piece`` (the
        answer, a sentence or bullet at a time, with its markers), ``sources`` (the citations), then
        ``done`` (the whole answer). A failure after the first event is sent as an ``error`` event."""
        with admitted(request, "ask"):
            events = assistant.ask_stream(body.question, history=body.history,
                                          filters=_filters(body.filters), place=body.place)
            first = next(events)  # a question that cannot be asked fails here, with its status
        return StreamingResponse(_sse(first, events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/v1/search", response_model=SearchOut, responses=ERRORS, tags=["passages"])
    def search(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=QUESTION_CHARS, description="What to look for.")],
        k: Annotated[int, Query(ge=1, le=50)] = 10,
        doc: Annotated[list[str], Query(max_length=20, description="Only these document ids.")] = [],  # noqa: B006
        section: Annotated[str | None, Query(max_length=200)] = None,
        topic: Annotated[list[str], Query(max_length=10, description="Only passages with these topics.")]
        = [],  # noqa: B006
        place: Annotated[str | None, Query(max_length=100, description="Also search its areas.")] = None,
    ) -> dict[str, Any]:
        """The passages that best match ``q``, best first, with why each was found."""
        filters = _filters(FiltersIn(documents=doc, section=section, topics=topic))
        with admitted(request, "search"):
            return assistant.search(q, k=k, filters=filters, place=place).to_dict()

    @app.get("/api/v1/health", response_model=HealthOut, tags=["service"],
             responses={503: {"model": HealthOut, "description": "Not ready to answer yet."}})
    def health() -> JSONResponse:
        """What this process serves; 503 (with the reason) until it can answer."""
        if warming.is_alive():
            return _health(503, status="warming up", message="Loading the index and the model.")
        try:
            info = assistant.status()
        except IndexNotFoundError as exc:
            return _health(503, status="no index", message=str(exc))
        except AssistantError as exc:
            return _health(503, status="unavailable", message=str(exc))
        documents = [{"id": d.id, "title": d.title, "passages": d.passages, "pages": d.pages}
                     for d in info.documents]
        return _health(200, status="ok", generation=info.generation, model=info.model,
                       passages=info.passages, documents=documents)

    @app.head("/api/v1/documents/{doc_id}", include_in_schema=False)
    @app.get("/api/v1/documents/{doc_id}", response_class=FileResponse, tags=["passages"], responses={
        200: {"description": "The indexed file (a PDF opens at #page=N).",
              "content": {"application/pdf": {}, "text/markdown": {}, "text/plain": {}}},
        404: {"model": ErrorOut, "description": "No such document here."}, **ERRORS})
    def document(doc_id: Annotated[str, InPath(max_length=200)]) -> FileResponse:
        """The file a document was indexed from, so a citation link opens it at its page."""
        path = assistant.document_file(doc_id)
        if path is None:
            raise HTTPException(404, f"No indexed document {doc_id!r} is held here; GET /api/v1/health "
                                "lists the documents.")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                            headers={"Cache-Control": "public, max-age=3600"},
                            content_disposition_type="inline", filename=path.name)

    _handle_errors(app)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type"],
                       expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(Guard, allowed_origins=settings.allowed_origins,  # type: ignore[arg-type]
                       frame_ancestors=settings.frame_ancestors)
    return app


class _Limited(Exception):
    def __init__(self, wait: int) -> None:
        self.wait = wait


def _warm_up(assistant: Assistant) -> None:
    try:
        assistant.warm_up()
    except AssistantError as exc:  # no index yet: health says so, and the first ask retries
        log.warning("not warmed up: %s", exc)
    except Exception:
        log.exception("warm-up failed")


def _filters(given: FiltersIn) -> Filters:
    if given.pages is not None and given.pages[0] > given.pages[1]:
        raise QueryError(f"The page range {given.pages[0]}-{given.pages[1]} ends before it starts.")
    return Filters(documents=tuple(given.documents), section=given.section, pages=given.pages,
                   topics=tuple(given.topics))


def _sse(first: Event, events: Iterator[Event]) -> Iterator[str]:
    """Events as SSE messages; a failure midway becomes an ``error`` event, never a cut connection."""
    yield _message(to_dict(first))
    try:
        for event in events:
            yield _message(to_dict(event))
    except Exception as exc:
        log.exception("stream failed")
        text = str(exc) if isinstance(exc, AssistantError) else FAULT
        yield _message({"event": "error", "data": {"error": text, "status": 500}})


def _message(event: dict[str, Any]) -> str:
    return f"event: {event['event']}\ndata: {json.dumps(event['data'], ensure_ascii=False)}\n\n"


def _health(status_code: int, **fields: Any) -> JSONResponse:
    return JSONResponse(HealthOut(**fields).model_dump(), status_code=status_code)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _handle_errors(app: FastAPI) -> None:
    """Every failure as ``ErrorOut`` JSON with its status: never a stack trace."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, "The body is not valid JSON. Send {\"question\": \"...\"}.")
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
        return _error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}.")

    @app.exception_handler(QueryError)
    async def unsearchable(request: Request, exc: QueryError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(_Limited)
    async def limited(request: Request, exc: _Limited) -> JSONResponse:
        return _error(429, f"Too many requests; try again in {exc.wait} s.", {"Retry-After": str(exc.wait)})

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return _error(503, "The assistant is busy; try again in a few seconds.", {"Retry-After": "5"})

    @app.exception_handler(AssistantError)
    async def not_ready(request: Request, exc: AssistantError) -> JSONResponse:
        unavailable = (IndexNotFoundError, StoreUnavailableError, ModelLoadError)
        if isinstance(exc, unavailable):
            return _error(503, str(exc), {"Retry-After": "30"})
        log.error("assistant error on %s: %s", request.url.path, type(exc).__name__)
        return _error(500, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"Nothing is at {request.url.path[:200]}; the API is under /api/v1 (see /docs)."
        return _error(exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def fault(request: Request, exc: Exception) -> JSONResponse:
        log.exception("fault on %s", request.url.path)
        return _error(500, FAULT)
