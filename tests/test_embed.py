"""The embedder's paths, on the real model: passages, sentences packed several to a row, sentences from
their passage's own pass ("late"), and questions through the int8 ONNX export (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.embed import SentenceTransformerEmbedder
from assistant.ingest import ingest
from assistant.pipeline import Assistant
from assistant.settings import Settings

PASSAGE = ("Funding\nThe UK Shared Prosperity Fund is worth £2.6 billion. It will restore local pride. "
           "Places choose how to spend it.")


def spans_of(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    return [(text.index(s), text.index(s) + len(s)) for s in sentences]


def test_packed_sentences_get_the_vectors_they_get_alone(embedder: SentenceTransformerEmbedder) -> None:
    # Lengths from a word to past the 256-token window (cut there, as alone), in no particular order.
    texts = [" ".join(["levelling up the regions"] * n) + f" ({n})." for n in (1, 40, 3, 7, 90, 2, 15, 1, 64)]
    texts += ["Fund.", "The UK Shared Prosperity Fund is worth £2.6 billion.", "It will restore local pride."]
    packed = embedder.embed_sentences(texts)
    alone = embedder.embed_documents(texts)
    assert packed.shape == alone.shape
    assert np.sum(packed * alone, axis=1).min() > 0.9999


def test_late_sentence_vectors_come_from_the_passages_own_pass(embedder: SentenceTransformerEmbedder) -> None:
    sentences = ["The UK Shared Prosperity Fund is worth £2.6 billion.", "It will restore local pride.",
                 "Places choose how to spend it."]
    last = "The last sentence is beyond the window."
    long = "Skills\n" + "Colleges train adults in digital skills. " * 60 + last
    passages, vectors = embedder.embed_passages([PASSAGE, long],
                                                [spans_of(PASSAGE, sentences), spans_of(long, [last])])

    assert passages.shape == (2, 384) and vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # The passage vectors are exactly what embedding the passages gives.
    assert np.allclose(passages, embedder.embed_documents([PASSAGE, long]), atol=1e-4)
    # Read in context, a sentence's vector is still the passage's nearest to the sentence on its own (though
    # it leans towards what the passage says most: why "late" is not the default, README "Speed").
    alone = embedder.embed_documents(sentences)
    assert all(int(np.argmax(vectors[:3] @ alone[i])) == i for i in range(3))
    # A sentence the 256-token window cut off is embedded on its own.
    assert np.allclose(vectors[3], embedder.embed_documents([last])[0], atol=1e-4)


def test_an_index_built_with_late_sentence_vectors_answers(tmp_path: Path,
                                                           embedder: SentenceTransformerEmbedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus", sentence_vectors="late")
    assert settings.index_key() != Settings(index_dir=tmp_path / "index").index_key()  # vectors never mix
    (tmp_path / "fund.md").write_text(f"# {PASSAGE}\n", encoding="utf-8")
    report = ingest([tmp_path / "fund.md"], settings=settings, embedder=embedder, progress=False)
    assert report.ok and report.embedded == 1 and report.sentences_embedded == 0
    answer = Assistant(settings, embedder=embedder).ask("How much is the UK Shared Prosperity Fund worth?")
    assert "£2.6 billion" in answer.text and answer.citations


def test_questions_through_the_onnx_export_match_the_model(embedder: SentenceTransformerEmbedder) -> None:
    questions = ["How much is the UK Shared Prosperity Fund worth?", "we're an SME in Wigan: what applies?",
                 "Which places get Innovation Accelerators?"]
    onnx = SentenceTransformerEmbedder(Settings(query_backend="onnx-int8"))
    torch = SentenceTransformerEmbedder(Settings(query_backend="torch"))
    assert onnx._onnx_path is not None and torch._onnx_path is None
    similarity = np.sum(onnx.embed_queries(questions) * torch.embed_queries(questions), axis=1)
    assert similarity.min() > 0.999
    assert "model" not in vars(onnx)  # the sentence-transformers model (and torch) was never loaded
