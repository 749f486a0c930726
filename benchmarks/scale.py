"""How cost grows with corpus size: the shared corpus once, and as N altered copies of it.

    python benchmarks/scale.py [--times 20] [--mirror ../shared/corpus] [--questions ../shared/eval/dev.jsonl]
                               [--repeat 2] [--cold-runs 1] [--json] [--keep DIR]

Builds a synthetic corpus N times the size of the real one: every fetched document written out
as text (a PDF through the library's own loader, as Markdown with its pages and headings), then
copied N - 1 times under new ids, each copy altered so that ingest indexes it as a document of
its own. Ingests 1x (copy 0, the unaltered texts) and Nx into two fresh indexes, and prints for
each: ingest time per page and per passage, cold start to the first answer (fresh processes),
warm answer and search p50/p95 over the dev questions, and the serving process's peak memory;
then the ratios Nx / 1x against the targets (warm answer p95 at Nx <= 2 x at 1x).

Why the copies are altered so much: ingest folds a document whose text equals another's, and
links passages that share half their word triples (``ingest/duplicates.py``); search then folds
them into one result. Shifted numbers or a token per paragraph leave most triples intact, so
each copy also swaps every word of four letters or more for another word of the corpus, by a
fixed per-copy permutation among words of the same model-token count. Token counts, and so
passage boundaries, stay the same, the word frequencies are the corpus's own (only which word
has which frequency changes), and running headers still repeat page after page. The vocabulary
does not grow with N, as a real corpus's would.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speed import (
    SHARED,
    clocked,
    cold_cli,
    fetched_home,
    indexed_chunks,
    load_average,
    percentile,
    read_questions,
    serving_breakdown,
    serving_env,
    warm_timings,
)

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.models import Document, Source
    from assistant.settings import Settings

WORD = re.compile(r"[A-Za-z]{4,}")
NUMBER = re.compile(r"\d+")
COPY = "-copy-"  # a copy's id is the source id, this, and the copy number


# --- the documents as text ---------------------------------------------------------------

def markdown_of(document: Document) -> str:
    """A loaded PDF as Markdown: its cleaned text, a form feed where each page starts, and ``#``
    lines for its headings, so the text loader finds the same pages and sections again."""
    text = document.text
    marks: list[tuple[int, int, str]] = [(page.start, 0, "\f") for page in document.pages[1:]]
    for heading in document.headings:
        hashes = "#" * min(heading.level, 6)
        if heading.end == heading.start:  # a bookmark whose title is not printed in the text
            marks.append((heading.start, 1, f"{hashes} {heading.title}\n\n"))
        elif heading.start == 0 or text[heading.start - 1] == "\n":
            marks.append((heading.start, 1, f"{hashes} "))
    parts, last = [], 0
    for offset, _, mark in sorted(marks):
        parts += [text[last:offset], mark]
        last = offset
    return "".join([*parts, text[last:]])


def source_texts(settings: Settings) -> list[tuple[Source, str, str]]:
    """(source, file suffix, text) of every fetched document of the manifest."""
    from assistant.ingest.load import load_document
    from assistant.ingest.sources import load_manifest, local_path

    found = []
    for source in load_manifest(settings).documents:
        path = local_path(source, settings)
        if not path.is_file():
            continue  # the full White Paper, which only an online fetch gets
        if source.is_pdf:
            found.append((source, ".md", markdown_of(load_document(path, source))))
        else:
            found.append((source, path.suffix, path.read_text(encoding="utf-8")))
    return found


# --- altered copies ----------------------------------------------------------------------

def word_buckets(texts: Sequence[str], count_tokens: Callable[[str], int]) -> list[list[str]]:
    """The corpus's words of four letters or more, grouped by how many model tokens each is, in a
    fixed shuffled order: a copy swaps a word only for another of its bucket."""
    words = {w.lower() for text in texts for w in WORD.findall(text)}
    buckets: dict[int, list[str]] = defaultdict(list)
    for word in sorted(words):
        buckets[count_tokens(word)].append(word)
    shuffler = random.Random(0)
    for bucket in buckets.values():
        shuffler.shuffle(bucket)
    return list(buckets.values())


def copy_mapping(buckets: list[list[str]], copy: int) -> dict[str, str]:
    """Copy ``copy``'s word swap: each word becomes the one ``copy`` places on in its bucket, so no
    word stays itself and two copies never swap a word alike (in buckets larger than N)."""
    mapping = {}
    for bucket in buckets:
        mapping.update((word, bucket[(i + copy) % len(bucket)]) for i, word in enumerate(bucket))
    return mapping


def _cased_like(word: str, model: str) -> str:
    if model.isupper():
        return word.upper()
    return word.capitalize() if model[0].isupper() else word


def altered(text: str, copy: int, mapping: dict[str, str]) -> str:
    """``text`` as copy ``copy`` says it: every number shifted by ``copy``, every long word swapped."""
    if copy == 0:
        return text
    text = NUMBER.sub(lambda m: str(int(m.group()) + copy).zfill(len(m.group())), text)
    return WORD.sub(lambda m: _cased_like(mapping.get(m.group().lower(), m.group()), m.group()), text)


def write_copies(folder: Path, texts: list[tuple[Source, str, str]], times: int,
                 count_tokens: Callable[[str], int]) -> list[list[Path]]:
    """Write ``times`` copies of every text into ``folder`` with a MANIFEST.json (new ids, altered
    titles), so ingest cites each as a document of its own. Returns the files of each copy."""
    buckets = word_buckets([text for _, _, text in texts], count_tokens)
    entries, files = [], []
    for copy in range(times):
        mapping = copy_mapping(buckets, copy)
        files.append([])
        for source, suffix, text in texts:
            name = f"{source.id}{COPY}{copy:02d}{suffix}"
            (folder / name).write_text(altered(text, copy, mapping), encoding="utf-8")
            files[-1].append(folder / name)
            title = source.title if copy == 0 else f"{altered(source.title, copy, mapping)} (copy {copy})"
            entries.append(replace(
                source, id=f"{source.id}{COPY}{copy:02d}", title=title, file=name, download_url=None,
                sha256=None, mirror_path=None, relation=source.relation if copy == 0 else "related",
                notes=f"benchmarks/scale.py: copy {copy} of {source.id}").to_dict())
    (folder / "MANIFEST.json").write_text(json.dumps({"documents": entries}, indent=1), encoding="utf-8")
    return files


# --- one scale ---------------------------------------------------------------------------

def folding(settings: Settings) -> dict[str, int]:
    """Passages indexed, those linked as near-duplicates, and links that join different copies
    (which would mean the alteration did not keep the copies apart)."""
    chunks = indexed_chunks(settings)
    copies: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks:
        if chunk.dup_group is not None:
            copies[chunk.dup_group].add(chunk.doc_id.rsplit(COPY, 1)[-1])
    return {"passages_indexed": len(chunks), "linked_passages": sum(c.dup_group is not None for c in chunks),
            "cross_copy_groups": sum(len(found) > 1 for found in copies.values())}


def measure(settings: Settings, files: list[Path], embedder: Embedder, question: str,
            questions: Path, repeat: int, cold_runs: int) -> dict[str, Any]:
    """Cold ingest of ``files`` into a fresh index, then cold start and warm figures from fresh processes."""
    from assistant.ingest import ingest

    figures: dict[str, Any] = {"files": len(files), "load_before": load_average()}
    figures["ingest_s"], figures["ingest_cpu_s"], report = clocked(
        lambda: ingest(files, settings=settings, embedder=embedder, progress=False))
    assert report.ok, report.failed
    figures.update({
        "documents": len(report.added), "pages": report.pages, "passages": report.passages,
        "read_s": report.read_seconds, "embed_s": report.embed_seconds, "write_s": report.write_seconds,
        "content_folded": sum("same text as" in w for w in report.warnings),
    })
    figures["rest_s"] = figures["ingest_s"] - figures["read_s"] - figures["embed_s"]
    figures["ms_per_page"] = 1000 * figures["ingest_s"] / report.pages
    figures["ms_per_passage"] = 1000 * figures["ingest_s"] / report.passages
    figures["cpu_ms_per_page"] = 1000 * figures["ingest_cpu_s"] / report.pages
    figures["cpu_ms_per_passage"] = 1000 * figures["ingest_cpu_s"] / report.passages
    figures.update(folding(settings))
    figures["cold_cli_s"] = cold_cli(settings, question, cold_runs)
    figures.update(serving_breakdown(settings, question, questions, repeat))
    figures["load_after"] = load_average()
    return figures


# --- warm answers on both indexes, side by side --------------------------------------------

def paired_warm(settings: Settings, index_dirs: Sequence[Path], questions: Path,
                repeat: int) -> dict[str, Any]:
    """Run ``serve_pair`` below in a fresh process; its figures come back as JSON on the last line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--pair", *map(str, index_dirs),
               "--questions", str(questions), "--repeat", str(repeat)]
    done = subprocess.run(command, env=serving_env(settings), cwd=Path(settings.index_dir).parent,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve_pair(index_dirs: Sequence[Path], questions: list[str], repeat: int) -> dict[str, Any]:
    """Warm answers and searches on each index in turn, question by question, in one process.

    Other jobs share these cores and come and go (test runs, CI); timed one index after the
    other, a busy minute would land on one side only. Interleaved, both sides see the same load."""
    from assistant.embed import get_embedder
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    embedder = get_embedder(Settings())
    assistants = [Assistant(Settings(index_dir=d), embedder=embedder) for d in index_dirs]
    for assistant in assistants:
        assistant.ask(questions[0])  # open the index, load the place lookups
    figures: dict[str, Any] = {}
    answers: list[list[float]] = [[] for _ in assistants]
    searches: list[list[float]] = [[] for _ in assistants]
    for turn in range(repeat * len(questions)):
        question = questions[turn % len(questions)]
        order = range(len(assistants)) if turn % 2 == 0 else reversed(range(len(assistants)))
        for i in order:
            answers[i] += warm_timings(assistants[i].ask, [question], 1, embedder)
            searches[i] += warm_timings(lambda q, i=i: assistants[i].search(q, 10), [question], 1, embedder)
    for i, _ in enumerate(assistants):
        figures[f"{i}_answer_p50_ms"] = statistics.median(answers[i])
        figures[f"{i}_answer_p95_ms"] = percentile(answers[i], 0.95)
        figures[f"{i}_search_p50_ms"] = statistics.median(searches[i])
        figures[f"{i}_search_p95_ms"] = percentile(searches[i], 0.95)
    figures["n"] = len(answers[0])
    return figures


# --- the report --------------------------------------------------------------------------

ROWS = [  # label, key, format, target of the ratio Nx / 1x (None: no target, just shown)
    ("documents", "documents", "{:.0f}", None),
    ("pages", "pages", "{:.0f}", None),
    ("passages", "passages", "{:.0f}", None),
    ("near-duplicate passages", "linked_passages", "{:.0f}", None),
    ("ingest, s", "ingest_s", "{:.1f}", None),
    ("ingest CPU (all threads), s", "ingest_cpu_s", "{:.1f}", None),
    ("  read + chunk, s", "read_s", "{:.1f}", None),
    ("  embed, s", "embed_s", "{:.1f}", None),
    ("  rest (link, word index, publish), s", "rest_s", "{:.1f}", None),
    ("ingest per page, ms", "ms_per_page", "{:.0f}", "~1x (linear)"),
    ("ingest per passage, ms", "ms_per_passage", "{:.0f}", "~1x (linear)"),
    ("ingest CPU per page, ms", "cpu_ms_per_page", "{:.0f}", "~1x (linear)"),
    ("ingest CPU per passage, ms", "cpu_ms_per_passage", "{:.0f}", "~1x (linear)"),
    ("cold start, levelup ask wall, s", "cold_cli_median_s", "{:.2f}", None),
    ("  python start, s", "interpreter_s", "{:.2f}", None),
    ("  import assistant.pipeline, s", "import_s", "{:.2f}", None),
    ("  model load + first encode, s", "model_s", "{:.2f}", None),
    ("  index open, s", "index_s", "{:.2f}", None),
    ("  place lookups, s", "places_s", "{:.2f}", None),
    ("  first ask, s", "first_ask_s", "{:.2f}", None),
    ("warm answer p50, ms", "answer_p50_ms", "{:.1f}", None),
    ("warm answer p95, ms", "answer_p95_ms", "{:.1f}", "<= 2x"),
    ("warm search p50, ms", "search_p50_ms", "{:.1f}", None),
    ("warm search p95, ms", "search_p95_ms", "{:.1f}", None),
    ("query embedding, ms", "query_embed_ms", "{:.1f}", None),
    ("peak RSS of the serving process, MB", "peak_rss_mb", "{:.0f}", None),
]


def print_report(one: dict[str, Any], many: dict[str, Any], times: int) -> None:
    width = max(len(label) for label, *_ in ROWS) + 2
    print(f"load average      1x: {one['load_before']} -> {one['load_after']}   "
          f"{times}x: {many['load_before']} -> {many['load_after']}")
    print(f"{'':<{width}}{'1x':>10}{f'{times}x':>10}{'ratio':>9}  target")
    for label, key, form, target in ROWS:
        ratio = many[key] / one[key] if one[key] else float("nan")
        print(f"{label:<{width}}{form.format(one[key]):>10}{form.format(many[key]):>10}{ratio:8.2f}x  "
              f"{target or ''}")
    per_copy = many["passages"] / (times * one["passages"])
    ok = "kept apart" if many["cross_copy_groups"] == 0 and many["content_folded"] == 0 else "NOT kept apart"
    print(f"copies            {ok}: {times}x passages = {per_copy:.3f} x {times} x the 1x count; "
          f"{many['cross_copy_groups']} near-duplicate groups join two copies; "
          f"{many['content_folded']} documents folded as the same text")
    pair = many["paired"]
    print(f"side by side      one process, the two indexes question by question ({pair['n']} each):")
    for what in ("answer", "search"):
        a50, a95 = pair[f"0_{what}_p50_ms"], pair[f"0_{what}_p95_ms"]
        b50, b95 = pair[f"1_{what}_p50_ms"], pair[f"1_{what}_p95_ms"]
        print(f"  warm {what:<7}    1x p50 {a50:6.1f} p95 {a95:6.1f} ms   "
              f"{times}x p50 {b50:6.1f} p95 {b95:6.1f} ms   p95 ratio {b95 / a95:.2f}x")
    p95 = pair["1_answer_p95_ms"] / pair["0_answer_p95_ms"]
    print(f"warm answer p95   {p95:.2f}x at {times}x, side by side "
          f"({'meets' if p95 <= 2 else 'misses'} the <= 2x target); "
          f"{many['answer_p95_ms'] / one['answer_p95_ms']:.2f}x from the two serving processes above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, default=20, help="copies of the corpus in the large index")
    parser.add_argument("--mirror", type=Path, default=SHARED / "corpus")
    parser.add_argument("--questions", type=Path, default=SHARED / "eval" / "dev.jsonl")
    parser.add_argument("--repeat", type=int, default=2, help="warm passes over the questions")
    parser.add_argument("--cold-runs", type=int, default=1, help="fresh `levelup ask` processes timed")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (copies, both indexes)")
    parser.add_argument("--pair", nargs=2, type=Path, help=argparse.SUPPRESS)  # the side-by-side process
    args = parser.parse_args()
    if args.pair:
        print(json.dumps(serve_pair(args.pair, read_questions(args.questions), args.repeat)))
        return
    question = read_questions(args.questions)[0]

    from assistant.embed import get_embedder
    from assistant.settings import Settings

    with tempfile.TemporaryDirectory(prefix="levelup-scale-") as tmp:
        home = Path(tmp) if args.keep is None else args.keep.resolve()
        home.mkdir(parents=True, exist_ok=True)
        if any(home.iterdir()):
            parser.error(f"--keep {home}: choose a new or empty folder (the ingests are timed from nothing)")
        settings = fetched_home(home, args.mirror, index_name="index-1x")
        embedder = get_embedder(settings)
        embedder.embed_documents(["warm up: load the passage model before timing"])
        (home / "synthetic").mkdir()
        files = write_copies(home / "synthetic", source_texts(settings), args.times, embedder.count_tokens)
        results = {}
        for label, chosen in (("1x", files[:1]), (f"{args.times}x", files)):
            scaled = Settings(corpus_dir=home / "corpus", index_dir=home / f"index-{label}")
            results[label] = measure(scaled, [f for copy in chosen for f in copy], embedder, question,
                                     args.questions, args.repeat, args.cold_runs)
            results[label]["cold_cli_median_s"] = statistics.median(results[label]["cold_cli_s"])
            print(f"{label}: ingested {results[label]['passages']} passages in "
                  f"{results[label]['ingest_s']:.1f} s", flush=True)
        many = results[f"{args.times}x"]
        many["paired"] = paired_warm(settings, [home / "index-1x", home / f"index-{args.times}x"],
                                     args.questions, args.repeat)
    print_report(results["1x"], results[f"{args.times}x"], args.times)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
