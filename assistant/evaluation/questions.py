"""Question sets: the format of ``../shared/eval/dev.jsonl``, read into ``EvalQuestion``.

Our own sets live in ``benchmarks/questions/``; they give their evidence as places in the
documents (offset, length, sha256 of the normalised text) rather than as text, so the repository
holds none of the corpus and a changed document is noticed, not silently misjudged.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError
from ..ingest.load import extracted_text


def normalise(text: str) -> str:
    """The judging normalisation: NFKC, lower case, one space per whitespace run, no soft hyphens."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    evidence: tuple[str, ...]
    category: str
    user: str = ""
    answer: str = ""
    doc: str = ""
    kind: str = ""  # our own sets: the failure kind the question probes ("guidance", "membership", ...)

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def read_questions(path: Path, documents: Path | None = None) -> list[EvalQuestion]:
    """Questions in the ``dev.jsonl`` format; a malformed line is named with its number.

    A record may give its evidence as places in its document instead of text (``evidence_at``:
    offset and length in the document's extracted text, normalised, and the span's sha256), so a
    question set kept in the repository holds no text of the corpus; ``documents`` is the folder the
    documents were fetched to (``Settings.documents_dir``) that those spans are read from."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the question file {path}: {exc.strerror or exc}.") from exc
    texts = _Texts(documents)
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            doc = str(raw.get("doc") or "")
            evidence = tuple(raw.get("evidence") or ()) or texts.spans(doc, raw.get("evidence_at"))
            questions.append(EvalQuestion(
                id=str(raw["id"]), question=str(raw["question"]), evidence=evidence,
                category=str(raw.get("category") or "uncategorised"), user=str(raw.get("user") or ""),
                answer=str(raw.get("answer") or ""), doc=doc, kind=str(raw.get("kind") or "")))

        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}, line {number}: not a question record ({exc}). "
                                     "Each line needs at least \"id\" and \"question\".") from exc
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}, line {number}: {exc}") from exc
    return questions


def anchor(span: str, text: str) -> dict[str, object]:
    """Where ``span`` sits in a document's normalised ``text``, as ``read_questions`` reads it back:
    its first occurrence (``ValueError`` if it does not occur)."""
    wanted = normalise(span)
    offset = text.index(wanted)
    return {"offset": offset, "length": len(wanted), "sha256": hashlib.sha256(wanted.encode()).hexdigest()}


class _Texts:
    """Documents' normalised extracted texts, read once each, to read anchored evidence from."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._texts: dict[str, str] = {}

    def spans(self, doc: str, anchors: list[dict[str, object]] | None) -> tuple[str, ...]:
        if not anchors:
            return ()
        text = self.text(doc)
        out = []
        for place in anchors:
            start, length = int(place["offset"]), int(place["length"])  # type: ignore[call-overload]
            span = text[start:start + length]
            if hashlib.sha256(span.encode()).hexdigest() != place["sha256"]:
                raise ConfigurationError(
                    f"the evidence at {start} in {doc} is not the text the question was written against (the "
                    "document differs from the one in the manifest). Fetch it again: levelup fetch")
            out.append(span)
        return tuple(out)

    def text(self, doc: str) -> str:
        if doc not in self._texts:
            path = (self.folder or Path()) / doc
            if self.folder is None or not path.is_file():
                raise ConfigurationError(f"its evidence is in {doc}, which is not fetched (looked in "
                                         f"{self.folder}). Fetch the sources first: levelup fetch")
            self._texts[doc] = normalise(extracted_text(path))
        return self._texts[doc]
