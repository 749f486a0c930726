"""A BM25 index over the same passages as the vectors, built at ingest and stored beside them.

Dense retrieval misses exact tokens people type: amounts ("£2.6bn"), names ("van Rooyen"),
abbreviations. BM25 catches those. Tokens are folded so the two renderings of a text match
each other and the query: lower case, a light suffix stemmer, and dropped ligatures made
harmless ("fnance" in a PDF extraction and "finance" in a question both become "fnance").

The index is a small JSON file per index generation (``lexical.json.gz``), written when the
generation is published, so it is always in step with the vectors.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..text import TOKENIZER_VERSION, tokenize

FILE = "lexical.json.gz"  # among a generation's files (``Store.files``)


@dataclass
class LexicalIndex:
    """BM25 (k1, b) over passages; ``ids[i]`` is the chunk id of row ``i``."""

    ids: list[str]
    postings: Mapping[str, list[tuple[int, int]]]  # token -> [(row, term frequency)]
    lengths: np.ndarray
    k1: float = 1.2
    b: float = 0.75
    tokenizer: int = TOKENIZER_VERSION

    @classmethod
    def build(cls, passages: Iterable[tuple[str, str]]) -> LexicalIndex:
        """From (chunk id, text to index) pairs."""
        ids: list[str] = []
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths: list[int] = []
        for row, (chunk_id, text) in enumerate(passages):
            counts = Counter(tokenize(text))
            ids.append(chunk_id)
            lengths.append(sum(counts.values()))
            for token, tf in counts.items():
                postings.setdefault(token, []).append((row, tf))
        return cls(ids, postings, np.asarray(lengths, dtype=np.float32))

    @property
    def vocabulary(self) -> set[str]:
        return set(self.postings)

    def scores(self, tokens: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 score of every passage for the (weighted) query tokens."""
        n = len(self.ids)
        result = np.zeros(n, dtype=np.float32)
        if not n:
            return result
        average = float(self.lengths.mean()) or 1.0
        norm = self.k1 * (1 - self.b + self.b * self.lengths / average)
        for token, weight in zip(tokens, weights or [1.0] * len(tokens)):
            posting = self.postings.get(token)
            if not posting:
                continue
            rows = np.fromiter((r for r, _ in posting), dtype=np.int64, count=len(posting))
            tf = np.fromiter((f for _, f in posting), dtype=np.float32, count=len(posting))
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            result[rows] += weight * idf * tf * (self.k1 + 1) / (tf + norm[rows])
        return result

    def top(self, tokens: Sequence[str], k: int,
            weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
        scores = self.scores(tokens, weights)
        if not len(scores):
            return []
        order = np.argsort(-scores)[:k]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]

    # -- persistence --
    def save(self, path: Path) -> None:
        payload = {"ids": self.ids, "lengths": self.lengths.tolist(), "k1": self.k1, "b": self.b,
                   "tokenizer": self.tokenizer,
                   "postings": {t: [r * 1000 + min(f, 999) for r, f in p] for t, p in self.postings.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as handle:
            json.dump(payload, handle, separators=(",", ":"))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
        return cls(payload["ids"], _Stored(payload["postings"]),
                   np.asarray(payload["lengths"], dtype=np.float32), payload["k1"], payload["b"],
                   payload.get("tokenizer", 1))


class _Stored(Mapping[str, list[tuple[int, int]]]):
    """Postings as the file stores them (row * 1000 + term frequency), decoded when a token is looked
    up: decoding all of them at load was 3 of the 7 s the word index took to open at 20x the corpus."""

    def __init__(self, encoded: dict[str, list[int]]) -> None:
        self._encoded = encoded

    def __getitem__(self, token: str) -> list[tuple[int, int]]:
        return [(v // 1000, v % 1000) for v in self._encoded[token]]

    def __contains__(self, token: object) -> bool:
        return token in self._encoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._encoded)

    def __len__(self) -> int:
        return len(self._encoded)
