"""Gazetteer: from the place a business names to the areas the White Paper talks about.

People write "Bolton", "Solihull" or "Sutton Coldfield"; the White Paper speaks of Greater Manchester, the
West Midlands, mayoral combined authorities, Scotland. This module bridges the two with the ONS lookups in
``shared/places`` (read from a folder at run time, never copied into the repository) and
``places_supplement.json``, a small sourced list of what those files lack: combined authorities newer than
December 2019, successors of districts abolished 2019-2023, city regions, short names and town fixes::

    gaz = load_gazetteer(Path("../shared/places"))
    gaz.resolve("Bolton").message
    # 'Bolton is in Greater Manchester (mayoral combined authority), North West, England.'

Hierarchy: town (2011 built-up area or sub-division) -> district (December 2023) -> county -> combined
authority -> region (England only) -> nation. Postcodes are recognised so callers can refuse them; they are
never resolved or kept.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigurationError

SUPPLEMENT = Path(__file__).with_name("places_supplement.json")
WD23 = "WD_to_LAD_to_CTY_to_RGN_to_CTRY_2023.csv"
CA19 = "Local_Authority_District_to_Combined_Authority_(December_2019)_Lookup_in_England.csv"
BUA11 = "Built-up_Area_to_Local_Authority_District_(December_2011)_Lookup_in_England_and_Wales.csv"
BUASD11 = (
    "Middle_Layer_Super_Output_Area_(2011)_to_Built-up_Area_Sub_Division_to_Built-up_Area_to_Local_Authority"
    "_District_to_Region_(December_2011)_Lookup_in_England_and_Wales.csv"
)
#: Citation titles and default vintages; the folder's MANIFEST.json, when present, supplies the vintages.
TABLES = {WD23: ("ONS Ward to LAD to County to Region to Country lookup", "December 2023"),
          CA19: ("ONS LAD to Combined Authority lookup", "December 2019"),
          BUA11: ("ONS Built-up Area to LAD lookup", "December 2011"),
          BUASD11: ("ONS MSOA to Built-up Area Sub-division to LAD lookup", "December 2011")}
#: A town best-fitted by fewer 2011 MSOAs (about 7,000 people each) is "minor": it never makes a district
#: or a bigger town ambiguous ("Bolton" is the borough, not the Cumbrian village), and free text must say
#: "in Ashby" for it to count.
MIN_MSOAS = 3
KINDS = ("nation", "region", "combined_authority", "city_region", "county", "district", "town")
#: Place names that are everyday words (or first names): in free text they count only when capitalised,
#: right after a preposition of place ("a firm in Reading") and not part of a longer name ("High Street").
COMMON_WORDS = frozenset({
    "ash", "bank", "banks", "barking", "barrow", "barry", "bath", "battle", "bean", "beech", "bow",
    "bridge", "broadway", "brook", "broom", "bugle", "burn", "bury", "camber", "cargo", "cheddar",
    "church", "cliffe", "combe", "combs", "crook", "croft", "cross", "crouch", "deal", "derby", "diss",
    "eagle", "eden", "edge", "eye", "fence", "fleet", "flint", "ford", "grain", "grays", "hale", "hales",
    "ham", "harrow", "hart", "healing", "heather", "homer", "hook", "hope", "hose", "hull", "hurst", "lea",
    "lizard", "lode", "mark", "martin", "mere", "mold", "moss", "nelson", "over", "pant", "pill", "pool",
    "reach", "read", "reading", "reed", "ridge", "ripe", "rock", "rode", "rugby", "rye", "sale",
    "sandwich", "sandy", "settle", "sling", "stanley", "steep", "steeple", "sticker", "stilton", "stock",
    "stone", "strand", "street", "swale", "sway", "tiptoe", "valley", "ware", "weir", "wells", "wick",
    "wing", "wool", "worth", "wrangle"})
NEVER_IN_TEXT = frozenset({"march", "westminster"})  # "in March" is a month; "Westminster" means government
#: Policy groupings that contain a place name but are not that place: "outside the greater south east" is not
#: the South East region. (Its membership is not in the ONS files, so it is not resolved either.)
POLICY_TERMS = frozenset({"greater south east"})
SMALL_WORDS = frozenset({"of", "upon", "on", "under", "le", "the", "and", "in", "next", "with", "by", "de",
                         "y", "ar", "la", "en", "super", "sur"})
LOCATIVES = frozenset({"in", "at", "near", "from", "around", "round", "outside", "to", "across", "throughout",
                       "within", "into", "via", "towards", "serving", "covering"})
POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b",
                      re.IGNORECASE)
OUTCODE = re.compile(r"^\s*[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_JOIN = re.compile(r"[\s\-.'’]*")  # what may sit between the words of one name in free text
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ECHO = re.compile(r"[^\W\d_][\w\s'’.,()&-]{0,59}")  # unknown input is repeated only if it looks like a name


@dataclass(frozen=True, slots=True)
class Area:
    """A named ONS area (district, county, region, nation), with its GSS code when the lookup gives one."""

    name: str
    code: str | None = None
    welsh_name: str | None = None


@dataclass(frozen=True, slots=True)
class CombinedAuthority:
    """A combined (county) authority and where its membership comes from.

    ONS stops at December 2019, so newer authorities and renames come from the supplement; ``vintage`` and
    ``sources`` let an answer say which ("ONS ... lookup, December 2019" or the statutory instrument).
    """

    name: str  # short name, as ONS writes it: "Greater Manchester"
    official_name: str
    mayoral: bool
    vintage: str
    sources: tuple[str, ...]
    code: str | None = None  # CAUTH19CD; None for authorities newer than the ONS file
    former_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        body = "combined county authority" if "County Auth" in self.official_name else "combined authority"
        return f"mayoral {body}" if self.mayoral else body


@dataclass(frozen=True, slots=True)
class Place:
    """A place someone can name, with every area that contains it (``chain``: smallest first)."""

    name: str
    kind: str  # nation, region, combined_authority, city_region, county, district or town
    nation: Area
    chain: tuple[str, ...]
    sources: tuple[str, ...]  # ONS lookups (title, vintage) and supplement sources this place rests on
    district: Area | None = None
    county: Area | None = None
    combined_authority: CombinedAuthority | None = None
    region: Area | None = None  # English regions only; Wales, Scotland and Northern Ireland have none
    city_region: str | None = None  # Glasgow City Region, Cardiff Capital Region (from the supplement)
    members: tuple[str, ...] = ()  # the districts of a county, combined authority, region or nation
    qualifier: str = ""  # "Isle of Wight" for the town ONS calls "Newport (Isle of Wight)"
    msoas: int | None = None  # towns: 2011 MSOAs best-fitted to it; the size that ranks same-name places


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The answer to "where is X?": ``found``, ``ambiguous`` (pick from ``candidates``) or ``unknown``.

    When ``found``, ``candidates`` holds same-name places nested inside the one found (the West Midlands
    Combined Authority inside the West Midlands region), so callers can widen a search to them.
    """

    query: str
    status: str
    message: str
    place: Place | None = None
    candidates: tuple[Place, ...] = ()
    suggestions: tuple[str, ...] = ()
    span: tuple[int, int] | None = None  # where find_places saw the name in the text


def _key(text: str) -> str:
    """Comparison form of a name: accents, case, punctuation, hyphens and "Saint"/"St." do not matter."""
    text = unicodedata.normalize("NFKD", _CONTROL.sub(" ", text)).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[.'’]", "", re.sub(r"[-,()/]", " ", text.replace("&", " and "))).split()
    return " ".join("st" if w == "saint" else w for w in words)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1 ("Ynys MÃ´n" -> "Ynys Môn"), as scraped into some ONS copies."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):  # already proper text: leave it alone
        return text


def looks_like_postcode(text: str) -> bool:
    """True if ``text`` holds a UK postcode ("BL1 1AA") or is only an outward code ("BL1").

    The gazetteer never resolves postcodes: callers answer "postcodes are not supported - name your town or
    council", and must neither store nor log the text.
    """
    return bool(POSTCODE.search(text) or OUTCODE.match(text))


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    if not (folder / name).is_file():
        raise ConfigurationError(
            f"No ONS place lookup {name!r} in {folder}. Point load_gazetteer() at a folder holding the ONS "
            "lookups: ../shared/places offline, or settings.datasets_dir after `levelup fetch`.")
    with (folder / name).open(encoding="utf-8-sig", newline="") as handle:
        return [{k: repair_mojibake(v or "").strip() for k, v in row.items() if k}
                for row in csv.DictReader(handle)]


def _split(name: str, suffix: str) -> tuple[str, str]:
    """'Newport (Isle of Wight) BUA' -> ('Newport', 'Isle of Wight')."""
    found = re.fullmatch(r"(.*?)\s*(?:\((.*)\))?", name.removesuffix(suffix).strip())
    return (found.group(1), found.group(2) or "") if found else (name, "")


def _dedupe(items: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _lookup(by_key: Mapping[str, str], name: str, where: str) -> str:
    if _key(name) not in by_key:
        raise ConfigurationError(
            f"places_supplement.json ({where}): {name!r} is not a December 2023 district name; fix it.")
    return by_key[_key(name)]


@functools.lru_cache(maxsize=4)
def load_gazetteer(folder: Path, supplement: Path = SUPPLEMENT) -> Gazetteer:
    """Parse the ONS lookups in ``folder`` and the supplement, once per folder (about 0.35 s).

    Cached because callers load it at start-up and on every request path; ``load_gazetteer.cache_clear()``
    forgets it. Raises ConfigurationError naming the missing file, or the supplement entry that does not match
    the December 2023 district names.
    """
    folder, sup = Path(folder), json.loads(Path(supplement).read_text(encoding="utf-8"))
    manifest = folder / "MANIFEST.json"
    listed = json.loads(manifest.read_text(encoding="utf-8"))["files"] if manifest.is_file() else []
    stated = {f["file"]: f.get("vintage") for f in listed}
    vintages = {title: stated.get(name) or default for name, (title, default) in TABLES.items()}
    vintages["Places supplement (places_supplement.json)"] = sup["vintage"]
    cite = {name: f"{title}, {vintages[title]}" for name, (title, _) in TABLES.items()}
    lads: dict[str, dict[str, str]] = {}
    for row in _rows(folder, WD23):
        lads.setdefault(row["LAD23CD"], row)
    by_key = {_key(r["LAD23NM"]): code for code, r in lads.items()}
    successor = {_key(old): (_lookup(by_key, g["successor"], "former_districts"), g["source"],
                             f"former district, part of {g['successor']} since {g['since']}")
                 for g in sup["former_districts"] for old in g["districts"]}

    def current(code: str, name: str) -> tuple[str | None, str]:
        """An older district (code, name) -> its December 2023 code, and the source if it was abolished."""
        if code in lads or _key(name) in by_key:
            return (code if code in lads else by_key[_key(name)]), ""
        return successor[_key(name)][:2] if _key(name) in successor else (None, "")

    ca_of = _combined_authorities(folder, sup, lads, by_key, current, cite[CA19], vintages[TABLES[CA19][0]])
    places, districts = _districts(lads, ca_of, sup, by_key, cite[WD23])
    aliases = _aliases(places, sup)
    towns = _towns(folder, current, cite, districts, aliases, sup, by_key)
    return Gazetteer.build(places + towns, aliases, successor, districts, MappingProxyType(vintages))


def _combined_authorities(folder: Path, sup: dict[str, Any], lads: Mapping[str, Any],
                          by_key: Mapping[str, str], current: Callable[[str, str], tuple[str | None, str]],
                          cite: str, vintage: str) -> dict[str, CombinedAuthority]:
    """District code -> combined authority: the ONS December 2019 membership, renamed, replaced or extended
    by the supplement (Barnsley and Sheffield changed codes since 2019, so they are joined by name)."""
    ons: dict[str, list[str]] = defaultdict(list)
    ons_code: dict[str, str] = {}
    for row in _rows(folder, CA19):
        ons[row["CAUTH19NM"]].append(current(row["LAD19CD"], row["LAD19NM"])[0] or row["LAD19NM"])
        ons_code[row["CAUTH19NM"]] = row["CAUTH19CD"]
    entries = sup["combined_authorities"]
    replaced = {old for e in entries for old in e.get("replaces_ons2019", ())}
    if missing := set(ons) - replaced - {e.get("ons2019_name", e["name"]) for e in entries}:
        raise ConfigurationError(f"places_supplement.json has no entry for the ONS combined authorities "
                                 f"{sorted(missing)}; add them.")
    ca_of: dict[str, CombinedAuthority] = {}
    for e in entries:
        ons_name = e.get("ons2019_name", e["name"])
        from_ons = "members" not in e and ons_name in ons
        members = ons[ons_name] if from_ons else [_lookup(by_key, m, e["name"]) for m in e["members"]]
        counties = {_key(c) for c in e.get("member_counties", ())}
        ca = CombinedAuthority(e["name"], e["official_name"], e["mayoral"],
                               vintage if from_ons else e.get("vintage", ""),
                               ((cite,) if from_ons else ()) + tuple(e["sources"]),
                               ons_code.get(ons_name) if from_ons else None,
                               tuple(e.get("former_names", ())), tuple(e.get("aliases", ())))
        for code in [*members, *(c for c, r in lads.items() if _key(r["CTY23NM"]) in counties)]:
            if code not in lads or code in ca_of:
                raise ConfigurationError(f"places_supplement.json: district {code} of {ca.name} is unknown "
                                         "or already in another combined authority; fix the supplement.")
            ca_of[code] = ca
    return ca_of


def _districts(lads: Mapping[str, dict[str, str]], ca_of: Mapping[str, CombinedAuthority],
               sup: dict[str, Any], by_key: Mapping[str, str],
               cite: str) -> tuple[list[Place], dict[str, Place]]:
    """One place per December 2023 district, then the areas they make up (county, region, ...)."""
    city_region = {_lookup(by_key, m, g["name"]): g for g in sup["city_regions"] for m in g["members"]}
    districts: dict[str, Place] = {}
    groups: dict[tuple[str, str], list[Place]] = defaultdict(list)
    for code, r in lads.items():
        nation = Area(r["CTRY23NM"], r["CTRY23CD"], r["CTRY23NMW"] or None)
        region = Area(r["RGN23NM"], r["RGN23CD"], r["RGN23NMW"] or None) if nation.name == "England" else None
        county = Area(r["CTY23NM"], r["CTY23CD"], r["CTY23NMW"] or None) \
            if r["CTY23NM"] not in ("", "Inner London", "Outer London") else None  # not counties
        ca, cr = ca_of.get(code), city_region.get(code, {})
        districts[code] = Place(
            r["LAD23NM"], "district", nation, _chain([r["LAD23NM"]], county, ca, region, nation),
            _dedupe([cite, *(ca.sources if ca else ()), cr.get("source")]),
            Area(r["LAD23NM"], code, r["LAD23NMW"] or None), county, ca, region, cr.get("name"))
        for kind, value in (("nation", nation.name), ("region", region and region.name),
                            ("county", county and county.name), ("combined_authority", ca and ca.name),
                            ("city_region", cr.get("name"))):
            if value:
                groups[(kind, value)].append(districts[code])
    places = list(districts.values())
    for (kind, name), members in groups.items():  # Greater Manchester the county is Greater Manchester the CA
        if kind != "county" or groups.get(("combined_authority", name)) != members:
            places.append(_area_place(kind, name, sorted(members, key=lambda d: d.name), cite))
    return places, districts


def _chain(first: list[str], county: Area | None, ca: CombinedAuthority | None, region: Area | None,
           nation: Area) -> tuple[str, ...]:
    """Smallest area first; a combined authority named like its region or county takes its official name."""
    out = list(first)
    if county and not (ca and county.name == ca.name) and not (region and county.name == region.name):
        out.append(county.name)
    if ca:
        out.append(ca.official_name if ca.name in out or (region and ca.name == region.name) else ca.name)
    return _dedupe([*out, region.name if region else "", nation.name])


def _area_place(kind: str, name: str, members: list[Place], cite: str) -> Place:
    """A county, combined authority, city region, region or nation, described by its districts."""
    def shared(attr: str) -> Any:
        values = {getattr(d, attr) for d in members}
        return values.pop() if len(values) == 1 else None

    region, ca, nation = shared("region"), shared("combined_authority"), members[0].nation
    ca = ca if kind in ("county", "combined_authority") else None
    first = [ca.official_name if ca and kind == "combined_authority" and region and ca.name == region.name
             else name]
    own = members[0].sources[-1:] if kind == "city_region" else ()  # a district's last source: its city deal
    return Place(name, kind, nation, (name,) if kind == "nation" else _chain(first, None, ca, region, nation),
                 _dedupe([cite, *(ca.sources if ca else ()), *own]),
                 county=members[0].county if kind == "county" else None, combined_authority=ca,
                 region=region if kind != "nation" else None, members=tuple(d.name for d in members))


def _where(region: Area | None, nation: Area) -> str:
    if not region:
        return nation.name
    return region.name if region.name.endswith("England") else f"{region.name} England"


def _aliases(places: list[Place], sup: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Alias key -> (kind, name, note): Welsh names, everyday forms ('Bristol, City of' -> 'Bristol',
    'Glasgow City' -> 'Glasgow'), combined authority acronyms and former names, the supplement's names."""
    out: dict[str, tuple[str, str, str]] = {}
    for p in places:
        ca = p.combined_authority
        alts = {"district": [p.district and p.district.welsh_name,
                             re.sub(r",? (City|County) of$|^City of | City$", "", p.name)],
                "region": [p.region and p.region.welsh_name, _where(p.region, p.nation)],
                "nation": [p.nation.welsh_name]}.get(p.kind, [])
        for alt in alts:
            if alt and alt != "London":  # 'City of London' must not become London
                out.setdefault(_key(alt), (p.kind, p.name, ""))
        if p.kind == "combined_authority" and ca:
            out.update({_key(a): (p.kind, p.name, "acronym" if a.isupper() else "")
                        for a in (ca.official_name, *ca.aliases)})
            out.update({_key(a): (p.kind, p.name, f"former name of the {ca.official_name}")
                        for a in ca.former_names})
    out.update({_key(alias): ("", target, "") for alias, target in sup["aliases"]["names"].items()})
    return out


def _towns(folder: Path, current: Callable[[str, str], tuple[str | None, str]], cite: Mapping[str, str],
           districts: Mapping[str, Place], aliases: dict[str, tuple[str, str, str]], sup: dict[str, Any],
           by_key: Mapping[str, str]) -> list[Place]:
    """Towns from the 2011 built-up areas (BUA) and sub-divisions (BUASD), each in its most common district.

    Conurbations are single BUAs ("Greater Manchester BUA"), so a BUA with sub-divisions is represented by
    them ("Bolton BUASD"). A town named like a district it touches is that district, not a second place.
    """
    Key = tuple[str, str, str, str]  # (name, qualifier, table, ONS code)
    fits: dict[Key, Counter[str]] = defaultdict(Counter)  # MSOAs per December 2023 district
    touches: dict[Key, set[str]] = defaultdict(set)
    why: dict[Key, set[str]] = defaultdict(set)  # sources of the district successions used
    divided: set[str] = set()
    for row in _rows(folder, BUASD11):
        (lad, src), sd = current(row["LAD11CD"], row["LAD11NM"]), row["BUASD11NM"]
        key = (*_split(sd, " BUASD"), BUASD11, row["BUASD11CD"]) if sd else \
            (*_split(row["BUA11NM"], " BUA"), BUA11, row["BUA11CD"])
        if lad and key[0]:
            divided.update([row["BUA11CD"]] if sd else [])
            fits[key][lad] += 1
            why[key].add(src)
    for row in _rows(folder, BUA11):
        (lad, src) = current(row["LAD11CD"], row["LAD11NM"])
        key = (*_split(row["BUA11NM"], " BUA"), BUA11, row["BUA11CD"])
        if lad:
            fits[key][lad] += 0  # keeps villages that no MSOA is best-fitted to
            touches[key].add(lad)
            why[key].add(src)
            if row["LAD11NMW"]:
                aliases.setdefault(_key(row["LAD11NMW"]), ("district", districts[lad].name, ""))
    fixes = sup["town_districts"]["towns"]
    towns: dict[tuple[str, str], Place] = {}
    for key, counts in fits.items():
        name, qualifier, table, code = key
        best = max(counts, key=lambda c: (counts[c], _key(districts[c].name) == _key(name)))
        if name in fixes:  # the MSOA best-fit puts a few towns mostly in their neighbour
            best = _lookup(by_key, fixes[name]["district"], "town_districts")
            why[key].add(fixes[name]["source"])
        alias = aliases.get(_key(name), ("", "", ""))[1]
        if code in divided or any(_key(name) == _key(districts[c].name) or alias == districts[c].name
                                  for c in touches[key] | set(counts)):
            continue
        home, size, old = districts[best], sum(counts.values()), towns.get((_key(name), best))
        if not old or (old.msoas or 0) < size:
            towns[(_key(name), best)] = replace(
                home, name=name, kind="town", chain=(name, *home.chain), qualifier=qualifier, msoas=size,
                sources=_dedupe([*home.sources, cite[table], *sorted(why[key]),
                                 *(old.sources if old else ())]))
    return list(towns.values())


@dataclass(frozen=True)
class Gazetteer:
    """Every place the lookups name, indexed by comparison key; build it with :func:`load_gazetteer`."""

    places: tuple[Place, ...]
    vintages: Mapping[str, str]  # table title -> vintage, for citations ("ONS ... lookup, December 2023")
    _pools: Mapping[str, tuple[Place, ...]] = field(repr=False)  # key -> same-name places, biggest first
    _notes: Mapping[str, str] = field(repr=False)  # key -> what an alias is ("former district...", "acronym")
    _longest: int = field(repr=False, default=1)  # most words in a name, for find_places

    @classmethod
    def build(cls, places: list[Place], aliases: Mapping[str, tuple[str, str, str]],
              successor: Mapping[str, tuple[str, str, str]], districts: Mapping[str, Place],
              vintages: Mapping[str, str]) -> Gazetteer:
        pools: dict[str, list[Place]] = defaultdict(list)
        named: dict[tuple[str, str], Place] = {}
        for p in sorted(places, key=lambda p: -KINDS.index(p.kind)):  # an alias with no kind: the biggest
            pools[_key(p.name)].append(p)
            named[(p.kind, p.name)] = named[("", p.name)] = p
        notes = {}
        for alias, (kind, target, note) in aliases.items():
            if (kind, target) in named and named[(kind, target)] not in pools[alias]:
                pools[alias].append(named[(kind, target)])
                notes[alias] = note
        for old, (code, source, note) in successor.items():
            if old not in pools:  # "Eden" -> Westmorland and Furness; "Harrogate" stays the town
                place = districts[code]
                pools[old], notes[old] = [replace(place, sources=(*place.sources, source))], note
        ranked = {k: tuple(sorted(v, key=lambda p: (KINDS.index(p.kind), -(p.msoas or 0))))
                  for k, v in pools.items()}
        return cls(tuple(places), vintages, MappingProxyType(ranked), MappingProxyType(notes),
                   max(len(k.split()) for k in ranked))

    def resolve(self, name: str) -> PlaceMatch:
        """Say where ``name`` is: "Newport" is ambiguous, "Newport, Isle of Wight" is not."""
        if looks_like_postcode(name):
            return PlaceMatch("[postcode]", "unknown",
                              "Postcodes are not supported: name your town or council.")
        name = _CONTROL.sub(" ", name).strip()
        for key in (_key(name), re.sub(r"^the ", "", _key(name))):
            if key in self._pools:
                return self._decide(name, key, self._pools[key])
        parts = re.fullmatch(r"(.+?)\s*(?:\((.+)\)|,\s*(.+)|\s+in\s+(.+))", name)
        if parts and _key(parts.group(1)) in self._pools:
            where = _key(next(g for g in parts.groups()[1:] if g))
            pool = tuple(p for p in self._pools[_key(parts.group(1))] if where in {_key(a) for a in (
                *p.chain[1:], p.qualifier, _where(p.region, p.nation), p.district and p.district.welsh_name)
                if a})
            if pool:
                return self._decide(parts.group(1), _key(parts.group(1)), pool)
        return self._unknown(name)

    def find_places(self, text: str) -> list[PlaceMatch]:
        """Places named in a question, longest names first, each once ("a small firm in Leeds" -> Leeds).

        Everyday words that are also places ("reading, writing and maths", "for Sale", "High Street") and
        villages count only capitalised and right after "in", "at", "near", "from", "around"...
        """
        toks = list(_TOKEN.finditer(text))
        norms = [_key(t.group()) for t in toks]
        out: list[PlaceMatch] = []
        seen: set[str] = set()
        i = 0
        while i < len(toks):
            for n in range(min(max(self._longest, 3), len(toks) - i), 0, -1):
                key = " ".join(norms[i:i + n])
                if key in POLICY_TERMS:
                    i += n
                    break
                if key in self._pools and self._plausible(text, toks, norms, i, n, key):
                    span = (toks[i].start(), toks[i + n - 1].end())
                    if key not in seen:
                        seen.add(key)
                        match = self._decide(text[span[0]:span[1]], key, self._pools[key])
                        out.append(replace(match, span=span))
                    i += n
                    break
            else:
                i += 1
        return out

    def containing_areas(self, place: Place) -> tuple[str, ...]:
        """The place and every area holding it, then the names policy texts use for them (query expansion):
        Salford -> Salford, Greater Manchester, North West, England, Greater Manchester Combined Authority,
        GM, GMCA."""
        ca = place.combined_authority
        names = (ca.name, ca.official_name, *ca.aliases, *ca.former_names) if ca else ()
        return _dedupe([*place.chain, *names, place.city_region])

    def _plausible(self, text: str, toks: list[re.Match[str]], norms: list[str], i: int, n: int,
                   key: str) -> bool:
        gaps = zip(toks[i:i + n - 1], toks[i + 1:i + n], strict=True)
        if key in NEVER_IN_TEXT or not all(_JOIN.fullmatch(text[a.end():b.start()]) for a, b in gaps):
            return False
        if self._notes.get(key) == "acronym":  # "LCR" and "WMCA" in capitals; never "gm"
            return text[toks[i].start():toks[i + n - 1].end()].isupper() and len(key) > 2
        if key not in COMMON_WORDS and not all(_minor(p) for p in self._pools[key]):
            return True
        capitalised = all(t.group()[:1].isupper() for t, w in zip(toks[i:i + n], norms[i:i + n], strict=True)
                          if w not in SMALL_WORDS and t.group()[:1].isalpha())
        glued = i + n < len(toks) and not text[toks[i + n - 1].end():toks[i + n].start()].strip() \
            and toks[i + n].group()[:1].isupper()
        before = norms[i - 2 if i > 1 and norms[i - 1] == "the" else i - 1] if i else ""
        return capitalised and not glued and before in LOCATIVES

    def _decide(self, query: str, key: str, pool: tuple[Place, ...]) -> PlaceMatch:
        """One place; same-name places nested in the biggest (found); or different places (ambiguous)."""
        note = "" if self._notes.get(key) == "acronym" else self._notes.get(key, "")
        big = tuple(p for p in pool if not _minor(p)) or pool
        if len(big) == 1:
            return PlaceMatch(query, "found", _describe(big[0], query, note), big[0])
        area = {p: set(p.members) or {p.district.name if p.district else p.name} for p in big}
        top = max(big, key=lambda p: (len(area[p]), -KINDS.index(p.kind)))
        if not all(area[p] <= area[top] for p in big):
            labels = [f"{p.name} ({_label(p)})" for p in big]
            return PlaceMatch(query, "ambiguous", f"{query} is ambiguous: {', '.join(labels[:-1])} or "
                              f"{labels[-1]}; say which.", candidates=big)
        nested = tuple(p for p in big if p is not top)
        also = ", ".join(f"{p.name} ({_label(p)})" for p in nested)
        message = f"{_describe(top, query, note)} The name also covers {also} within it."
        return PlaceMatch(query, "found", message, top, nested)

    def _unknown(self, query: str) -> PlaceMatch:
        close = difflib.get_close_matches(_key(query), list(self._pools), n=6, cutoff=0.75) if query else []
        close.sort(key=lambda k: all(_minor(p) for p in self._pools[k]))  # real towns before villages
        names = _dedupe(self._pools[k][0].name for k in close)[:3]
        hint = f" Did you mean {' or '.join(names)}?" if names else \
            " Name a UK town, council, county, combined authority, region or nation."
        message = f"I don't know a place called {query if _ECHO.fullmatch(query) else 'that'}.{hint}"
        return PlaceMatch(query, "unknown", message, suggestions=names)


def _minor(p: Place) -> bool:
    return p.kind == "town" and (p.msoas or 0) < MIN_MSOAS


def _label(p: Place) -> str:
    where = _where(p.region, p.nation)
    return {"town": f"town in {p.district.name if p.district else ''}, {where}",
            "district": f"district, {where}", "county": f"county, {where}",
            "combined_authority": p.combined_authority.label if p.combined_authority else "",
            "city_region": "city region (a city deal of councils)", "region": "region of England",
            "nation": "nation of the United Kingdom"}[p.kind]


def _describe(p: Place, query: str, note: str) -> str:
    """One plain sentence: where the place is, its combined authority (or that it has none), city region."""
    same = _key(query).removeprefix("the ") == _key(p.name)
    head = f"{query} ({note or p.name})" if note or not same else query
    ca = p.combined_authority
    if p.kind in ("nation", "region"):
        return f"{head} is a {_label(p)}."
    if p.kind in ("combined_authority", "city_region"):
        return f"{head} is a {_label(p)} in {_where(p.region, p.nation)}: {', '.join(p.members)}."
    parts = [f"{p.district.name} ({'district' if p.region else 'council area'})"] \
        if p.kind == "town" and p.district else []
    if p.county and p.kind != "county" and not (ca and ca.name == p.county.name):
        parts.append(f"{p.county.name} (county)")
    if ca:
        former = f"; formerly {' / '.join(ca.former_names[:2])}" if ca.former_names else ""
        parts.append(f"{ca.name} ({ca.label}{former})")
    parts += p.chain[-2 if p.region else -1:]  # region and nation
    text = f"{head} is {'a county ' if p.kind == 'county' else ''}in {', '.join(parts)}."
    if p.region and not ca:  # London has the Greater London Authority (Greater London Authority Act 1999)
        text += " It is not in a combined authority" + (
            "; London has the Greater London Authority and an elected Mayor." if p.region.name == "London"
            else ".")
    return text + (f" It is part of the {p.city_region}." if p.city_region else "")
