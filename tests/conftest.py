"""Shared fixtures: real model, real Chroma (embedded and a `chroma run` server), real PDFs.

Nothing here is a stub. The embedding model is the real all-MiniLM-L6-v2 (loaded once per
session, offline); the server fixture starts `chroma run` on a free loopback port; the PDFs
are drawn with reportlab so their page numbers, headings and running headers are known.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests never touch the network or read the developer's configuration.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
for _name in [n for n in os.environ if n.startswith("LEVELUP_")]:
    del os.environ[_name]

from assistant.embed import SentenceTransformerEmbedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402

from .pdfs import PdfPage, make_pdf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds an index of the whole shared corpus")


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "corpus" / "MANIFEST.json").is_file():
        pytest.skip(f"the shared material is not at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default model, loaded once for the whole session."""
    model = SentenceTransformerEmbedder(Settings())
    model.embed_query("warm up")
    return model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an embedded index in a temporary folder."""
    return Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port, for the session."""
    executable = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    with open(data / "server.log", "wb") as log:
        process = subprocess.Popen([executable, "run", "--path", str(data / "db"), "--host", "127.0.0.1",
                                    "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"chroma run did not start; see {data / 'server.log'}") from error
                time.sleep(0.2)
        yield url
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(params=["embedded", "server"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The same tests against an embedded index and a real Chroma server (fresh collections each)."""
    if request.param == "embedded":
        return Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")
    url = request.getfixturevalue("chroma_server")
    prefix = f"t{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}"
    return Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus", chroma_url=url,
                    collection_prefix=prefix)


@pytest.fixture(scope="session")
def corpus_settings(shared: Path, embedder, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # type: ignore[no-untyped-def]
    """An embedded index of the whole shared corpus, built once per session the way users do.

    `levelup fetch --mirror ../shared/corpus` then `levelup ingest`, as library calls.
    """
    from assistant.ingest import ingest
    from assistant.ingest.sources import fetch

    home = tmp_path_factory.mktemp("corpus-index")
    (home / "corpus").mkdir()
    shutil.copy(REPO / "corpus" / "manifest.json", home / "corpus" / "manifest.json")
    settings = Settings(index_dir=home / "index", corpus_dir=home / "corpus", corpus_mirror=shared / "corpus")
    assert fetch(settings, progress=False).ok
    report = ingest(settings=settings, embedder=embedder, progress=False)
    assert report.ok, report.failed
    return settings


@pytest.fixture
def pdf(tmp_path: Path) -> Callable[..., Path]:
    """Draw a real PDF: ``pdf("name.pdf", [PdfPage(...), ...], bookmarks=True)``."""

    def build(name: str, pages: list[PdfPage], **options: object) -> Path:
        path = tmp_path / name
        make_pdf(path, pages, **options)  # type: ignore[arg-type]
        return path

    return build


__all__ = ["REPO", "SHARED", "PdfPage"]
