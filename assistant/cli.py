"""The ``levelup`` command: a thin face over ``Assistant`` and the source/index functions.

Each command parses its input, makes one library call and prints the result; library errors
(``AssistantError``) become one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from .errors import AssistantError
from .render import describe_ingest, render_answer, render_hit, render_passage
from .settings import get_settings
from .text import printable

if TYPE_CHECKING:  # the commands import the library when they run: `levelup --help` stays fast
    from .models import Filters
    from .pipeline import Assistant


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except AssistantError as exc:
        raise click.ClickException(printable(str(exc))) from exc


def _echo(text: object, err: bool = False) -> None:
    """Print to the terminal without the escape sequences or control characters a document (or a file
    name) may hold: an indexed text must not retitle, recolour or beep the user's terminal."""
    click.echo(printable(str(text)), err=err)


def _quiet_libraries() -> None:
    """Keep third-party chatter (model-loading bars, telemetry) out of the command's output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@click.group()
@click.version_option(package_name="levelup-assistant")
def cli() -> None:
    """Answers about the Levelling Up White Paper and related texts, with the passages they rest on.

    \b
    First time:
        levelup fetch --mirror ../shared/corpus   # or plain `levelup fetch` online
        levelup ingest
        levelup search "How much is the UK Shared Prosperity Fund worth?"

    Configuration comes from LEVELUP_* environment variables (see the README).
    """
    _quiet_libraries()


# --- fetch -------------------------------------------------------------------------------

@cli.command()
@click.option("--mirror", type=click.Path(path_type=Path, file_okay=False),
              help="Copy sources from this folder instead of downloading (default: LEVELUP_CORPUS_MIRROR).")
@click.option("--only", multiple=True, metavar="ID", help="Fetch only this source id (repeatable).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def fetch(mirror: Path | None, only: tuple[str, ...], no_progress: bool) -> None:
    """Download the sources in corpus/manifest.json into corpus/documents/.

    Files already present with the right checksum are left alone; interrupted downloads
    resume; a failure for one source does not stop the others.

    \b
        levelup fetch
        levelup fetch --mirror ../shared/corpus
    """
    from .ingest.sources import describe
    from .ingest.sources import fetch as fetch_sources

    with _friendly_errors():
        report = fetch_sources(get_settings(), mirror=mirror, only=only or None, progress=not no_progress)
    for line in describe(report):
        _echo(line)
    if not report.ok:
        sys.exit(1)


# --- ingest ------------------------------------------------------------------------------

@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--prune", is_flag=True, help="Remove indexed documents that are not part of this run.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def ingest(paths: tuple[str, ...], prune: bool, no_progress: bool) -> None:
    """Build or update the index from the fetched sources, or from PATHS (PDF, md, txt, html).

    Unchanged documents are not re-read and nothing is re-embedded; a changed document
    replaces its own passages. If anything fails, the previous index keeps serving and the
    exit code is 1.

    \b
        levelup ingest
        levelup ingest reports/ extra.pdf
    """
    from .ingest import ingest as run_ingest
    from .ingest.inputs import EMPTY_PATH

    if any(not p.strip() for p in paths):  # Path("") is "." : an empty argument must not index the folder
        raise click.UsageError(EMPTY_PATH[0].upper() + EMPTY_PATH[1:] + ".")
    try:
        with _friendly_errors():
            report = run_ingest([Path(p) for p in paths] or None, settings=get_settings(),
                                progress=not no_progress, prune=prune,
                                notify=lambda line: _echo(line, err=True))
    except KeyboardInterrupt:
        _echo("Interrupted: nothing was changed; the previous index is still serving.", err=True)
        sys.exit(130)
    for line in describe_ingest(report):
        _echo(line, err=line.startswith(("FAILED", "warning")))
    if not report.ok:
        sys.exit(1)


# --- status ------------------------------------------------------------------------------

@cli.command()
def status() -> None:
    """Show what is indexed: documents, passages, model, when built."""
    from .ingest import status as index_status

    with _friendly_errors():
        info = index_status(get_settings())
    _echo(f"Index      {info.location}")
    _echo(f"Model      {info.model}")
    _echo(f"Built      {info.built_at}")
    _echo(f"Documents  {len(info.documents)}, {info.passages} passages")
    for doc in info.documents:
        pages = f"{doc.pages} pages" if doc.pages else "unpaged"
        _echo(f"  {doc.id:<48} {doc.passages:>5} passages  {pages:>10}  {doc.title}")


# --- search ------------------------------------------------------------------------------

def _parse_pages(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", value)
    if not match:
        raise click.BadParameter("use a page or a range, e.g. 12 or 10-20")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise click.BadParameter(f"the range {value} ends before it starts")
    return first, last


def filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """--doc/--section/--pages/--topic, shared by the commands that search."""
    for option in reversed([
        click.option("--doc", "documents", multiple=True, metavar="ID",
                     help="Only this document (repeatable)."),
        click.option("--section", help="Only passages whose section path contains this text."),
        click.option("--pages", callback=_parse_pages, help="Only passages on these pages, e.g. 10-20."),
        click.option("--topic", "topics", multiple=True, metavar="ID",
                     help="Only passages with this topic (repeatable; `levelup topics` lists them)."),
    ]):
        command = option(command)
    return command


def _filters(documents: tuple[str, ...], section: str | None, pages: tuple[int, int] | None,
             topics: tuple[str, ...]) -> Filters:
    from .models import Filters

    return Filters(documents=documents, section=section, pages=pages, topics=topics)


def _one_of(question: str | None, batch: TextIO | None, place: str | None, about_place: str) -> str | None:
    """QUESTION, or with neither it nor --batch but a --place, ``about_place`` (with ``{place}``);
    a usage error unless exactly one of QUESTION and --batch is given."""
    if question is None and batch is None and place:
        question = about_place.format(place=place)
    if (question is None) == (batch is None):
        raise click.UsageError("Give a QUESTION or --batch FILE (not both).")
    return question


@cli.command()
@click.argument("question", required=False)
@click.option("--k", "k", type=click.IntRange(1, 100), default=None, help="How many passages (default 10).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help="A .jsonl file of {\"id\", \"question\"} lines; prints one JSON line per question.")
@click.option("--place", help="A town or council: also search the areas that contain it (e.g. Bolton).")
@filter_options
def search(question: str | None, k: int | None, as_json: bool, batch: TextIO | None, place: str | None,
           documents: tuple[str, ...], section: str | None, pages: tuple[int, int] | None,
           topics: tuple[str, ...]) -> None:
    """Find the passages that best match QUESTION.

    \b
        levelup search "Which places get Innovation Accelerators?"
        levelup search "skills" --doc dfe-skills-for-jobs-white-paper-2021 --pages 10-20
        levelup search --place Bolton
        levelup search --batch ../shared/eval/dev.jsonl --k 10 --json
    """
    from .pipeline import Assistant

    question = _one_of(question, batch, place, "{place}")  # a place alone: searched with its areas
    filters = _filters(documents, section, pages, topics)
    with _friendly_errors():
        assistant = Assistant(get_settings())
        if batch is not None:
            _search_batch(assistant, batch, k, filters)
            return
        result = assistant.search(question, k, filters=filters, place=place)
    if as_json:
        _echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    for note in result.notes:
        _echo(f"note: {note}", err=True)
    if not result.hits:
        _echo("No passages found.")
    for hit in result.hits:
        _echo(render_hit(hit))


def _batch(lines: TextIO) -> Iterator[tuple[object, object, dict[str, Any]]]:
    """(id, question, the whole record) for each line of a .jsonl batch; a bad line stops with its number."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            yield item["id"], item["question"], item
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(
                f"line {number} of the batch file is not {{\"id\", \"question\"}} JSON: {exc}") from exc


def _search_batch(assistant: Assistant, lines: TextIO, k: int | None, filters: Filters) -> None:
    for qid, question, _ in _batch(lines):
        try:
            result = assistant.search(question, k, filters=filters)
            out: dict[str, Any] = {"id": qid, "results": [h.to_dict() for h in result.hits]}
            if result.notes:
                out["notes"] = list(result.notes)
        except AssistantError as exc:
            out = {"id": qid, "error": str(exc), "results": []}
        _echo(json.dumps(out, ensure_ascii=False))


# --- eval --------------------------------------------------------------------------------

@cli.command(name="eval")
@click.argument("questions", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--k", "k", type=click.IntRange(1, 10), default=5, show_default=True,
              help="The cut-off for listing missed questions and per-category recall.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--compare", is_flag=True, help="Run every retrieval mode side by side.")
@click.option("--answers/--no-answers", default=True, show_default=True,
              help="Also answer every question and judge the answers.")
def evaluate(questions: tuple[Path, ...], k: int, as_json: bool, compare: bool, answers: bool) -> None:
    """Measure retrieval and answers on question sets (the format of ../shared/eval/dev.jsonl).

    Retrieval: recall@1/3/5/10, MRR@10 and nDCG@10, overall and per category, the questions
    missed at K with what came back instead, and warm latency (p50/p95). Answers: evidence
    coverage, citation validity (each quote found in its source document), abstention on
    unanswerable and answerable questions, uncited sentences, latency. Several sets are shown
    side by side, then each one's misses.

    \b
        levelup eval ../shared/eval/dev.jsonl
        levelup eval ../shared/eval/dev.jsonl --compare
        levelup eval ../shared/eval/dev.jsonl benchmarks/questions/*.jsonl
    """
    from .evaluation import read_questions, run_eval
    from .evaluation.runner import render_sets
    from .pipeline import Assistant

    with _friendly_errors():
        assistant = Assistant(get_settings())
        sets = {path.stem: read_questions(path, assistant.settings.documents_dir) for path in questions}
        reports = {name: run_eval(assistant, items, compare=compare, answers=answers)
                   for name, items in sets.items()}
    if len(reports) == 1 and as_json:
        (report,) = reports.values()
        _echo(json.dumps(report.to_dict(k), ensure_ascii=False, indent=2))
    elif len(reports) == 1:
        (report,) = reports.values()
        _echo(report.render(k))
    elif as_json:

        payload = {"sets": {n: r.to_dict(k) for n, r in reports.items()}}
        _echo(json.dumps(payload, ensure_ascii=False, indent=2))

    else:
        _echo(render_sets(reports))
        for name, report in reports.items():
            _echo(f"\n=== {name} ===\n{report.render(k)}")



# --- topics and browsing ------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def topics(as_json: bool) -> None:
    """List the topics passages carry: the missions (from the paper's missions table), the funds the
    documents name, and the themes; with how many passages carry each."""
    from .pipeline import Assistant
    from .topics import GROUP_TITLES

    with _friendly_errors():
        assistant = Assistant(get_settings())
        found, counts = assistant.topics(), assistant.topic_counts()
    if as_json:
        _echo(json.dumps([{"id": t.id, "title": t.title, "group": t.group, "passages": counts.get(t.id, 0)}
                          for t in found], ensure_ascii=False))
        return
    for group, title in GROUP_TITLES.items():
        _echo(f"{title} ({group}: {counts.get(group, 0)} passages)" if group in counts else title)
        for topic in (t for t in found if t.group == group):
            _echo(f"  {topic.id:<46} {counts.get(topic.id, 0):>5}  {topic.title}")


@cli.command()
@click.argument("text", required=False)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True,
              help="How many passages.")
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many first (no TEXT).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@filter_options
def browse(text: str | None, limit: int, offset: int, as_json: bool, documents: tuple[str, ...],
           section: str | None, pages: tuple[int, int] | None, topics: tuple[str, ...]) -> None:
    """List the passages of a topic, document or page range, each with its topic labels and why.

    Closest to the topic first (or in document order); with TEXT, those that best match it.

    \b
        levelup browse --topic mission-3
        levelup browse --topic funds "high streets"
        levelup browse --doc dft-future-of-mobility-urban-strategy-2019 --pages 10-12
    """
    from .pipeline import Assistant

    with _friendly_errors():
        found = Assistant(get_settings()).browse(_filters(documents, section, pages, topics), text,
                                                 limit=limit, offset=offset)
    if as_json:
        _echo(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    shown = f"{found.offset + 1}-{found.offset + len(found.rows)} of " if found.rows else ""
    _echo(f"{shown}{found.total} passage(s)")
    for row in found.rows:
        _echo(render_passage(row.chunk))
        for label in row.labels:
            _echo(f"   - {label.topic}: {label.why}")
        _echo("")


# --- ask ---------------------------------------------------------------------------------

@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help="A .jsonl file of {\"id\", \"question\"} lines; prints one JSON line per question.")
@click.option("--history", multiple=True, metavar="QUESTION",
              help="An earlier question of the conversation, oldest first (repeatable): follow-ups are "
                   "read in its light.")
@click.option("--trace", is_flag=True, help="With --json, include the passages retrieved.")
@click.option("--place",
              help="Where you are (a town or council): the answer covers the areas that contain it.")

@filter_options
def ask(question: str | None, as_json: bool, batch: TextIO | None, history: tuple[str, ...], trace: bool,
        place: str | None, documents: tuple[str, ...], section: str | None, pages: tuple[int, int] | None,
        topics: tuple[str, ...]) -> None:
    """Answer QUESTION from the indexed documents, quoting and citing every sentence.

    When the documents don't answer, it says so and shows the closest passages instead.

    \b
        levelup ask "How much is the UK Shared Prosperity Fund worth?"
        levelup ask "and who runs it?" --history "What is the UKSPF?"
        levelup ask "what funding could apply to us?" --place Wigan
        levelup ask --batch ../shared/eval/dev.jsonl --json
    """
    from .pipeline import Assistant

    question = _one_of(question, batch, place, "What do the documents say about {place}?")
    filters = _filters(documents, section, pages, topics)
    with _friendly_errors():
        assistant = Assistant(get_settings())
        if batch is not None:
            _ask_batch(assistant, batch, filters)
            return
        answer = assistant.ask(question, history=list(history), filters=filters, place=place)
    if as_json:
        _echo(json.dumps(answer.to_dict(trace=trace), ensure_ascii=False))
    else:
        _echo(render_answer(answer))


def _ask_batch(assistant: Assistant, lines: TextIO, filters: Filters) -> None:
    """One JSON line per question: the documented fields of ``Answer.to_dict``, with the question's id."""
    fields = ("answer", "abstained", "reason", "citations", "latency_ms")
    for qid, question, item in _batch(lines):
        try:
            data = assistant.ask(question, history=item.get("history") or [], filters=filters).to_dict()
            out: dict[str, Any] = {"id": qid, **{name: data[name] for name in fields}}
        except AssistantError as exc:
            out = {"id": qid, "answer": str(exc), "abstained": True, "reason": "error", "citations": [],
                   "latency_ms": 0.0}
        _echo(json.dumps(out, ensure_ascii=False))


# --- feedback ------------------------------------------------------------------------------

@cli.group()
def feedback() -> None:
    """The app's thumbs up/down and comments (LEVELUP_FEEDBACK_DB)."""


@feedback.command(name="export")
@click.option("--csv", "csv_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Write CSV to this file instead of JSON lines to standard output.")
def feedback_export(csv_file: Path | None) -> None:
    """Write out every rating: question, answer, cited passage ids, rating (1 or 0), comment, time, version.

    \b
        levelup feedback export > feedback.jsonl
        levelup feedback export --csv feedback.csv
    """
    import csv
    from dataclasses import fields

    from .feedback import Feedback, FeedbackStore

    rows = FeedbackStore(get_settings().feedback_db).rows()
    if csv_file is None:
        for row in rows:
            _echo(json.dumps(row.to_dict(), ensure_ascii=False))
        return
    with open(csv_file, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Feedback)])
        writer.writeheader()
        writer.writerows(row.to_dict() for row in rows)
    _echo(f"Wrote {len(rows)} rating(s) to {csv_file}.", err=True)


# --- serve ---------------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put a TLS proxy in front).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="API processes; each loads the model and the index (about 0.5 GB each).")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API; its contract is at /docs.

    \b
        levelup serve --port 8080
        curl -s localhost:8080/api/v1/ask -H 'Content-Type: application/json' \\
             -d '{"question": "How much is the UK Shared Prosperity Fund worth?"}'

    Hub sites whose pages call it go in LEVELUP_ALLOWED_ORIGINS. With several workers (or machines),
    point LEVELUP_CHROMA_URL at one Chroma server: every worker serves what an ingest publishes there.
    """
    import logging

    import uvicorn

    with _friendly_errors():
        get_settings()  # a bad LEVELUP_* setting fails here, once, not in every worker
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uvicorn.run("assistant.api:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, proxy_headers=True)


if __name__ == "__main__":
    cli()
