"""The HTTP API as a client sees it: `levelup serve` started as a real process on a free loopback port,
over the shared corpus index, called with httpx. Different clients are different loopback source
addresses (127.0.0.2, 127.0.0.3, ...), so the rate limit is tested per client for real.

The contract is checked by schemathesis, a fuzzer nobody here wrote, against the live /openapi.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.settings import Settings

from .conftest import _free_port

HUB = "https://hub.example.org"
QUESTION = "How much is the UK Shared Prosperity Fund worth?"


def _serve(corpus_settings: Settings, log: Path, **limits: object) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, **{f"LEVELUP_{n.upper()}": str(getattr(corpus_settings, n))
                            for n in ("index_dir", "corpus_dir", "corpus_mirror")},
           "LEVELUP_ALLOWED_ORIGINS": HUB, **{f"LEVELUP_{k.upper()}": str(v) for k, v in limits.items()}}
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{address}/api/v1/health", timeout=2).status_code == 200:
                return process, address
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"levelup serve did not become healthy; see {log}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def api(corpus_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API with its default limits (15 asks a minute per client)."""
    process, address = _serve(corpus_settings, tmp_path_factory.mktemp("api") / "server.log")
    yield address
    process.terminate()
    process.wait(timeout=20)


def client(n: int = 2) -> httpx.Client:
    """A client of its own: requests come from the loopback address 127.0.0.n."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"), timeout=60)


def test_ask_returns_the_answer_with_paged_citations(api: str) -> None:
    with client(2) as http:
        response = http.post(f"{api}/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert "2.6 billion" in answer["answer"] and not answer["abstained"]
    assert answer["citations"] and all(c["quote"] for c in answer["citations"])
    marker_numbers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer["answer"])}
    assert marker_numbers <= {c["n"] for c in answer["citations"]}


def test_a_follow_up_is_read_with_its_history(api: str) -> None:
    with client(3) as http:
        response = http.post(f"{api}/api/v1/ask",
                             json={"question": "and who runs it?", "history": [QUESTION]})
    assert response.status_code == 200
    assert any("Shared Prosperity" in n for n in response.json()["notes"]) or \
        "Shared Prosperity" in response.json()["answer"]


def _events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_the_stream_sends_reading_pieces_sources_done_that_join_into_the_answer(api: str) -> None:
    with client(4) as http, http.stream("POST", f"{api}/api/v1/ask/stream", json={"question": QUESTION}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "reading" and names[-2:] == ["sources", "done"]
    assert set(names[1:-2]) == {"piece"}
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "piece") == done["answer"]
    assert events[-2][1]["citations"] == done["citations"]


def test_search_and_health(api: str) -> None:
    with client(5) as http:
        found = http.get(f"{api}/api/v1/search", params={"q": "Innovation Accelerators", "k": 3}).json()
        health = http.get(f"{api}/api/v1/health")
    assert len(found["results"]) == 3 and found["results"][0]["rank"] == 1
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["generation"] and body["model"].endswith("all-MiniLM-L6-v2")
    assert {d["id"] for d in body["documents"]} >= {"dfe-skills-for-jobs-white-paper-2021"}


def test_a_cited_pdf_is_served_so_its_link_opens_at_the_page(api: str) -> None:
    with client(6) as http:
        answer = http.post(f"{api}/api/v1/ask", json={"question": "What is the National Skills Fund?"}).json()
        cited = next(c for c in answer["citations"] if c["pdf_page"])
        response = http.get(f"{api}/api/v1/documents/{cited['doc_id']}")
        missing = http.get(f"{api}/api/v1/documents/no-such-document")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert "frame-ancestors " + HUB in response.headers["content-security-policy"]
    assert missing.status_code == 404 and "no-such-document" in missing.json()["error"]


@pytest.mark.parametrize(("body", "status"), [
    ({"question": ""}, 422),
    ({"question": "   "}, 422),
    ({}, 422),
    ({"question": 42}, 422),
    ({"question": QUESTION, "filters": {"documents": ["not-indexed"]}}, 422),
    ({"question": "a" * 100_000}, 413),
])
def test_bad_requests_get_a_clear_json_error_and_the_right_status(api: str, body: dict, status: int) -> None:
    with client(7) as http:
        response = http.post(f"{api}/api/v1/ask", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["status"] == status and len(error["error"]) > 10 and "Traceback" not in error["error"]


def test_a_body_that_is_not_json_is_400(api: str) -> None:
    with client(7) as http:
        response = http.post(f"{api}/api/v1/ask", content=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_a_client_over_its_limit_gets_429_with_retry_after_and_others_are_served(api: str) -> None:
    with client(20) as greedy:
        statuses = [greedy.get(f"{api}/api/v1/search", params={"q": "skills", "k": 1}).status_code
                    for _ in range(61)]
        refused = greedy.get(f"{api}/api/v1/search", params={"q": "skills", "k": 1})
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    with client(21) as other:
        assert other.get(f"{api}/api/v1/search", params={"q": "skills", "k": 1}).status_code == 200


def test_cors_grants_an_allowed_hub_and_refuses_other_origins(api: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with client(8) as http:
        allowed = http.options(f"{api}/api/v1/ask", headers={"Origin": HUB, **preflight})
        other = http.options(f"{api}/api/v1/ask",
                             headers={"Origin": "https://elsewhere.example", **preflight})
        posted = http.post(f"{api}/api/v1/ask", json={"question": QUESTION},
                           headers={"Origin": "https://elsewhere.example"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == HUB
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    assert posted.status_code == 403 and "LEVELUP_ALLOWED_ORIGINS" in posted.json()["error"]


def test_security_headers_on_every_response(api: str) -> None:
    with client(9) as http:
        for response in (http.get(f"{api}/api/v1/health"), http.get(f"{api}/no/such/path")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_log_has_route_status_and_latency_but_no_question_and_no_address(
        corpus_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process, address = _serve(corpus_settings, log)
    try:
        with client(10) as http:
            http.post(f"{address}/api/v1/ask",
                      json={"question": "my email is jo.bloggs@example.com, which fund?"})
            http.post(f"{address}/api/v1/ask", json={"question": QUESTION})
    finally:
        process.terminate()
        process.wait(timeout=20)
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    asks = [line for line in lines if line["route"] == "/api/v1/ask"]
    assert len(asks) == 2 and all(a["status"] == 200 and a["ms"] > 0 for a in asks)
    assert "jo.bloggs" not in text and "Shared Prosperity" not in text and "127.0.0.10" not in text


# --- the contract, fuzzed -----------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzzed_api(corpus_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API with its rate limits raised: the fuzzer sends hundreds of requests from one address."""
    process, address = _serve(corpus_settings, tmp_path_factory.mktemp("fuzz") / "server.log",
                              asks_per_minute=100_000, searches_per_minute=100_000,
                              requests_per_minute=100_000)
    yield address
    process.terminate()
    process.wait(timeout=20)


def test_the_openapi_contract_holds_for_generated_requests(fuzzed_api: str, tmp_path: Path) -> None:
    """schemathesis (its own CLI: its pytest plugin does not load under pytest 9) generates requests for
    all five operations of /openapi.json: no 5xx, and every response, errors included, matches its
    documented schema and status."""
    schemathesis = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [str(schemathesis), "run", f"{fuzzed_api}/openapi.json", "--max-examples", "25",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance", "--phases", "examples,coverage,fuzzing",
         "--request-timeout", "60", "--report-dir", str(tmp_path), "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,  # its cache stays out of the repo
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Tested: 5" in run.stdout and "No issues found" in run.stdout  # every documented operation
