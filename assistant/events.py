"""An answer as a stream of typed events: what the app shows as it arrives, and the API sends as SSE.

``Assistant.ask_stream`` yields, in this order::

    Reading     how the question was read (the question, the notes: a place found, an abbreviation)
    Piece       the answer text, piece by piece: a sentence or a bullet with its markers [n]
    ...
    Sources     the citations the markers point to
    Done        the whole ``Answer`` (more, next steps, related passages, latency)

Joined, the pieces are exactly ``Answer.text``. The extractive composer has the whole answer in tens
of milliseconds, so its pieces come at once; a generative composer can yield them as it writes, and
every face (app, API, widget) renders the same events the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from .models import Answer, Citation

#: A piece ends with a run of markers ("... in 2024. [1][3]") where a line or a new sentence follows, with
#: the line breaks after it ("the passage [2] names ..." goes on); text without markers (an abstention, a
#: clarifying question) is one piece per line.
_PIECE = re.compile(r".*?(?:\[\d+\])+(?:\n+|$|(?=\s+[^a-z\s]))|.+?(?:\n+|$)|\n+", re.S)
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Reading:
    """How the question was read, before any of the answer."""

    name: ClassVar[str] = "reading"
    question: str
    notes: tuple[str, ...]

    def data(self) -> dict[str, Any]:
        return {"question": self.question, "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of the answer text (a sentence or a bullet) and the citations its markers name."""

    name: ClassVar[str] = "piece"
    text: str
    markers: tuple[int, ...]

    def data(self) -> dict[str, Any]:
        return {"text": self.text, "markers": list(self.markers)}


@dataclass(frozen=True, slots=True)
class Sources:
    """The citations of the answer, numbered as its markers."""

    name: ClassVar[str] = "sources"
    citations: tuple[Citation, ...]

    def data(self) -> dict[str, Any]:
        return {"citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True, slots=True)
class Done:
    """The end of the stream, with the whole answer."""

    name: ClassVar[str] = "done"
    answer: Answer

    def data(self) -> dict[str, Any]:
        return self.answer.to_dict()


Event = Reading | Piece | Sources | Done


def pieces(text: str) -> list[Piece]:
    """``text`` cut after each run of markers (and at line ends where there are none)."""
    return [Piece(found, tuple(int(n) for n in _MARKER.findall(found)))
            for found in _PIECE.findall(text) if found]


def events_of(answer: Answer) -> Iterator[Event]:
    """The events of a finished answer, in stream order."""
    yield Reading(answer.question, answer.notes)
    yield from pieces(answer.text)
    yield Sources(answer.citations)
    yield Done(answer)


def to_dict(event: Event) -> dict[str, Any]:
    """An event as JSON-ready data: ``{"event": "piece", "data": {...}}`` (one SSE message)."""
    return {"event": event.name, "data": event.data()}
