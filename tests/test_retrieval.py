"""Retrieval: the metric code, query understanding, filters, duplicates, and the LangChain face."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import ConfigurationError, QueryError
from assistant.evaluation import EvalQuestion, Scores, judge, normalise, read_questions, run
from assistant.ingest import ingest
from assistant.models import Chunk, Filters, Hit, Query, Source
from assistant.pipeline import Assistant
from assistant.retrieval.follow_up import is_follow_up, standalone
from assistant.retrieval.glossary import expand
from assistant.retrieval.modes import MODES
from assistant.retrieval.names import DocumentNames, asks_who_wrote
from assistant.retrieval.query import question_parts
from assistant.settings import Settings
from assistant.text import ENUMERATOR, tokenize

# --- the metric code, on hand-made cases -------------------------------------------------


def question(*evidence: str, category: str = "fact") -> EvalQuestion:
    return EvalQuestion(id="q", question="?", evidence=evidence, category=category)


def test_normalisation_follows_the_judging_rules() -> None:
    assert normalise("  The\u00a0£2.6bn\n\nUK  Shared Pros\u00adperity ﬁnance ") == \
        "the £2.6bn uk shared prosperity finance"


def test_a_span_counts_wherever_it_appears_after_normalisation() -> None:
    judged = judge(question("£2.6 billion UK Shared"),
                   ["nothing here", "The £2.6 BILLION\nUK shared prosperity"])
    assert judged.span_ranks == (2,) and not judged.covered_at(1) and judged.covered_at(3)
    assert judged.reciprocal_rank == 0.5


def test_every_span_must_be_covered_for_recall() -> None:
    judged = judge(question("alpha", "beta"), ["alpha", "x", "y", "z", "w", "beta"])
    assert judged.span_ranks == (1, 6)
    assert not judged.covered_at(5) and judged.covered_at(10)
    assert judged.reciprocal_rank == 1.0  # MRR counts the first passage with any span


def test_ndcg_rewards_new_spans_only() -> None:
    ideal = judge(question("alpha", "beta"), ["alpha", "beta"])
    repeated = judge(question("alpha", "beta"), ["alpha", "alpha again", "beta"])
    assert ideal.ndcg == pytest.approx(1.0)
    assert ideal.gains[:2] == (1, 1) and repeated.gains[:3] == (1, 0, 1)
    assert repeated.ndcg == pytest.approx((1 + 1 / 2) / (1 + 1 / 1.5849625), rel=1e-3)
    assert judge(question("alpha"), ["nope"]).ndcg == 0.0


def test_ndcg_never_exceeds_one_when_a_passage_holds_several_spans() -> None:
    together = judge(question("alpha", "beta", "gamma"), ["alpha beta gamma"])
    late = judge(question("alpha", "beta", "gamma"), ["x", "alpha beta gamma"])
    part_missing = judge(question("alpha", "beta"), ["alpha"])
    assert together.ndcg == pytest.approx(1.0)
    assert late.ndcg == pytest.approx(1 / 1.5849625, rel=1e-3)
    assert part_missing.ndcg == pytest.approx(1 / (1 + 1 / 1.5849625), rel=1e-3)


def test_a_result_counts_the_renderings_it_returns_and_the_strict_reading_does_not() -> None:
    source = Source(id="summary-pdf", title="Summary (PDF)", publisher="DLUHC", published="2022",
                    licence="OGL", file="s.md")
    def chunk(text: str, doc: str) -> Chunk:
        return Chunk(id=f"{doc}:1", digest="d", doc_id=doc, source=source, text=text, heading_path=(),
                     page_start=1, page_end=1, page_label="1", start=0, end=len(text), dup_group="g")
    page, pdf = (chunk("a £150 million Community Ownership Fund", "page"),
                 chunk("a £150m Community Ownership Fund", "pdf"))
    result = run([question("a £150m Community Ownership Fund")], lambda q: [Hit(page, 1.0, 1, also=(pdf,))])
    assert result.overall.recall[1] == 1.0
    assert Scores.of(result.first_rendering).recall[10] == 0.0


def test_scores_average_answerable_questions_only() -> None:
    judged = [judge(question("a"), ["a"]), judge(question("b"), ["x", "b"]), judge(question(), ["x"])]
    scores = Scores.of(judged)
    assert scores.count == 2
    assert scores.recall[1] == 0.5 and scores.recall[3] == 1.0
    assert scores.mrr == pytest.approx(0.75)


def test_a_malformed_question_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "a", "question": "ok"}\n{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="line 2"):
        read_questions(bad)


# --- words ------------------------------------------------------------------------------------

@pytest.mark.parametrize("one, other", [("bike", "bikes"), ("case", "cases"), ("replace", "replacing"),
                                        ("create", "creates"), ("officer", "ofcers"), ("finance", "fnance")])
def test_word_forms_and_lost_ligatures_fold_to_one_token(one: str, other: str) -> None:
    assert tokenize(one, bigrams=False) == tokenize(other, bigrams=False)


@pytest.mark.parametrize("line, item", [
    ("• The strategic case", True), ("- a bullet", True), ("(a) a lettered item", True),
    ("2. a numbered item", True), ("Second, central government ...", True),
    ("£2.5 billion for towns", False), ("2.5 million people", False),
    ("No. 10 said", False), ("St. Helens council", False), ("Secondary schools", False),
])
def test_list_items_are_recognised_by_their_opening(line: str, item: bool) -> None:
    assert bool(ENUMERATOR.match(line)) is item


# --- query understanding ------------------------------------------------------------------

VOCABULARY = {"shared", "prosperity", "fund", "hle", "healthy", "accelerators", "innovation", "taking", "bus"}


def test_an_acronym_the_documents_never_use_is_spelt_out_where_it_stands() -> None:
    expanded = expand(Query("how much is the UKSPF worth?"), VOCABULARY)
    assert expanded.searched == "how much is the UKSPF (UK Shared Prosperity Fund) worth?"
    assert expanded.notes == ("Read “UKSPF” as “UK Shared Prosperity Fund”.",)


def test_an_acronym_the_documents_use_only_adds_words_to_the_word_search() -> None:
    expanded = expand(Query("HLE target for 2035?"), VOCABULARY)
    assert expanded.searched == "HLE target for 2035?" and expanded.related == ("Healthy Life Expectancy",)


def test_a_misspelt_word_is_corrected_from_the_index_vocabulary() -> None:
    expanded = expand(Query("is one of the new innovation acclerators near us?"), VOCABULARY, {"near"})
    assert "innovation accelerators near us" in expanded.searched
    assert "Searched “acclerators” as “accelerators”." in expanded.notes


def test_a_word_the_documents_phrase_their_own_way_adds_that_phrase_and_says_why() -> None:
    """Each mission is stated as "By 2030, ..."; a mission row never says "mission"."""
    expanded = expand(Query("what is the skills mission?"), VOCABULARY | {"mission"})
    assert expanded.searched == "what is the skills mission?" and expanded.related == ("By 2030",)
    assert expanded.notes == ("Also looked for “By 2030”: each of the 12 missions is worded “By 2030, …”.",)


@pytest.mark.parametrize("text", ["when did they start talking about it?", "we are in Wigan", "Bolton buses"])
def test_real_words_and_names_are_not_corrected(text: str) -> None:
    assert expand(Query(text), VOCABULARY, {"talking", "start", "when", "about"}).searched == text


@pytest.mark.parametrize("follow_up, history, expected", [
    ("and how much is it?", ["what is the UKSPF?"], "How much is UKSPF?"),
    ("what about Wales?", ["How much City and Growth Deal money goes to Scotland?"],
     "How much City and Growth Deal money goes to Wales?"),
    ("and what about skills?", ["What does the paper promise on housing?"],
     "What does the paper promise on skills?"),
    ("what about the LUF?", ["How much is the UKSPF worth?"], "How much is the LUF worth?"),
    ("who chairs it?", ["What is the Skills and Productivity Board?"],
     "Who chairs Skills and Productivity Board?"),
])
def test_a_follow_up_is_rewritten_to_stand_alone(follow_up: str, history: list[str], expected: str) -> None:
    rewritten = standalone(Query(follow_up), history)
    assert rewritten.text == expected
    assert rewritten.notes[-1] == f"Read the follow-up as: “{expected}”."


def test_a_question_that_stands_alone_is_left_alone() -> None:
    assert not is_follow_up("How many Education Investment Areas will there be?")
    assert standalone(Query("How many EIAs?"), ["what is the UKSPF?"]).text == "How many EIAs?"
    assert standalone(Query("and how much is it?"), []).text == "and how much is it?"


def test_documents_are_named_by_their_titles_and_commentary_by_its_publisher() -> None:
    names = DocumentNames([
        Source(id="skills", title="Skills for Jobs: Lifelong Learning for Opportunity and Growth (CP 338)",
               publisher="DfE", published="2021", licence="OGL", file="s.pdf"),
        Source(id="green", title="The Green Book: UK Government Guidance on Appraisal (2026 edition)",
               publisher="HM Treasury", published="2026", licence="OGL", file="g.md"),
        Source(id="techuk", title="Levelling Up - White Paper (techUK blog post)", publisher="techUK",
               published="2022", licence="techUK", file="t.txt", kind="commentary"),
    ])
    assert names.named_in("according to the skills for jobs white paper, what is...") == {"skills"}
    assert names.named_in("does my council have to use the Green Book?") == {"green"}
    assert names.named_in("what did techUK like about it?") == {"techuk"}
    assert names.named_in("what are the missions of the levelling up white paper?") == set()


def test_the_white_paper_is_named_by_what_people_call_it_and_commentary_on_it_by_its_publisher() -> None:
    names = DocumentNames([
        Source(id="summary", title="Levelling Up the United Kingdom: executive summary", publisher="DLUHC",
               published="2022", licence="OGL", file="s.md", relation="core"),
        Source(id="techuk", title="Levelling Up - White Paper (techUK blog post)", publisher="techUK",
               published="2022", licence="techUK", file="t.txt", kind="commentary", relation="related"),
    ])
    assert names.named_in("how many new IoTs does the levelling up paper promise?") == {"summary"}
    assert names.named_in("who wrote the techUK blog post on the levelling up white paper?") == {"techuk"}
    assert names.named_in("what does levelling up mean for buses?") == set()


# --- lists that run on over several passages -------------------------------------------------

def _paragraph(opening: str, topic: str) -> str:
    filler = " ".join(f"{topic} work in year {n} covers survey, design, consultation and delivery "
                      f"in stage {n}." for n in range(1, 11))
    return f"{opening} {filler}"


CANAL_PLAN = "\n\n".join([
    "# The canal plan",
    _paragraph("The canal plan rests on four pillars. First, the trust will dredge every lock on "
               "the network.", "Dredging"),
    "## Spending by year",
    _paragraph("Spending rises from £2 million in 2025 to £9 million in 2029.", "Budget"),
    _paragraph("Second, towpaths will be resurfaced so that cyclists and walkers can share them.", "Towpath"),
    _paragraph("Third, boat licences will move online.", "Licensing"),
    _paragraph("Fourth, volunteers will adopt a mile of bank each.", "Volunteering"),
    "# Other matters",
    _paragraph("Moorings near Bath are busy in summer.", "Mooring"),
])


def test_the_rest_of_a_counted_list_follows_the_passage_that_announces_it(settings: Settings, embedder,  # type: ignore[no-untyped-def]
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "canal.md").write_text(CANAL_PLAN, encoding="utf-8")
    ingest([folder], settings=settings, embedder=embedder, progress=False)
    assistant = Assistant(settings, embedder=embedder)
    hits = assistant.search("what are the four pillars of the canal plan?", k=5).hits
    first = next(i for i, h in enumerate(hits) if "rests on four pillars" in h.chunk.text)
    following = [h.chunk.text.split(".")[0] for h in hits[first + 1:first + 4]]
    assert following == ["Second, towpaths will be resurfaced so that cyclists and walkers can share them",
                         "Third, boat licences will move online",
                         "Fourth, volunteers will adopt a mile of bank each"]
    assert all(f"continues the list announced in #{first + 1}" in h.reasons
               for h in hits[first + 1:first + 4])
    # the table is stepped over
    assert not any("Spending rises" in h.chunk.text for h in hits[first + 1:first + 4])
    # Without a count in the question there is no list to follow.
    plain = assistant.search("what does the canal plan say about towpaths?", k=5).hits
    assert not any(r.startswith("continues the list") for h in plain for r in h.reasons)


# --- a question that names its document ------------------------------------------------------

def test_a_document_name_is_taken_out_of_the_word_search_but_not_from_questions_about_authorship() -> None:
    names = DocumentNames([Source(id="green", title="The Green Book: UK Government Guidance on Appraisal",
                                  publisher="HM Treasury", published="2026", licence="OGL", file="g.md")])
    assert names.without_names("in a Green  Book appraisal can I count jobs?") == \
        "in a appraisal can I count jobs?"
    # re-ranking also drops the title's own words beside the name ("Guidance on Appraisal"), not elsewhere
    assert names.without_names("in a Green Book appraisal can I count jobs?", title_words=True) == \
        "in a can I count jobs?"
    assert names.without_names("green book: when is an appraisal needed?", title_words=True) == \
        ": when is an appraisal needed?"
    assert asks_who_wrote("who wrote the techUK blog post?") and not asks_who_wrote("what did techUK like?")


@pytest.mark.parametrize("question, parts", [
    ("what did techUK like about the white paper and what were their criticisms?",
     ["what did techUK like about the white paper", "what were their criticisms"]),
    ("can I count the jobs my scheme creates and keynesian multiplier effects as benefits?",
     ["can I count the jobs my scheme creates", "keynesian multiplier effects as benefits"]),
    ("what does the Department for Levelling Up, Housing and Communities do?", []),  # a name
    ("what does the mobility strategy say about walking and cycling?", []),  # "cycling" alone is no part
    ("how do reading, writing and maths targets change and what about numeracy and skills?",
     ["how do reading, writing and maths targets change", "what about numeracy and skills"]),
    ("how much is the UKSPF worth?", []),
])
def test_a_question_in_parts_is_split_at_its_and(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts


# --- on the real corpus -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def assistant(corpus_settings: Settings, embedder) -> Assistant:  # type: ignore[no-untyped-def]
    return Assistant(corpus_settings, embedder=embedder)


def test_an_abbreviation_finds_what_the_documents_spell_out(assistant: Assistant) -> None:
    result = assistant.search("how much is the UKSPF worth in total?", k=3)
    assert any("£2.6 billion UK Shared Prosperity Fund" in h.chunk.text for h in result.hits)


def test_a_follow_up_is_searched_as_a_whole_question(assistant: Assistant) -> None:
    result = assistant.search("and how much is it worth?", k=3, history=["what is the UKSPF?"])
    assert "UKSPF" in result.query.text
    assert any("Shared Prosperity Fund" in h.chunk.text and "2.6" in h.chunk.text for h in result.hits)


def test_a_named_document_comes_first(assistant: Assistant) -> None:
    result = assistant.search("according to techUK, what happens to existing mayors?", k=3)
    assert result.hits[0].chunk.doc_id == "techuk-levelling-up-white-paper-blog"
    assert "from the document the question names" in result.hits[0].reasons


@pytest.mark.parametrize("question, passage", [
    ("why does the future of mobility strategy want more transport data sharing?",
     "Increased data sharing is vital"),
    ("under the green book, do jobs created by my project count as a benefit?", "principle of full"),
])
def test_within_a_named_document_the_rest_of_the_question_decides(assistant: Assistant, question: str,
                                                                  passage: str) -> None:
    """Every passage of the Green Book mentions the Green Book; the word search looks for the rest."""
    def first_rank(mode: str) -> int | None:
        return next((h.rank for h in assistant.search(question, k=10, mode=mode).hits
                     if passage in " ".join(h.chunk.text.split())), None)
    assert first_rank("hybrid+expand+route+rerank+lists") == 1
    assert (first_rank("default, names kept in the word search") or 11) > 1


@pytest.mark.parametrize("mission, statement", [
    ("skills", "successfully completing high"),
    ("housing", "renters will have a secure path to ownership"),
    ("crime", "homicide, serious violence and neighbourhood crime will have fallen"),
])
def test_a_mission_is_found_by_its_name(assistant: Assistant, mission: str, statement: str) -> None:
    """The missions table gives each row a label and a "By 2030, ..." statement, never the word "mission"."""
    hits = assistant.search(f"what is the {mission} mission?", k=5).hits
    assert any(statement in " ".join(t.split()) for h in hits for t in h.texts)


def test_each_part_of_a_question_about_a_named_document_is_found(assistant: Assistant) -> None:
    """"a green book appraisal" matches every Green Book passage by meaning; re-ranking compares the
    rest of the question with the book's sentences, over a deeper pool for a question in parts."""
    question = ("for a green book appraisal, may I count the jobs my project creates and keynesian "
                "multipliers as benefits?")
    wanted = ["principle of full displacement of jobs", "not count Keynesian multiplier effects"]

    def found(mode: str) -> list[bool]:
        texts = [" ".join(t.split())
                 for h in assistant.search(question, k=5, mode=mode).hits for t in h.texts]
        return [any(w in t for t in texts) for w in wanted]
    assert found("hybrid+expand+route+rerank+lists") == [True, True]
    assert found("default, names kept when re-ranking") != [True, True]


def test_near_duplicates_do_not_fill_the_top_five(assistant: Assistant) -> None:
    hits = assistant.search("how many Education Investment Areas will there be?", k=5).hits
    assert len(hits) == 5
    texts = [" ".join(h.chunk.text.split()) for h in hits]
    assert len(set(texts)) == 5
    # The other rendering of a passage is folded into it, and returned with it.
    folded = [h for h in assistant.search("how much is the Culture Recovery Fund?", k=5).hits if h.also]
    assert folded, "the two renderings of the executive summary should meet in the top five"
    for hit in folded:
        assert all(a.dup_group == hit.chunk.dup_group and a.doc_id != hit.chunk.doc_id for a in hit.also)
        assert [a["text"] for a in hit.to_dict()["also_in"]] == [a.text for a in hit.also]
        assert hit.texts == (hit.chunk.text, *(a.text for a in hit.also))
    groups = [h.chunk.dup_group for h in hits if h.chunk.dup_group]
    # Two renderings of the same passage appear together only when each adds something the other lacks.
    for group in set(groups):
        members = [h for h in hits if h.chunk.dup_group == group]
        assert len(members) <= 2


def test_every_result_carries_its_passage_in_the_other_rendering(assistant: Assistant) -> None:
    """The gov.uk page says "£150 million", the PDF edition "£150m": a result shows both."""
    hits = assistant.search("what is the Community Ownership Fund worth?", k=5).hits
    hit = next(h for h in hits if "£150 million Community Ownership Fund" in h.chunk.text)
    assert any("£150m Community Ownership Fund" in a.text for a in hit.also)
    assert all(a.doc_id != hit.chunk.doc_id for a in hit.also)
    index = assistant.index()
    unique = next(c for c in index.chunks.values() if c.dup_group is None)
    assert index.renderings(unique) == []


@pytest.mark.parametrize("filters, check", [
    (Filters(documents=("dfe-skills-for-jobs-white-paper-2021",)),
     lambda c: c.doc_id == "dfe-skills-for-jobs-white-paper-2021"),
    (Filters(documents=("dfe-skills-for-jobs-white-paper-2021",), pages=(40, 45)),
     lambda c: c.page_start <= 45 and c.page_end >= 40),
    (Filters(section="Apprenticeships that work"), lambda c: "Apprenticeships that work" in c.section),
    (Filters(topics=("devolution",)), lambda c, index: c.id in index.topics.having["devolution"]),
], ids=["document", "document+pages", "section", "topic"])
def test_filters_restrict_what_comes_back(assistant: Assistant, filters: Filters, check) -> None:  # type: ignore[no-untyped-def]
    hits = assistant.search("apprenticeships for young people and funding", k=5, filters=filters).hits
    index = assistant.index()
    assert hits and all(check(h.chunk, index) if filters.topics else check(h.chunk) for h in hits)


@pytest.mark.parametrize("filters, message", [
    (Filters(documents=("no-such-doc",)), "No indexed document has the id no-such-doc. Indexed: "),
    (Filters(topics=("gardening",)), "Unknown topic gardening; choose from missions, funds"),
])
def test_a_filter_that_cannot_match_says_why(assistant: Assistant, filters: Filters, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(")):
        assistant.search("anything", filters=filters)


def test_hybrid_search_beats_either_half_on_the_dev_set(assistant: Assistant, shared: Path) -> None:
    """A regression guard on quality (the figures themselves come from `levelup eval`)."""
    questions = read_questions(shared / "eval" / "dev.jsonl")
    scores = {mode: run(questions, lambda q, m=mode: assistant.search(q, 10, mode=m).hits, mode).overall
              for mode in ("dense", "lexical", "hybrid+expand+route+rerank+lists")}
    best = scores["hybrid+expand+route+rerank+lists"]
    assert best.recall[5] >= 0.9 and best.mrr >= 0.83
    assert best.recall[5] > max(scores["dense"].recall[5], scores["lexical"].recall[5])


def test_the_retriever_plugs_into_a_langchain_chain(assistant: Assistant) -> None:
    from langchain_core.runnables import RunnableLambda

    from assistant.langchain import LevelUpRetriever

    retriever = LevelUpRetriever(assistant=assistant, k=3)
    cite = RunnableLambda(lambda docs: [f"{d.metadata['title']} p.{d.metadata['page_label']}" for d in docs])
    chain = retriever | cite
    citations = chain.invoke("Which minister wrote the foreword to the future of mobility urban strategy?")
    assert len(citations) == 3 and citations[0].startswith("Future of Mobility: Urban Strategy p.")
    documents = retriever.invoke("how much is the UKSPF worth?")
    assert documents[0].metadata["doc_id"] and documents[0].page_content and documents[0].id


def test_eval_prints_every_mode_side_by_side(corpus_settings: Settings, shared: Path, tmp_path: Path) -> None:
    subset = tmp_path / "three.jsonl"
    lines = (shared / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    subset.write_text("\n".join(lines[:2] + lines[-1:]), encoding="utf-8")
    env = {"LEVELUP_INDEX_DIR": str(corpus_settings.index_dir),
           "LEVELUP_CORPUS_DIR": str(corpus_settings.corpus_dir)}
    text = CliRunner().invoke(cli, ["eval", str(subset), "--compare", "--no-answers"], env=env,
                              catch_exceptions=False).output
    for mode in MODES:
        assert f"\n{mode}" in text
    assert "recall@5 by category (2 answerable questions)" in text
    data = json.loads(CliRunner().invoke(cli, ["eval", str(subset), "--json"], env=env).output)
    retrieval = data["retrieval"][0]
    assert retrieval["mode"] == "hybrid+expand+route+rerank+lists"
    assert set(retrieval["overall"]) >= {"recall@5", "mrr@10", "ndcg@10"}
    assert set(retrieval["latency_ms"]) == {"p50", "p95"}
    assert set(data["answers"]) >= {"evidence_coverage", "citation_validity", "abstained_unanswerable",
                                    "answered_answerable", "uncited_sentences", "latency_p95_ms"}
