"""What users thought of answers: a thumb up or down and an optional comment, in a local SQLite file.

Stored: the question, the answer text, the ids of the passages it cited, the rating, the comment,
when, and the app's version. Never personal data: an answer the guard refused for personal data
or a postcode is not stored at all, and a comment that contains any is dropped (the rating is
kept). ``levelup feedback export`` writes the rows out for whoever reviews answers.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .answers.guard import PRIVATE, personal_data
from .models import Answer
from .places.gazetteer import looks_like_postcode

_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,   -- the cited passages' ids, space-separated
    rating INTEGER NOT NULL,   -- 1 helpful, 0 not
    comment TEXT NOT NULL,
    app_version TEXT NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Feedback:
    """One stored rating."""

    id: int
    created_at: str
    question: str
    answer: str
    citations: str
    rating: int
    comment: str
    app_version: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _app_version() -> str:
    try:
        return version("levelup-assistant")
    except PackageNotFoundError:
        return "unknown"


def _private(text: str) -> bool:
    return bool(text) and (personal_data(text) is not None or looks_like_postcode(text))


class FeedbackStore:
    """The feedback file (``Settings.feedback_db``), created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(_SCHEMA)
        return connection

    def record(self, answer: Answer, rating: int, comment: str = "") -> int | None:
        """Store a rating of ``answer``; its row id, or None when it is not stored (personal data)."""
        if answer.reason in PRIVATE or _private(answer.question):
            return None
        comment = "" if _private(comment) else comment.strip()[:2000]
        row = (datetime.now(UTC).isoformat(timespec="seconds"), answer.question, answer.text,
               " ".join(c.chunk_id or c.doc_id for c in answer.citations), 1 if rating else 0, comment,
               _app_version())
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                "INSERT INTO feedback (created_at, question, answer, citations, rating, comment, "
                "app_version) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            return int(cursor.lastrowid or 0)

    def rerate(self, row_id: int, rating: int) -> None:
        """Change a stored rating (the user clicked the other thumb)."""
        with closing(self._connect()) as connection, connection:
            connection.execute("UPDATE feedback SET rating = ? WHERE id = ?", (1 if rating else 0, row_id))

    def comment(self, row_id: int, comment: str) -> bool:
        """Add a comment to a stored rating; False (nothing stored) when it holds personal data."""
        if _private(comment):
            return False
        with closing(self._connect()) as connection, connection:
            connection.execute("UPDATE feedback SET comment = ? WHERE id = ?",
                               (comment.strip()[:2000], row_id))
        return True

    def rows(self) -> list[Feedback]:
        """Every stored rating, oldest first."""
        if not self.path.is_file():
            return []
        with closing(self._connect()) as connection:
            found = connection.execute("SELECT id, created_at, question, answer, citations, rating, comment, "
                                       "app_version FROM feedback ORDER BY id").fetchall()
        return [Feedback(*row) for row in found]
