"""The seam every answer writer plugs into: ``Composer``, and the ``Evidence`` it writes from.

The gate (``gate.py``) has already decided the documents can answer; a composer only chooses
what to say from the scored sentences and cites every word of it. ``ExtractiveComposer``
(``extractive.py``) quotes sentences verbatim and needs no model; an LLM composer can take
the same evidence and must keep the same promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..index.loaded import LoadedIndex
from ..models import Answer, Hit, Query
from ..places.gazetteer import Gazetteer
from .scoring import Candidate


@dataclass(frozen=True)
class Evidence:
    """What a composer may use: the passages found, their sentences scored, and where to read on."""

    hits: tuple[Hit, ...]  # everything retrieved, best first (the answer's trace)
    candidates: tuple[Candidate, ...]  # scored sentences, best first, the lead stating what is asked
    index: LoadedIndex  # a list runs on past the passages retrieved: its items are read from here
    gazetteer: Gazetteer | None = None  # for the place fact an answer about a place opens with


class Composer(Protocol):
    """Writes the answer to ``query`` from ``evidence``: every sentence it says is cited."""

    name: str

    def compose(self, query: Query, evidence: Evidence) -> Answer: ...
