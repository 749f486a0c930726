"""How the project's sources are listed (corpus/manifest.json) and fetched (``levelup fetch``).

Downloads go to a real HTTP server started on 127.0.0.1 for each test, which honours ``Range``
requests (or deliberately ignores them); offline copies come from the real shared mirror.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import ConfigurationError
from assistant.ingest.sources import describe, fetch, load_manifest, local_path, read_manifest
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
needs_shared = pytest.mark.skipif(
    not (SHARED / "corpus" / "MANIFEST.json").is_file(),
    reason=f"the shared mirror {SHARED} is absent (it sits next to the repository on dev and CI machines)",
)

# A payload that looks like a PDF (the fetcher checks PDFs that have no known checksum).
PAYLOAD = b"%PDF-1.7\n" + bytes(range(256)) * 800  # ~200 kB: several read blocks
OTHER = b"plain text source\n" * 100


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a real HTTP server --------------------------------------------------------------------


@dataclass
class FileServer:
    """What the test server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    honour_range: bool = True
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before hanging up
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    statuses: list[int] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``FileServer.files``; answers ``Range: bytes=N-`` with 206, or 416 past the end."""

    def do_GET(self) -> None:  # http.server's naming
        state: FileServer = self.server.state  # type: ignore[attr-defined]
        wanted = self.headers.get("Range")
        state.requests.append((self.path, wanted))
        time.sleep(state.delays.get(self.path, 0.0))
        body = state.files.get(self.path)
        if body is None:
            return self._reply(state, 404, b"not found", {})
        if wanted and state.honour_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                return self._reply(state, 416, b"", {"Content-Range": f"bytes */{len(body)}"})
            headers = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
            return self._reply(state, 206, body[start:], headers)
        return self._reply(state, 200, body, {})

    def _reply(self, state: FileServer, status: int, body: bytes, headers: dict[str, str]) -> None:
        state.statuses.append(status)
        try:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[: state.cut_after.get(self.path, len(body))])
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.state = state  # type: ignore[attr-defined]
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# --- helpers -------------------------------------------------------------------------------


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"corpus_dir": tmp_path / "corpus", "corpus_mirror": None, "fetch_timeout": 5.0}
    return Settings(**(values | overrides))


def entry(source_id: str, file: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "title": f"Title of {source_id}",
        "publisher": "HM Government",
        "published": "2022-02-02",
        "licence": "Open Government Licence v3.0",
        "file": file,
        **fields,
    }


def write_manifest(settings: Settings, documents: list[dict], datasets: list[dict] | None = None) -> None:
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    data = {"documents": documents, "datasets": datasets or []}
    settings.manifest_path.write_text(json.dumps(data), encoding="utf-8")


def copy_project_manifest(settings: Settings) -> None:
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "corpus" / "manifest.json", settings.manifest_path)


# --- the project manifest ------------------------------------------------------------------


@needs_shared
def test_project_manifest_lists_every_shared_file_with_its_checksum() -> None:
    manifest = read_manifest(REPO / "corpus" / "manifest.json")
    documents = {source.id: source for source in manifest.documents}
    for shared in json.loads((SHARED / "corpus" / "MANIFEST.json").read_text()):
        source = documents[Path(shared["file"]).stem]
        assert (source.file, source.mirror_path, source.sha256) == (
            shared["file"],
            shared["file"],
            shared["sha256"],
        )

    datasets = {source.mirror_path: source for source in manifest.datasets}
    for shared in json.loads((SHARED / "places" / "MANIFEST.json").read_text())["files"]:
        source = datasets[f"places/{shared['file']}"]
        assert (source.file, source.sha256) == (f"datasets/{shared['file']}", shared["sha256"])


def test_project_manifest_names_the_full_white_paper_for_online_fetch() -> None:
    manifest = read_manifest(REPO / "corpus" / "manifest.json")
    paper = next(s for s in manifest.documents if s.id == "levelling-up-the-united-kingdom-white-paper")
    assert paper.url == "https://www.gov.uk/government/publications/levelling-up-the-united-kingdom"
    assert paper.download_url and paper.download_url.endswith("Levelling_up_the_UK_white_paper.pdf")
    assert (paper.mirror_path, paper.sha256, paper.relation, paper.kind) == (None, None, "core", "government")


def test_datasets_are_stored_under_the_datasets_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    copy_project_manifest(settings)
    for source in load_manifest(settings).datasets:
        assert local_path(source, settings).parent == settings.datasets_dir


# --- fetching from a mirror ----------------------------------------------------------------


@needs_shared
def test_fetch_from_the_shared_mirror_copies_verified_files_and_skips_the_white_paper(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    copy_project_manifest(settings)

    report = fetch(settings, mirror=SHARED / "corpus", progress=False)

    manifest = load_manifest(settings)
    assert report.ok
    assert report.fetched == [s.id for s in manifest.sources if s.mirror_path]
    assert report.skipped == [
        (
            "levelling-up-the-united-kingdom-white-paper",
            f"not in mirror {SHARED / 'corpus'} (run `levelup fetch` online to download it)",
        )
    ]
    for source in manifest.sources:
        if source.mirror_path:
            assert sha256(local_path(source, settings).read_bytes()) == source.sha256


def test_dataset_mirror_paths_are_relative_to_the_parent_of_the_documents_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "shared"
    (mirror / "corpus").mkdir(parents=True)
    (mirror / "places").mkdir()
    (mirror / "corpus" / "a.txt").write_bytes(OTHER)
    (mirror / "places" / "b.csv").write_bytes(b"LAD23CD,LAD23NM\nE06000001,Hartlepool\n")
    settings = make_settings(tmp_path, corpus_mirror=mirror / "corpus")
    write_manifest(
        settings,
        [entry("a", "a.txt", mirror_path="a.txt", sha256=sha256(OTHER))],
        [entry("b", "datasets/b.csv", mirror_path="places/b.csv")],
    )

    report = fetch(settings, progress=False)  # the mirror comes from settings.corpus_mirror

    assert report.fetched == ["a", "b"]
    assert (settings.datasets_dir / "b.csv").read_text().startswith("LAD23CD")


def test_a_mirror_folder_that_does_not_exist_is_a_configuration_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write_manifest(settings, [entry("a", "a.txt")])
    with pytest.raises(ConfigurationError, match=r"Mirror folder .*nowhere does not exist"):
        fetch(settings, mirror=tmp_path / "nowhere", progress=False)


# --- downloading ---------------------------------------------------------------------------


def test_download_over_http_writes_the_verified_file_and_prints_nothing_without_progress(
    tmp_path: Path, server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(PAYLOAD))]
    )

    report = fetch(settings, progress=False)

    assert (report.fetched, report.ok) == (["paper"], True)
    assert (settings.documents_dir / "paper.pdf").read_bytes() == PAYLOAD
    assert not (settings.documents_dir / "paper.pdf.part").exists()
    assert capsys.readouterr() == ("", "")


def test_second_fetch_is_up_to_date_without_touching_the_network(tmp_path: Path, server: FileServer) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(PAYLOAD))]
    )
    fetch(settings, progress=False)
    requests_after_first_fetch = len(server.requests)

    report = fetch(settings, progress=False)

    assert report.up_to_date == ["paper"]
    assert len(server.requests) == requests_after_first_fetch
    assert describe(report) == ["up to date  paper", "0 fetched, 1 up to date, 0 skipped, 0 failed"]


def test_partial_download_resumes_with_a_range_request(tmp_path: Path, server: FileServer) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(PAYLOAD))]
    )
    settings.documents_dir.mkdir(parents=True)
    (settings.documents_dir / "paper.pdf.part").write_bytes(PAYLOAD[:70_000])

    report = fetch(settings, progress=False)

    assert report.fetched == ["paper"]
    assert server.requests == [("/paper.pdf", "bytes=70000-")]
    assert server.statuses == [206]
    assert (settings.documents_dir / "paper.pdf").read_bytes() == PAYLOAD
    assert not (settings.documents_dir / "paper.pdf.part").exists()


def test_a_dropped_connection_keeps_the_part_file_and_the_next_fetch_finishes_it(
    tmp_path: Path, server: FileServer
) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    server.cut_after["/paper.pdf"] = 50_000
    settings = make_settings(tmp_path)
    url = server.url("/paper.pdf")
    write_manifest(settings, [entry("paper", "paper.pdf", download_url=url, sha256=sha256(PAYLOAD))])

    first = fetch(settings, progress=False)
    del server.cut_after["/paper.pdf"]
    second = fetch(settings, progress=False)

    assert first.failed == [
        (
            "paper",
            f"{url} closed the connection after 50000 of {len(PAYLOAD)} bytes; "
            "run `levelup fetch` again to resume",
        )
    ]
    assert second.fetched == ["paper"]
    assert server.requests == [("/paper.pdf", None), ("/paper.pdf", "bytes=50000-")]
    assert (settings.documents_dir / "paper.pdf").read_bytes() == PAYLOAD


def test_progress_bar_shows_the_source_and_its_size_in_bytes(
    tmp_path: Path, server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"))])

    fetch(settings, progress=True)

    bar = capsys.readouterr().err  # tqdm draws on stderr, and clears the bar when done
    assert "paper:" in bar and "/200k" in bar and "B/s" in bar


def test_server_that_ignores_range_still_gives_the_right_file(tmp_path: Path, server: FileServer) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    server.honour_range = False
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(PAYLOAD))]
    )
    settings.documents_dir.mkdir(parents=True)
    (settings.documents_dir / "paper.pdf.part").write_bytes(b"stale bytes from another version")

    report = fetch(settings, progress=False)

    assert report.fetched == ["paper"]
    assert server.requests[0][1] is not None and server.statuses == [200]
    assert (settings.documents_dir / "paper.pdf").read_bytes() == PAYLOAD


def test_range_past_the_end_means_the_part_file_was_already_complete(
    tmp_path: Path, server: FileServer
) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(PAYLOAD))]
    )
    settings.documents_dir.mkdir(parents=True)
    (settings.documents_dir / "paper.pdf.part").write_bytes(PAYLOAD)

    report = fetch(settings, progress=False)

    assert (report.fetched, server.statuses) == (["paper"], [416])
    assert (settings.documents_dir / "paper.pdf").read_bytes() == PAYLOAD


def test_checksum_mismatch_is_a_failure_and_leaves_no_file(tmp_path: Path, server: FileServer) -> None:
    server.files["/paper.pdf"] = PAYLOAD
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"), sha256=sha256(OTHER))]
    )

    report = fetch(settings, progress=False)

    assert not report.ok
    [(source_id, reason)] = report.failed
    assert source_id == "paper"
    assert reason.startswith(
        f"checksum mismatch for {server.url('/paper.pdf')}: expected sha256 {sha256(OTHER)[:12]}"
    )
    assert "the file was not kept" in reason
    assert list(settings.documents_dir.iterdir()) == []  # neither paper.pdf nor paper.pdf.part


def test_pdf_without_checksum_that_is_not_a_pdf_is_not_kept(tmp_path: Path, server: FileServer) -> None:
    server.files["/paper.pdf"] = b"<html>Page moved</html>"
    settings = make_settings(tmp_path)
    write_manifest(settings, [entry("paper", "paper.pdf", download_url=server.url("/paper.pdf"))])

    report = fetch(settings, progress=False)

    assert report.failed[0][1].startswith(f"{server.url('/paper.pdf')} did not return a PDF")
    assert list(settings.documents_dir.iterdir()) == []


def test_http_404_is_one_clear_failure_and_the_other_sources_are_still_fetched(
    tmp_path: Path, server: FileServer
) -> None:
    server.files["/other.txt"] = OTHER
    settings = make_settings(tmp_path)
    gone = server.url("/moved.pdf")
    write_manifest(
        settings,
        [
            entry("moved", "moved.pdf", url="https://www.gov.uk/x", download_url=gone),
            entry("other", "other.txt", download_url=server.url("/other.txt"), sha256=sha256(OTHER)),
        ],
    )

    report = fetch(settings, progress=False)

    assert report.fetched == ["other"]
    dest = settings.documents_dir / "moved.pdf"
    expected = (
        f"HTTP 404 from {gone}: the address may have moved (look for it on https://www.gov.uk/x); "
        f"download it by hand into {dest}"
    )
    assert report.failed == [("moved", expected)]
    assert [line for line in describe(report) if line.startswith("FAILED")] == [
        f"FAILED      moved: {report.failed[0][1]}"
    ]


def test_a_server_that_does_not_answer_in_time_fails_that_source_only(
    tmp_path: Path, server: FileServer
) -> None:
    server.files |= {"/slow.pdf": PAYLOAD, "/other.txt": OTHER}
    server.delays["/slow.pdf"] = 1.0
    settings = make_settings(tmp_path, fetch_timeout=0.2)
    write_manifest(
        settings,
        [
            entry("slow", "slow.pdf", download_url=server.url("/slow.pdf")),
            entry("other", "other.txt", download_url=server.url("/other.txt")),
        ],
    )

    report = fetch(settings, progress=False)

    [(source_id, reason)] = report.failed
    assert source_id == "slow"
    assert reason.startswith(f"no data from {server.url('/slow.pdf')} for 0.2s")
    assert report.fetched == ["other"]
    assert not (settings.documents_dir / "slow.pdf").exists()


def test_a_source_with_neither_download_address_nor_mirror_copy_is_skipped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write_manifest(settings, [entry("conversion", "conversion.md", mirror_path="conversion.md")])

    report = fetch(settings, progress=False)

    assert report.ok
    expected = (
        f"no download address known: copy it by hand into {settings.documents_dir / 'conversion.md'}, "
        "or run `levelup fetch --mirror DIR` with a folder that holds it"
    )
    assert report.skipped == [("conversion", expected)]


def test_only_fetches_the_named_sources_and_rejects_unknown_ids(tmp_path: Path, server: FileServer) -> None:
    server.files["/a.txt"] = OTHER
    settings = make_settings(tmp_path)
    write_manifest(
        settings,
        [
            entry("a", "a.txt", download_url=server.url("/a.txt")),
            entry("b", "b.txt", download_url=server.url("/b")),
        ],
    )

    assert fetch(settings, only=["a"], progress=False).fetched == ["a"]
    assert [path for path, _ in server.requests] == ["/a.txt"]
    with pytest.raises(ConfigurationError, match=r"Unknown source id\(s\) \['c'\]"):
        fetch(settings, only=["c"], progress=False)


# --- malformed manifests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_entry", "expected"),
    [
        ({"title": None}, "documents[0] (id 'a'): field 'title' is required"),
        ({"sha256": "abc"}, "documents[0] (id 'a'): field 'sha256' must be 64 lowercase hex digits or null"),
        ({"colour": "red"}, "documents[0] (id 'a'): field 'colour' is not a known field"),
        ({"kind": "blog"}, "documents[0] (id 'a'): field 'kind' must be one of ['commentary', 'government']"),
        ({"file": "../outside.txt"}, "documents[0] (id 'a'): field 'file' must be a relative path"),
        (
            {"download_url": "ftp://x"},
            "documents[0] (id 'a'): field 'download_url' must be an http(s) address",
        ),
        ({"id": "Not A Slug"}, "documents[0] (id 'Not A Slug'): field 'id' must be a lowercase slug"),
        ({"notes": 3}, "documents[0] (id 'a'): field 'notes' must be a string, got 3"),
    ],
)
def test_malformed_manifest_entry_names_the_file_the_entry_and_the_field(
    tmp_path: Path, bad_entry: dict[str, Any], expected: str
) -> None:
    settings = make_settings(tmp_path)
    write_manifest(settings, [entry("a", "a.txt") | bad_entry])
    with pytest.raises(ConfigurationError) as caught:
        load_manifest(settings)
    assert str(caught.value).startswith(f"{settings.manifest_path}: {expected}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ('{"documents": {}}', "must be a JSON object with a 'documents' list"),
        (json.dumps({"documents": [entry("a", "a.txt"), entry("a", "b.txt")]}), "id 'a' is used twice"),
        (
            json.dumps({"documents": [], "datasets": [entry("d", "d.csv")]}),
            "field 'file' must start with 'datasets/'",
        ),
    ],
)
def test_malformed_manifest_file_is_a_configuration_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(str(path))) as caught:
        read_manifest(path)
    assert expected in str(caught.value)


def test_allowed_extra_fields_are_accepted_and_left_out_of_the_source(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write_manifest(
        settings, [], [entry("d", "datasets/d.csv", vintage="December 2023", bytes=10, pages=None)]
    )
    [dataset] = load_manifest(settings).datasets
    assert dataset.id == "d" and not hasattr(dataset, "vintage")


def test_a_missing_manifest_says_where_it_was_looked_for(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(
        ConfigurationError, match=re.escape(f"No source manifest at {settings.manifest_path}")
    ):
        load_manifest(settings)
