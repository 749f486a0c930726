"""What the HTTP API accepts and returns, as pydantic models: they are the OpenAPI contract.

The responses are the library's own ``to_dict()`` shapes (``levelup ask --json`` prints the same
``AnswerOut``; a citation is the ``Citation`` dataclass itself). FastAPI checks every response against
these models, so a field added to a ``to_dict`` without a line here fails the API tests instead of
drifting silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models import Citation

#: Longer questions are refused with 422 before anything reads them (the assistant itself asks for
#: the question on its own above ``max_question_chars``; this bounds what it is handed at all).
QUESTION_CHARS = 2000


class FiltersIn(BaseModel):
    """Restrict what an answer or search may rest on (all optional)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[str] = Field(default=[], max_length=20, description="Document ids (GET /api/v1/health).")
    section: str | None = Field(None, max_length=200, description="Text the section path contains.")
    pages: tuple[int, int] | None = Field(None, description="Inclusive page range, e.g. [10, 20].")
    topics: list[str] = Field(default=[], max_length=10, description="Topic ids, e.g. mission-3.")


class AskIn(BaseModel):
    """A question, with the conversation so far for a follow-up ("and who runs it?")."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=QUESTION_CHARS)
    history: list[str] = Field(default=[], max_length=20,
                               description="Earlier questions of this conversation, oldest first.")
    place: str | None = Field(None, max_length=100, description="The user's town or council, e.g. Wigan.")
    filters: FiltersIn = Field(default_factory=FiltersIn)


class AlsoIn(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    page_start: int | None
    page_label: str | None
    section: str
    url: str | None
    text: str


class PassageOut(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    publisher: str
    published: str
    licence: str
    page_start: int | None
    page_end: int | None
    page_label: str | None
    section: str
    url: str | None
    text: str


class HitOut(PassageOut):
    rank: int
    score: float
    reasons: list[str]
    also_in: list[AlsoIn] = Field(description="The same passage in another rendering of the document.")


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(description="The answer; markers [n] point into citations.")
    abstained: bool
    reason: str = Field(description="Why it abstained or refused (not_covered, off_topic, ...); or empty.")
    kind: str = Field(description="answer, list, abstain, clarify, refusal or smalltalk.")
    citations: list[Citation] = Field(description="What the markers [n] point to: the quoted sentence "
                                      "and where it is (for a PDF, pdf_page opens "
                                      "/api/v1/documents/{doc_id}#page={pdf_page}).")
    more: list[str] = Field(description="Further cited sentences, for 'show more'.")
    related: list[HitOut] = Field(description="When it abstained: the nearest passages.")
    notes: list[str] = Field(description="How the question was read.")
    next_steps: list[str]
    latency_ms: float


class SearchOut(BaseModel):
    question: str
    searched: str
    notes: list[str]
    results: list[HitOut]


class DocumentOut(BaseModel):
    id: str
    title: str
    passages: int
    pages: int


class HealthOut(BaseModel):
    status: Literal["ok", "warming up", "no index", "unavailable"]
    message: str = ""
    generation: str | None = None
    model: str | None = None
    passages: int = 0
    documents: list[DocumentOut] = []


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong and what to do next.")
    status: int
