"""The gazetteer on the real ONS lookups: what businesses name -> the areas the White Paper talks about.

These tests read ``shared/places`` next to the repository (never a copy) and are skipped when it is absent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assistant.errors import ConfigurationError
from assistant.places.gazetteer import Gazetteer, looks_like_postcode, repair_mojibake
from assistant.places.load import SUPPLEMENT, load_gazetteer

PLACES = Path(__file__).resolve().parents[2] / "shared" / "places"
pytestmark = pytest.mark.skipif(
    not PLACES.is_dir(),
    reason=f"ONS place lookups not found at {PLACES} (shared/places sits beside the repo)",
)


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer(PLACES)


def test_load_time_is_printed_not_asserted() -> None:
    started = time.perf_counter()
    fresh = load_gazetteer.__wrapped__(PLACES)  # bypass the cache to time a real parse
    print(f"\nload_gazetteer: {time.perf_counter() - started:.2f} s for {len(fresh.places)} places")
    assert fresh.places


@pytest.mark.parametrize(
    ("name", "chain", "combined_authority"),
    [
        ("Bolton", ("Bolton", "Greater Manchester", "North West", "England"), "Greater Manchester"),
        ("Salford", ("Salford", "Greater Manchester", "North West", "England"), "Greater Manchester"),
        ("Wigan", ("Wigan", "Greater Manchester", "North West", "England"), "Greater Manchester"),
        (
            "Solihull",
            ("Solihull", "West Midlands Combined Authority", "West Midlands", "England"),
            "West Midlands",
        ),
        (
            "Sutton Coldfield",
            (
                "Sutton Coldfield",
                "Birmingham",
                "West Midlands Combined Authority",
                "West Midlands",
                "England",
            ),
            "West Midlands",
        ),
        (
            "Wolverhampton",
            ("Wolverhampton", "West Midlands Combined Authority", "West Midlands", "England"),
            "West Midlands",
        ),
        ("Leeds", ("Leeds", "West Yorkshire", "Yorkshire and The Humber", "England"), "West Yorkshire"),
        ("Warrington", ("Warrington", "North West", "England"), None),
        ("Cornwall", ("Cornwall", "South West", "England"), None),
        ("Cardiff", ("Cardiff", "Wales"), None),
        ("Glasgow", ("Glasgow City", "Scotland"), None),
        ("Belfast", ("Belfast", "Northern Ireland"), None),
        (
            "Sheffield",
            ("Sheffield", "South Yorkshire", "Yorkshire and The Humber", "England"),
            "South Yorkshire",
        ),
        (
            "York",
            ("York", "York and North Yorkshire", "Yorkshire and The Humber", "England"),
            "York and North Yorkshire",
        ),
        ("Sale", ("Sale", "Trafford", "Greater Manchester", "North West", "England"), "Greater Manchester"),
    ],
)
def test_resolve_places_a_name_in_its_chain_of_areas(
    gaz: Gazetteer, name: str, chain: tuple[str, ...], combined_authority: str | None
) -> None:
    match = gaz.resolve(name)
    assert match.status == "found", match.message
    assert match.place is not None
    assert match.place.chain == chain
    ca = match.place.combined_authority
    assert (ca.name if ca else None) == combined_authority


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bolton", "Bolton is in Greater Manchester (mayoral combined authority), North West, England."),
        ("Warrington", "Warrington is in North West, England. It is not in a combined authority."),
        ("Cardiff", "Cardiff is in Wales. It is part of the Cardiff Capital Region."),
        ("Glasgow", "Glasgow (Glasgow City) is in Scotland. It is part of the Glasgow City Region."),
        ("Belfast", "Belfast is in Northern Ireland."),
        (
            "Sutton Coldfield",
            (
                "Sutton Coldfield is in Birmingham (district), West Midlands (mayoral combined "
                "authority), West Midlands, England."
            ),
        ),
        (
            "Sheffield",
            (
                "Sheffield is in South Yorkshire (mayoral combined authority; formerly Sheffield City "
                "Region), Yorkshire and The Humber, England."
            ),
        ),
        (
            "Newport",
            (
                "Newport is ambiguous: Newport (district, Wales) or Newport (town in Isle of Wight, South "
                "East England); say which."
            ),
        ),
        (
            "Wolverhamptn",
            "I don't know a place called Wolverhamptn. Did you mean Wolverhampton or Woolhampton?",
        ),
        (
            "Xyzzyville",
            (
                "I don't know a place called Xyzzyville. Name a UK town, council, county, combined "
                "authority, region or nation."
            ),
        ),
        ("BL1 1AA", "Postcodes are not supported: name your town or council."),
    ],
)
def test_resolve_answers_in_one_plain_sentence(gaz: Gazetteer, name: str, message: str) -> None:
    assert gaz.resolve(name).message == message


def test_bolton_is_the_greater_manchester_town_not_the_cumbrian_village(gaz: Gazetteer) -> None:
    bolton = gaz.resolve("Bolton").place
    assert bolton is not None and bolton.district is not None
    assert bolton.district.code == "E08000001"
    village = gaz.resolve("Bolton, Westmorland and Furness").place  # the 2011 BUA still reachable by name
    assert village is not None and village.kind == "town" and village.msoas == 0


def test_towns_inside_conurbations_come_from_the_sub_division_file(gaz: Gazetteer) -> None:
    sutton = gaz.resolve("Sutton Coldfield").place
    assert sutton is not None and sutton.kind == "town"
    assert sutton.district is not None and sutton.district.name == "Birmingham"
    assert "ONS MSOA to Built-up Area Sub-division to LAD lookup, December 2011" in sutton.sources


def test_sheffield_is_in_south_yorkshire_named_sheffield_city_region_in_2019(gaz: Gazetteer) -> None:
    sheffield = gaz.resolve("Sheffield").place
    assert sheffield is not None
    ca = sheffield.combined_authority
    assert ca is not None
    assert ca.former_names == ("Sheffield City Region",) and ca.code == "E47000002"
    assert ca.vintage == "December 2019"
    assert "ONS LAD to Combined Authority lookup, December 2019" in sheffield.sources
    assert gaz.resolve("Sheffield City Region").place == gaz.resolve("SYMCA").place


@pytest.mark.parametrize(("old", "new"), [("E08000016", "E08000038"), ("E08000019", "E08000039")])
def test_combined_authority_membership_survives_a_district_code_change(
    tmp_path: Path, old: str, new: str
) -> None:
    """Barnsley and Sheffield have had new codes (E08000038/39): the 2019 file is joined by name too."""
    for f in PLACES.iterdir():
        (tmp_path / f.name).symlink_to(f)
    ca19 = next(f for f in PLACES.iterdir() if f.name.startswith("Local_Authority_District_to_Combined"))
    (tmp_path / ca19.name).unlink()
    (tmp_path / ca19.name).write_text(ca19.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    gaz = load_gazetteer(tmp_path)
    for name in ("Barnsley", "Sheffield"):
        place = gaz.resolve(name).place
        assert place is not None and place.combined_authority is not None
        assert place.combined_authority.name == "South Yorkshire"


@pytest.mark.parametrize(
    ("name", "authority", "source"),
    [
        (
            "York",
            "York and North Yorkshire Combined Authority",
            ("York and North Yorkshire Combined Authority Order 2023 (SI 2023/1432)"),
        ),
        ("Harrogate", "York and North Yorkshire Combined Authority", "SI 2023/1432"),
        ("Derby", "East Midlands Combined County Authority", "SI 2024/232"),
        ("Chesterfield", "East Midlands Combined County Authority", "SI 2024/232"),
        ("Newcastle upon Tyne", "North East Mayoral Combined Authority", "SI 2024/402"),
        ("Sunderland", "North East Mayoral Combined Authority", "SI 2024/402"),
        ("Lincoln", "Greater Lincolnshire Combined County Authority", "SI 2025/117"),
        ("Hull", "Hull and East Yorkshire Combined Authority", "SI 2025/113"),
        ("Exeter", "Devon and Torbay Combined County Authority", "SI 2025/115"),
        ("Preston", "Lancashire Combined County Authority", "SI 2025/118"),
    ],
)
def test_newer_combined_authorities_come_from_the_supplement_with_their_source(
    gaz: Gazetteer, name: str, authority: str, source: str
) -> None:
    place = gaz.resolve(name).place
    assert place is not None and place.combined_authority is not None
    assert place.combined_authority.official_name == authority
    assert place.combined_authority.code is None  # not in the December 2019 ONS file
    assert any(source in s for s in place.combined_authority.sources)
    assert any(source in s for s in place.sources)


def test_mayoral_status_is_recorded(gaz: Gazetteer) -> None:
    mayoral = {
        p.name: p.combined_authority.mayoral
        for p in gaz.places
        if p.kind == "combined_authority" and p.combined_authority
    }
    assert mayoral["Greater Manchester"] and mayoral["West Yorkshire"] and mayoral["North East"]
    assert not mayoral["Devon and Torbay"] and not mayoral["Lancashire"]


def test_newport_is_ambiguous_between_wales_and_the_isle_of_wight(gaz: Gazetteer) -> None:
    match = gaz.resolve("Newport")
    assert match.status == "ambiguous" and match.place is None
    assert [(p.kind, p.nation.name, p.district and p.district.name) for p in match.candidates] == [
        ("district", "Wales", "Newport"),
        ("town", "England", "Isle of Wight"),
    ]


@pytest.mark.parametrize(
    ("name", "district"),
    [
        ("Newport, Isle of Wight", "Isle of Wight"),
        ("Newport (Wales)", "Newport"),
        ("Newport in Telford and Wrekin", "Telford and Wrekin"),
    ],
)
def test_a_qualifier_settles_an_ambiguous_name(gaz: Gazetteer, name: str, district: str) -> None:
    match = gaz.resolve(name)
    assert match.status == "found" and match.place is not None and match.place.district is not None
    assert match.place.district.name == district


def test_misspellings_get_suggestions_and_unknown_places_say_so(gaz: Gazetteer) -> None:
    assert gaz.resolve("Wolverhamptn").suggestions[0] == "Wolverhampton"
    assert gaz.resolve("Manchestr").suggestions[0] == "Manchester"
    unknown = gaz.resolve("Atlantis")
    assert unknown.status == "unknown" and unknown.place is None and unknown.suggestions == ()


@pytest.mark.parametrize(
    ("alias", "official_name"),
    [
        ("GM", "Greater Manchester Combined Authority"),
        ("GMCA", "Greater Manchester Combined Authority"),
        ("Greater Manchester", "Greater Manchester Combined Authority"),
        ("WMCA", "West Midlands Combined Authority"),
        ("West Mids", "West Midlands Combined Authority"),
        ("LCR", "Liverpool City Region Combined Authority"),
        ("West Yorks", "West Yorkshire Combined Authority"),
        ("WYCA", "West Yorkshire Combined Authority"),
        ("SYMCA", "South Yorkshire Mayoral Combined Authority"),
        ("North of Tyne", "North East Mayoral Combined Authority"),
        ("TVCA", "Tees Valley Combined Authority"),
        ("CPCA", "Cambridgeshire and Peterborough Combined Authority"),
        ("WECA", "West of England Combined Authority"),
    ],
)
def test_combined_authority_aliases(gaz: Gazetteer, alias: str, official_name: str) -> None:
    place = gaz.resolve(alias).place
    assert place is not None and place.kind == "combined_authority"
    assert place.combined_authority is not None and place.combined_authority.official_name == official_name


@pytest.mark.parametrize(
    ("name", "found", "nested"),
    [
        ("West Midlands", ("region", "West Midlands"), [("combined_authority", "West Midlands")]),
        ("North East", ("region", "North East"), [("combined_authority", "North East")]),
        ("Lancashire", ("combined_authority", "Lancashire"), [("county", "Lancashire")]),
    ],
)
def test_a_name_shared_by_nested_areas_finds_the_biggest_and_offers_the_rest(
    gaz: Gazetteer, name: str, found: tuple[str, str], nested: list[tuple[str, str]]
) -> None:
    match = gaz.resolve(name)
    assert match.status == "found" and match.place is not None
    assert (match.place.kind, match.place.name) == found
    assert [(p.kind, p.name) for p in match.candidates] == nested


@pytest.mark.parametrize(
    ("name", "resolved"),
    [
        ("Ynys Môn", "Isle of Anglesey"),
        ("Ynys Mon", "Isle of Anglesey"),
        ("Caerdydd", "Cardiff"),
        ("Casnewydd", "Newport"),
        ("Tor-faen", "Torfaen"),  # a Welsh form found only in the 2011 files
        ("Cymru", "Wales"),
        ("Bristol", "Bristol, City of"),
        ("Edinburgh", "City of Edinburgh"),
        ("St Helens", "St. Helens"),
        ("Stoke on Trent", "Stoke-on-Trent"),
        ("the Wirral", "Wirral"),
    ],
)
def test_other_spellings_and_welsh_names_resolve(gaz: Gazetteer, name: str, resolved: str) -> None:
    match = gaz.resolve(name)
    assert match.place is not None and match.place.name == resolved


def test_welsh_mis_encoding_is_repaired() -> None:
    assert repair_mojibake("Ynys MÃ´n") == "Ynys Môn"
    assert repair_mojibake("Ynys Môn") == "Ynys Môn"  # correct text is left alone
    assert repair_mojibake("Bolton") == "Bolton"


def test_no_mis_encoded_name_survives_loading(gaz: Gazetteer) -> None:
    names = [
        n
        for p in gaz.places
        for n in (
            p.name,
            *p.chain,
            *p.members,
            p.district.welsh_name if p.district and p.district.welsh_name else "",
        )
    ]
    assert not [n for n in names if "Ã" in n or "Â" in n]
    anglesey = gaz.resolve("Holyhead").place
    assert anglesey is not None and anglesey.district is not None
    assert anglesey.district.welsh_name == "Ynys Môn"


def test_former_districts_point_to_their_successor_with_the_order(gaz: Gazetteer) -> None:
    match = gaz.resolve("Eden")
    assert match.place is not None and match.place.name == "Westmorland and Furness"
    assert match.message.startswith(
        "Eden (former district, part of Westmorland and Furness since April 2023)"
    )
    assert any("Cumbria (Structural Changes) Order 2022" in s for s in match.place.sources)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("we're a small firm in Leeds struggling to get finance", ["Leeds"]),
        ("my 17 yr old lives in Wolverhampton", ["Wolverhampton"]),
        ("we run buses round Warrington", ["Warrington"]),
        ("advanced materials start-up in Salford", ["Salford"]),
        ("we do R&D in the north east", ["North East"]),
        ("how much will R&D outside the greater south east rise by 2030?", []),
        ("reading, writing and maths", []),
        ("Reading, writing and maths are what we teach", []),
        ("a firm in Reading", ["Reading"]),
        ("houses for Sale in Bolton", ["Bolton"]),
        ("our shop on the High Street in Bath", ["Bath"]),
        ("we started in March, near Tunbridge Wells", ["Tunbridge Wells"]),
        ("funding from Westminster for GM and WMCA businesses", ["West Midlands"]),
        ("we work across the LCR and in St. Helens", ["Liverpool City Region", "St. Helens"]),
        ("a hull-based engineering firm", []),
        ("an engineering firm in Hull", ["Kingston upon Hull, City of"]),
        ("we run a bus company in Stoke", ["Stoke-on-Trent"]),  # what people mean, not the two villages
        ("Is the Glasgow City Region eligible?", ["Glasgow City Region"]),
        ("a café in Sutton Coldfield and another in Solihull", ["Sutton Coldfield", "Solihull"]),
        ("I'm in BL1 1AA", []),
    ],
)
def test_find_places_spots_names_in_questions_but_not_everyday_words(
    gaz: Gazetteer, text: str, found: list[str]
) -> None:
    matches = gaz.find_places(text)
    assert [m.place.name for m in matches if m.place] == found
    for m in matches:
        assert m.span is not None and text[m.span[0] : m.span[1]] == m.query


def test_find_places_reports_an_ambiguous_mention(gaz: Gazetteer) -> None:
    [match] = gaz.find_places("My name is Martin and I live in Newport")
    assert match.status == "ambiguous" and len(match.candidates) == 2


@pytest.mark.parametrize(
    ("name", "areas"),
    [
        (
            "Salford",
            (
                "Salford",
                "Greater Manchester",
                "North West",
                "England",
                "Greater Manchester Combined Authority",
                "GM",
                "GMCA",
            ),
        ),
        (
            "Sheffield",
            (
                "Sheffield",
                "South Yorkshire",
                "Yorkshire and The Humber",
                "England",
                "South Yorkshire Mayoral Combined Authority",
                "SYMCA",
                "Sheffield City Region",
            ),
        ),
        ("Glasgow", ("Glasgow City", "Scotland", "Glasgow City Region")),
        ("Cornwall", ("Cornwall", "South West", "England")),
    ],
)
def test_containing_areas_expand_a_place_to_the_names_policy_texts_use(
    gaz: Gazetteer, name: str, areas: tuple[str, ...]
) -> None:
    place = gaz.resolve(name).place
    assert place is not None
    assert gaz.containing_areas(place) == areas


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BL1 1AA", True),
        ("bl11aa", True),
        ("SW1A 1AA", True),
        ("M1 1AE", True),
        ("EC1A 1BB", True),
        ("we are at B90 4SS near Solihull", True),
        ("BL1", True),
        ("Bolton", False),
        ("we use the M62 corridor", False),
        ("Levelling Up 2022", False),
    ],
)
def test_postcodes_are_recognised_so_callers_can_refuse_them(text: str, expected: bool) -> None:
    assert looks_like_postcode(text) is expected


def test_resolve_never_echoes_a_postcode(gaz: Gazetteer) -> None:
    match = gaz.resolve("BL1 1AA")
    assert match.status == "unknown" and "BL1" not in match.query + match.message


def test_vintages_and_sources_are_recorded_for_citations(gaz: Gazetteer) -> None:
    assert gaz.vintages["ONS Ward to LAD to County to Region to Country lookup"] == "December 2023"
    assert gaz.vintages["ONS LAD to Combined Authority lookup"] == "December 2019"
    assert gaz.vintages["ONS MSOA to Built-up Area Sub-division to LAD lookup"] == "December 2011"
    bolton = gaz.resolve("Bolton").place
    assert bolton is not None
    assert bolton.sources[0] == "ONS Ward to LAD to County to Region to Country lookup, December 2023"


def test_every_supplement_fact_names_its_source() -> None:
    sup = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))
    assert all(e["sources"] and all(s.strip() for s in e["sources"]) for e in sup["combined_authorities"])
    assert all(g["source"].strip() for g in sup["city_regions"] + sup["former_districts"])
    assert all(t["source"].strip() for t in sup["town_districts"]["towns"].values())
    assert sup["aliases"]["source"].strip()


def test_a_missing_lookup_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="shared/places"):
        load_gazetteer(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "?!.,;",
        "x" * 100_000,
        "<script>alert(1)</script>",
        "'; DROP TABLE passages; --",
        "me@example.com 07700 900123 QQ123456C",
        "🙂",
    ],
)
def test_bad_input_is_unknown_and_never_echoed_back(gaz: Gazetteer, text: str) -> None:
    match = gaz.resolve(text)
    assert match.status == "unknown" and match.place is None
    assert match.message.startswith("I don't know a place called that.")
    assert gaz.find_places(text) == []


def test_control_characters_do_not_hide_a_name(gaz: Gazetteer) -> None:
    match = gaz.resolve("Bolton\x00")
    assert match.status == "found" and match.place is not None and match.place.name == "Bolton"
    assert "\x07" not in gaz.resolve("a\x00b\x07c").message
