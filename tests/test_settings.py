"""One settings object: arguments over LEVELUP_* variables over levelup.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.settings import Settings, get_settings

from .conftest import REPO


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVELUP_INDEX_DIR", "/data/index")
    monkeypatch.setenv("LEVELUP_SEARCH_K", "7")
    settings = get_settings()
    assert settings.index_dir == Path("/data/index") and settings.search_k == 7


def test_a_config_file_is_read_and_the_environment_wins(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "levelup.toml"
    config.write_text('index_dir = "/from/file"\nchunk_tokens = 120\n', encoding="utf-8")
    monkeypatch.setenv("LEVELUP_CONFIG", str(config))
    monkeypatch.setenv("LEVELUP_CHUNK_TOKENS", "100")
    settings = Settings()
    assert settings.index_dir == Path("/from/file") and settings.chunk_tokens == 100


def test_arguments_win_over_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVELUP_SEARCH_K", "7")
    assert Settings(search_k=3).search_k == 3


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host:1", "http://host:port"])
def test_a_malformed_chroma_url_is_refused_with_its_value(url: str) -> None:
    with pytest.raises(ValidationError, match="LEVELUP_CHROMA_URL must look like http://host:port"):
        Settings(chroma_url=url)


def test_the_index_key_changes_with_anything_that_changes_the_vectors() -> None:
    base = Settings()
    assert base.index_key() == Settings().index_key()
    assert base.index_key().startswith("all-minilm-l6-v2-")
    for change in ({"chunk_tokens": 120}, {"chunk_max_tokens": 200},
                   {"embedding_model": "BAAI/bge-small-en-v1.5"}):
        assert Settings(**change).index_key() != base.index_key(), change
    assert Settings(search_k=3).index_key() == base.index_key()  # search settings don't touch the index


def test_the_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`LEVELUP_{name.upper()}`" in readme, name


def test_question_vectors_are_remembered_without_losing_any(embedder) -> None:  # type: ignore[no-untyped-def]
    """Search and answer embed the same question; a full memory drops the oldest, never one in use."""
    embedder.forget_queries()
    first = embedder.embed_queries([f"question {n}" for n in range(64)])
    again = embedder.embed_queries(["question 0", "a new one", "question 1"])
    assert (again[0] == first[0]).all() and (again[2] == first[1]).all()
    assert len(embedder._queries) == 64
