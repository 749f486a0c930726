"""Topics are worked out from the passages: the missions from a missions table, the funds from the
names the documents use, the themes from their descriptions; every label says why.

A policy paper drawn for these tests has its own missions table and its own funds, none of them the
White Paper's, so nothing here can pass by knowing the real documents. The real corpus is checked
too: its twelve missions are read from the executive summary's table.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from assistant import Assistant, Filters, QueryError
from assistant.cli import cli
from assistant.embed import Embedder
from assistant.ingest import ingest
from assistant.settings import Settings

from .pdfs import PdfPage, make_pdf

FERRIES = ["Ferry crossings link the harbour towns of the coast to each other and to the city.",
           "Timetables will be simplified, fares capped and tickets shared between the operators."]


def coast_plan_pages() -> list[PdfPage]:
    """A made-up coastal plan: a missions table of three rows, prose after it, two funds."""
    return [
        PdfPage([
            ("h1", "1 Our missions"),
            ("p", ["Focus Area Mission"]),
            ("p", ["Harbours"]),
            ("p", ["By 2030, every harbour town will have a ferry service each hour."]),
            ("p", ["Orchards"]),
            ("p", ["By 2030, the number of community orchards will have doubled in every county."]),
            ("p", ["Libraries"]),
            ("p", ["By 2030, every public library will open on Sundays."]),
            ("p", ["These missions guide the whole plan. Each has a lead minister and a yearly report."]),
        ]),
        PdfPage([
            ("h1", "2 Harbours and ferries"),
            ("p", ["The Harbour Renewal Fund will repair quays and slipways in twelve towns.",
                   "Bids to the Harbour Renewal Fund open in spring; councils lead each bid.",
                   *FERRIES,
                   "Together this delivers the hourly ferry service (Mission One)."]),
        ]),
        PdfPage([
            ("h1", "3 Orchards and green spaces"),
            ("p", ["Community orchards will be planted on council land, with volunteers caring",
                   "for the trees and schools visiting at harvest time (Mission Two).",
                   "The Harbour Renewal Fund may also pay for orchards beside the quays.",
                   "The Lighthouse Fund, named only here, restores one lighthouse."]),
        ]),
        PdfPage([
            ("h1", "4 Libraries"),
            ("p", ["Library opening hours will be extended to Sundays across the region,",
                   "with reading groups and homework clubs for children and adults alike."]),
        ]),
    ]


@pytest.fixture(scope="module")
def coast(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    root = tmp_path_factory.mktemp("coast")
    settings = Settings(index_dir=root / "index", corpus_dir=root / "corpus")
    report = ingest([make_pdf(root / "coast-plan.pdf", coast_plan_pages())], settings=settings,
                    embedder=embedder, progress=False)
    assert report.ok, report.failed
    return Assistant(settings, embedder=embedder)


def test_the_missions_are_read_from_the_missions_table_in_its_order(coast: Assistant) -> None:
    missions = [(t.id, t.title) for t in coast.topics() if t.group == "missions"]
    assert missions == [("mission-1", "Mission 1: Harbours"), ("mission-2", "Mission 2: Orchards"),
                        ("mission-3", "Mission 3: Libraries")]
    assert coast.topics()[0].description == "By 2030, every harbour town will have a ferry service each hour."


def test_a_fund_named_in_several_passages_is_a_topic_and_one_named_once_is_not(coast: Assistant) -> None:
    funds = {t.id: t.title for t in coast.topics() if t.group == "funds"}
    assert funds == {"fund-harbour-renewal-fund": "Harbour Renewal Fund"}


def test_every_row_of_a_topic_says_why_it_carries_it(coast: Assistant) -> None:
    listing = coast.browse(Filters(topics=("fund-harbour-renewal-fund",)))
    assert listing.total >= 2
    for row in listing.rows:
        first = row.labels[0]
        assert first.topic == "fund-harbour-renewal-fund"
        assert ("Harbour Renewal Fund" in row.chunk.text) == (first.named == "Harbour Renewal Fund")
        assert first.why.startswith(("names \u201cHarbour Renewal Fund\u201d", "close in meaning"))


def test_the_papers_own_reference_to_a_mission_labels_the_passage(coast: Assistant) -> None:
    rows = coast.browse(Filters(topics=("mission-2",))).rows
    referring = [r for r in rows if "(Mission Two)" in r.chunk.text]
    assert referring and referring[0].labels[0].named == "Mission Two"
    assert all(r.labels[0].topic == "mission-2" for r in rows)
    assert {r.chunk.id for r in rows} == {r.chunk.id for r in coast.browse(Filters(topics=("missions",)),
                                                                            limit=100).rows
                                          if any(label.topic == "mission-2" for label in r.labels)}


def test_a_topic_listing_puts_the_closest_passages_first(coast: Assistant) -> None:
    rows = coast.browse(Filters(topics=("fund-harbour-renewal-fund",))).rows
    closeness = [r.labels[0].similarity for r in rows]
    assert closeness == sorted(closeness, reverse=True)


def test_search_with_a_topic_returns_only_its_passages(coast: Assistant) -> None:
    hits = coast.search("ferry timetables and fares", filters=Filters(topics=("mission-1",))).hits
    labelled = {r.chunk.id for r in coast.browse(Filters(topics=("mission-1",)), limit=100).rows}
    assert hits and {h.chunk.id for h in hits} <= labelled


def test_browsing_by_page_range_and_text_keeps_to_the_filter(coast: Assistant) -> None:
    everything = coast.browse(limit=100)
    on_page_3 = coast.browse(Filters(pages=(3, 3)), limit=100)
    assert 0 < on_page_3.total < everything.total
    assert all(r.chunk.page_start <= 3 <= r.chunk.page_end for r in on_page_3.rows)
    found = coast.browse(Filters(pages=(2, 4)), "library opening on Sundays", limit=3)
    assert found.rows and "Sundays" in found.rows[0].chunk.text
    assert all(r.chunk.page_end >= 2 for r in found.rows)
    second = coast.browse(limit=2, offset=2)
    assert [r.chunk.id for r in second.rows] == [r.chunk.id for r in everything.rows[2:4]]


def test_an_unknown_topic_says_which_exist(coast: Assistant) -> None:
    with pytest.raises(QueryError, match="Unknown topic mission-9; choose from missions, funds, mission-1"):
        coast.browse(Filters(topics=("mission-9",)))
    with pytest.raises(QueryError, match="Unknown topic gardening"):
        coast.search("anything", filters=Filters(topics=("gardening",)))


def test_the_cli_lists_topics_and_browses_them(coast: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("index_dir", "corpus_dir"):
        monkeypatch.setenv(f"LEVELUP_{name.upper()}", str(getattr(coast.settings, name)))
    listed = CliRunner().invoke(cli, ["topics"])
    assert listed.exit_code == 0, listed.output
    assert "mission-2" in listed.output and "Mission 2: Orchards" in listed.output
    assert "fund-harbour-renewal-fund" in listed.output
    browsed = CliRunner().invoke(cli, ["browse", "--topic", "fund-harbour-renewal-fund", "--limit", "1"])
    assert browsed.exit_code == 0, browsed.output
    assert "fund-harbour-renewal-fund: names \u201cHarbour Renewal Fund\u201d" in browsed.output
    assert "p. " in browsed.output
    wrong = CliRunner().invoke(cli, ["browse", "--topic", "gardening"])
    assert wrong.exit_code == 1 and "Unknown topic gardening" in wrong.output


# --- the real corpus -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(corpus_settings: Settings, embedder: Embedder) -> Assistant:
    return Assistant(corpus_settings, embedder=embedder)


def test_the_white_papers_twelve_missions_come_from_its_table(corpus: Assistant) -> None:
    missions = [t.title for t in corpus.topics() if t.group == "missions"]
    assert len(missions) == 12
    assert missions[0] == "Mission 1: Living Standards" and missions[-1] == "Mission 12: Local Leadership"
    assert "Mission 9: Pride in Place" in missions
    assert all(t.description.startswith("By 2030,") for t in corpus.topics() if t.group == "missions")


def test_the_funds_the_paper_names_are_topics(corpus: Assistant) -> None:
    funds = {t.title for t in corpus.topics() if t.group == "funds"}
    named = {"UK Shared Prosperity Fund", "Levelling Up Fund", "Towns Fund", "Community Ownership Fund"}
    assert named <= funds


def test_a_passage_the_paper_ties_to_a_mission_carries_it(corpus: Assistant) -> None:
    rows = corpus.browse(Filters(topics=("mission-3",)), limit=100).rows
    assert any("(Mission Three)" in r.chunk.text for r in rows)
    transport = corpus.browse(Filters(topics=("transport",)), limit=5).rows
    assert transport and all(r.labels[0].topic == "transport" for r in transport)


def test_topic_labels_skip_contents_pages(corpus: Assistant) -> None:
    index = corpus.index()
    assert index.contents and not any(index.topics.of(i) for i in index.contents)
