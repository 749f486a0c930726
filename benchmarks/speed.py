"""Where the time goes on the shared corpus: ingest against the model's floor, cold start, warm answers.

    python benchmarks/speed.py [--mirror ../shared/corpus] [--questions ../shared/eval/dev.jsonl]
                               [--repeat 3] [--cold-runs 3] [--json]

Fetches the corpus into a temporary folder, builds a fresh index there and prints:

* the floor: the model alone embedding the index's passages (their ``embed_text``, in batches of
  ``embedding_batch_size``, sorted by length); when the settings embed each sentence on its own as well
  (``sentence_vectors = "separate"``), those sentences are timed too, as part of the floor;
* a cold ingest into a fresh index (model already loaded), its ratio to the floor (target <= 1.1x),
  and a re-ingest with nothing changed;
* cold start to the first answer: ``levelup ask`` in a fresh process, wall time; then, in a second
  fresh process, what that first answer is made of (imports, model, index, place lookups, first ask);
* warm answer and search p50/p95 over the dev questions, one query embedding (median), and the
  serving process's peak memory, all from that second process.

Nothing from ``assistant`` is imported at module level: ``--serve`` runs this same file in a fresh
interpreter and times the imports itself. ``scale.py`` reuses these functions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.models import Chunk
    from assistant.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LEVELUP = Path(sys.executable).parent / "levelup"  # the console script installed beside this python


# --- small helpers -----------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile, as answer_latency.py reports it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def read_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def memory_mb() -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, in MB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            found[name] = int(value.split()[0]) / 1024  # reported in kB
    return {"peak_rss_mb": found.get("VmHWM", 0.0), "rss_mb": found.get("VmRSS", 0.0)}


def load_average() -> str:
    """Shown with the figures: the other engineer's test runs share these two cores."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def clocked(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds (every thread of this process) of ``call()``. Other jobs share these two
    cores (test runs, CI), which stretches wall time; CPU time is the steadier figure for ratios."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


# --- a temporary home with the corpus fetched --------------------------------------------

def fetched_home(home: Path, mirror: Path, index_name: str = "index") -> Settings:
    """A corpus folder (the project manifest, its sources copied from the mirror) and an index
    folder under ``home``, as Settings; the real corpus/ and index/ are never touched."""
    from assistant.ingest.sources import fetch
    from assistant.settings import Settings

    (home / "corpus").mkdir(exist_ok=True)
    shutil.copy(REPO / "corpus" / "manifest.json", home / "corpus" / "manifest.json")
    settings = Settings(corpus_dir=home / "corpus", index_dir=home / index_name)
    report = fetch(settings, mirror=mirror, progress=False)
    assert report.ok, report.failed
    return settings


def serving_env(settings: Settings) -> dict[str, str]:
    """The environment a fresh process needs to serve the temporary index with these settings.

    Every setting is passed, not only the folders: a default changed on disk while this runs
    (they are being tuned) would otherwise give the fresh process another index key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVELUP_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"LEVELUP_{name.upper()}"] = str(Path(value).resolve() if isinstance(value, Path) else value)
    env.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    return env


# --- ingest and the model's floor --------------------------------------------------------

def model_floor(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds for the model alone to embed ``texts``: one ``embed_documents`` call,
    which runs them in batches of ``embedding_batch_size``, sorted by length so that little goes
    on padding. Slices taken in index order would pad short sentences to long ones and make a
    slower "floor" than the ingest itself."""
    wall, cpu, _ = clocked(lambda: embedder.embed_documents(texts))
    return wall, cpu


def indexed_chunks(settings: Settings) -> list[Chunk]:
    """Every passage of the serving generation, read back from the store."""
    from assistant.index.store import Store

    return [chunk for chunk, _ in Store(settings).open().iter_records()]


def measure_ingest(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Cold ingest, the model's floor for the same passages, then a re-ingest with nothing changed."""
    from assistant.ingest import ingest

    wall, cpu, cold = clocked(lambda: ingest(settings=settings, embedder=embedder, progress=False))
    assert cold.ok, cold.failed
    chunks = indexed_chunks(settings)
    passages = [c.embed_text for c in chunks]
    sentences = [c.text[a:b] for c in chunks for a, b in c.units()]
    floor, floor_cpu = model_floor(embedder, passages)
    figures = {
        "documents": len(cold.added), "pages": cold.pages, "passages": cold.passages,
        "sentences": len(sentences), "sentences_embedded": cold.sentences_embedded,
        "ingest_s": wall, "ingest_cpu_s": cpu, "ingest_read_s": cold.read_seconds,
        "ingest_embed_s": cold.embed_seconds, "ingest_write_s": cold.write_seconds,
        "floor_passages_s": floor, "floor_passages_cpu_s": floor_cpu,
        "ingest_vs_floor": wall / floor, "ingest_vs_floor_cpu": cpu / floor_cpu,
    }
    # When each sentence is embedded on its own as well, that is model work an ingest cannot
    # avoid either: part of the floor, timed the same way.
    figures["sentence_vectors"] = getattr(settings, "sentence_vectors", "separate")
    if figures["sentence_vectors"] == "separate":
        alone, alone_cpu = model_floor(embedder, sentences)
        figures.update({"floor_sentences_s": alone, "floor_sentences_cpu_s": alone_cpu,
                        "ingest_vs_floor_with_sentences": wall / (floor + alone),
                        "ingest_vs_floor_with_sentences_cpu": cpu / (floor_cpu + alone_cpu)})
    figures["unchanged_ingest_s"], unchanged = timed(
        lambda: ingest(settings=settings, embedder=embedder, progress=False))
    assert unchanged.embedded == 0, unchanged.embedded
    return figures


# --- cold start: fresh processes ---------------------------------------------------------

def cold_cli(settings: Settings, question: str, runs: int) -> list[float]:
    """Wall seconds of ``levelup ask QUESTION`` in a fresh process, what a user waits for."""
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([str(LEVELUP), "ask", question], env=serving_env(settings),
                              cwd=Path(settings.index_dir).parent, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        assert done.returncode == 0 and done.stdout.strip(), done.stderr[-2000:]
    return walls


def serving_breakdown(settings: Settings, question: str, questions: Path, repeat: int) -> dict[str, Any]:
    """Run ``serve`` below in a fresh interpreter; its figures come back as JSON on the last line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", "--question", question,
               "--questions", str(questions), "--repeat", str(repeat)]
    spawned = time.time()
    done = subprocess.run(command, env=serving_env(settings), cwd=Path(settings.index_dir).parent,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # Interpreter start and this file's stdlib imports: from the spawn to serve()'s first line.
    figures["interpreter_s"] = figures.pop("entered_at") - spawned
    figures["cold_total_s"] = figures["interpreter_s"] + figures["first_answer_s"]
    return figures


def warm_timings(call: Callable[[str], Any], questions: list[str], repeat: int,
                 embedder: Embedder) -> list[float]:
    """Milliseconds of ``call(question)`` for each question, ``repeat`` times, every one as if new:
    the embedder remembers recent question vectors, which would make a repeat faster than users see."""
    timings = []
    for _ in range(repeat):
        for question in questions:
            embedder.forget_queries()
            started = time.perf_counter()
            call(question)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def serve(question: str, questions: list[str], repeat: int) -> dict[str, Any]:
    """In a fresh process: each part of the first answer, then warm latencies and memory.

    The parts run in the order the first ``ask`` would meet them, each made to happen on its own
    so it can be timed: imports, the model (loaded on first encode), the serving generation read
    into memory, the place lookups, and the first answer itself (what is still lazy after that).
    """
    figures: dict[str, Any] = {"entered_at": time.time()}  # the parent subtracts its own start
    started = time.perf_counter()
    import assistant.pipeline as pipeline
    figures["import_s"] = time.perf_counter() - started
    from assistant.embed import get_embedder
    from assistant.settings import get_settings

    settings = get_settings()
    embedder = get_embedder(settings)
    # What a question is embedded with (the settings may pick a lighter backend than ingest's model).
    figures["model_s"], _ = timed(lambda: embedder.embed_query("load the model: the first encode"))
    assistant = pipeline.Assistant(settings, embedder=embedder)
    figures["index_s"], index = timed(assistant.index)
    figures["places_s"], _ = timed(assistant.gazetteer)
    figures["first_ask_s"], answer = timed(lambda: assistant.ask(question))
    figures["first_answer_s"] = time.perf_counter() - started
    figures["first_answer_abstained"] = bool(answer.abstained)
    figures["passages_loaded"] = len(index.chunks)

    for name, call in (("search", lambda q: assistant.search(q, 10)), ("answer", assistant.ask)):
        timings = warm_timings(call, questions, repeat, embedder)
        figures[f"{name}_n"] = len(timings)
        figures[f"{name}_p50_ms"] = statistics.median(timings)
        figures[f"{name}_p95_ms"] = percentile(timings, 0.95)
        figures[f"{name}_max_ms"] = max(timings)

    query_ms = []
    for i in range(50):
        embedder.forget_queries()
        text = f"{questions[i % len(questions)]} ({i})"  # distinct texts too, in case of another cache
        seconds, _ = timed(lambda text=text: embedder.embed_queries([text]))
        query_ms.append(seconds * 1000)
    figures["query_embed_ms"] = statistics.median(query_ms)
    figures.update(memory_mb())
    return figures


# --- the report --------------------------------------------------------------------------

def print_report(f: dict[str, Any]) -> None:
    print(f"load average      {f['load_before']} (before)  {f['load_after']} (after)")
    print(f"corpus            {f['documents']} documents, {f['pages']} pages, {f['passages']} passages, "
          f"{f['sentences']} sentences")
    print("ingest                 wall       CPU")
    print(f"  floor            {f['floor_passages_s']:7.2f} s {f['floor_passages_cpu_s']:7.1f} s  "
          f"the model alone: the {f['passages']} passages' embed_text, batches of {f['batch']} by length")
    if "floor_sentences_s" in f:
        print(f"  + sentences      {f['floor_sentences_s']:7.2f} s {f['floor_sentences_cpu_s']:7.1f} s  the "
              f"{f['sentences']} sentences on their own (sentence vectors: separate)")
    print(f"  cold ingest      {f['ingest_s']:7.2f} s {f['ingest_cpu_s']:7.1f} s  fresh index, model loaded; "
          f"{f['pages'] / f['ingest_s']:.1f} pages/s, {f['passages'] / f['ingest_s']:.1f} passages/s")
    print(f"    as reported    read+chunk {f['ingest_read_s']:.2f} s, embed {f['ingest_embed_s']:.2f} s, "
          f"write {f['ingest_write_s']:.2f} s")
    print(f"  ingest / floor   {f['ingest_vs_floor']:7.2f} x {f['ingest_vs_floor_cpu']:7.2f} x  "
          "target <= 1.1x")
    if "floor_sentences_s" in f:
        print(f"  ingest / both    {f['ingest_vs_floor_with_sentences']:7.2f} x "
              f"{f['ingest_vs_floor_with_sentences_cpu']:7.2f} x  against all the model work it does")
    print(f"  no-change        {f['unchanged_ingest_s']:7.3f} s            re-ingest, nothing re-embedded")
    cli = f["cold_cli_s"]
    print("cold start to first answer")
    print(f"  levelup ask     {statistics.median(cli):7.2f} s  wall, fresh process (median of {len(cli)}: "
          f"{', '.join(f'{s:.2f}' for s in cli)})")
    parts = [("import assistant.pipeline", "import_s"), ("model load + first encode", "model_s"),
             ("index open (Assistant.index)", "index_s"), ("place lookups (gazetteer)", "places_s"),
             ("first ask", "first_ask_s")]
    total = f["cold_total_s"]
    for label, key in [("python start (+ stdlib)", "interpreter_s"), *parts]:
        print(f"  {label:<29}{f[key]:6.2f} s  {100 * f[key] / total:4.0f}%")
    print(f"  {'= first answer, 2nd process':<29}{total:6.2f} s  (the parts timed one by one)")
    print(f"warm ({f['answer_n']} answers, {f['search_n']} searches, each question as new)")
    print(f"  answer          p50 {f['answer_p50_ms']:6.1f} ms   p95 {f['answer_p95_ms']:6.1f} ms   "
          f"max {f['answer_max_ms']:6.1f} ms  (target p95 <= 150 ms)")
    print(f"  search          p50 {f['search_p50_ms']:6.1f} ms   p95 {f['search_p95_ms']:6.1f} ms   "
          f"max {f['search_max_ms']:6.1f} ms  (target p95 <= 50 ms)")
    print(f"  query embedding {f['query_embed_ms']:6.1f} ms  median of 50, no remembered vectors "
          f"= {100 * f['query_embed_ms'] / f['search_p50_ms']:.0f}% of search p50")
    print(f"memory            {f['peak_rss_mb']:6.0f} MB peak RSS of the serving process "
          f"({f['rss_mb']:.0f} MB after the warm runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=SHARED / "corpus")
    parser.add_argument("--questions", type=Path, default=SHARED / "eval" / "dev.jsonl")
    parser.add_argument("--repeat", type=int, default=3, help="warm passes over the questions")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh `levelup ask` processes timed")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the fresh process
    parser.add_argument("--question", help=argparse.SUPPRESS)
    args = parser.parse_args()
    questions = read_questions(args.questions)
    if args.serve:
        print(json.dumps(serve(args.question, questions, args.repeat)))
        return

    from assistant.embed import get_embedder

    figures: dict[str, Any] = {"load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="levelup-speed-") as tmp:
        settings = fetched_home(Path(tmp), args.mirror)
        embedder = get_embedder(settings)
        embedder.embed_documents(["warm up: load the passage model before timing"])
        figures["batch"] = settings.embedding_batch_size
        figures.update(measure_ingest(settings, embedder))
        figures["cold_cli_s"] = cold_cli(settings, questions[0], args.cold_runs)
        figures.update(serving_breakdown(settings, questions[0], args.questions, args.repeat))
    figures["load_after"] = load_average()
    print_report(figures)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
