"""Gazetteer: from the place a business names to the areas the White Paper talks about.

People write "Bolton", "Solihull" or "Sutton Coldfield"; the White Paper speaks of Greater Manchester, the West
Midlands, mayoral combined authorities, Scotland. This module bridges the two with the ONS lookups in
``shared/places`` (read from a folder at run time, never copied into the repository) plus ``places_supplement.json``:
a small, sourced list of what the ONS files lack (combined authorities newer than December 2019, successors of
districts abolished 2019-2023, city regions outside England, a few well-known short names)::

    gaz = load_gazetteer(Path("../shared/places"))
    gaz.resolve("Bolton").message  # 'Bolton is in Greater Manchester (mayoral combined authority), North West, England.'

Hierarchy: town (2011 built-up area or sub-division) -> district (December 2023) -> county -> combined authority
-> region (England only) -> nation. Postcodes are recognised so callers can refuse them, never resolved or kept.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigurationError

SUPPLEMENT = Path(__file__).with_name("places_supplement.json")
WD23 = "WD_to_LAD_to_CTY_to_RGN_to_CTRY_2023.csv"
CA19 = "Local_Authority_District_to_Combined_Authority_(December_2019)_Lookup_in_England.csv"
BUA11 = "Built-up_Area_to_Local_Authority_District_(December_2011)_Lookup_in_England_and_Wales.csv"
BUASD11 = ("Middle_Layer_Super_Output_Area_(2011)_to_Built-up_Area_Sub_Division_to_Built-up_Area_to_Local_Authority"
           "_District_to_Region_(December_2011)_Lookup_in_England_and_Wales.csv")
#: Short citation titles and default vintages; the folder's MANIFEST.json, when present, supplies the vintages.
TABLES = {WD23: ("ONS Ward to LAD to County to Region to Country lookup", "December 2023"),
          CA19: ("ONS LAD to Combined Authority lookup", "December 2019"),
          BUA11: ("ONS Built-up Area to LAD lookup", "December 2011"),
          BUASD11: ("ONS MSOA to Built-up Area Sub-division to LAD lookup", "December 2011")}
#: A town best-fitted by fewer 2011 MSOAs (about 7,000 people each) is "minor": it never makes a district or a
#: bigger town ambiguous ("Bolton" is the Greater Manchester borough, not the Cumbrian village) and free text
#: must say "in Ashby" with a capital letter before it counts.
MIN_MSOAS = 3
KINDS = ("nation", "region", "combined_authority", "county", "district", "town")
#: Place names that are everyday words (or first names): in free text they count only when capitalised, right
#: after a preposition of place ("a firm in Reading") and not part of a longer proper noun ("High Street").
COMMON_WORDS = frozenset(
    "ash bank banks barking barrow barry bath battle bean beech bow bridge broadway brook broom bugle burn bury "
    "camber cargo cheddar church cliffe combe combs crook croft cross crouch deal derby diss eagle eden edge eye "
    "fence fleet flint ford grain grays hale hales ham harrow hart healing heather homer hook hope hose hull hurst "
    "lea lizard lode mark martin mere mold moss nelson over pant pill pool reach read reading reed ridge ripe rock "
    "rode rugby rye sale sandwich sandy settle sling stanley steep steeple sticker stilton stock stone strand "
    "street swale sway tiptoe valley ware weir wells wick wing wool worth wrangle".split())
NEVER_IN_TEXT = frozenset({"march", "westminster"})  # "in March" is a month; "Westminster" means government
SMALL_WORDS = frozenset("of upon on under le the and in next with by de y ar la en super sur".split())
LOCATIVES = frozenset("in at near from around round outside to across throughout within into via towards "
                      "serving covering".split())
POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.I)
OUTCODE = re.compile(r"^\s*[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s*$", re.I)
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_JOIN = re.compile(r"[\s\-.'’]*")  # what may sit between the words of one name in free text


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
    ``sources`` let an answer say which ("ONS lookup, December 2019" or the statutory instrument).
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
        body = "combined county authority" if "County Authority" in self.official_name else "combined authority"
        return f"mayoral {body}" if self.mayoral else body


@dataclass(frozen=True, slots=True)
class Place:
    """A place someone can name, with every area that contains it (``chain``: smallest first)."""

    name: str
    kind: str  # one of KINDS
    nation: Area
    chain: tuple[str, ...]
    sources: tuple[str, ...]
    district: Area | None = None
    county: Area | None = None
    combined_authority: CombinedAuthority | None = None
    region: Area | None = None  # English regions only; Wales, Scotland and Northern Ireland have none
    city_region: str | None = None  # Glasgow City Region, Cardiff Capital Region (from the supplement)
    members: tuple[str, ...] = ()  # the districts of a county, combined authority, region or nation
    qualifier: str = ""  # "Isle of Wight" for the town ONS calls "Newport (Isle of Wight)"
    msoas: int | None = None  # towns: 2011 MSOAs best-fitted to it, a size signal that ranks same-name places


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The answer to "where is X?": ``found``, ``ambiguous`` (pick from ``candidates``) or ``unknown``.

    For ``found``, ``candidates`` holds same-name places nested inside the one found (the West Midlands Combined
    Authority inside the West Midlands region) so that callers can widen a search to them.
    """

    query: str
    status: str
    message: str
    place: Place | None = None
    candidates: tuple[Place, ...] = ()
    suggestions: tuple[str, ...] = ()
    span: tuple[int, int] | None = None  # where find_places saw the name in the text


def _key(text: str) -> str:
    """Comparison form of a name: accents, case, punctuation and a leading "the" do not matter."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    words = re.sub(r"[.'’]", "", re.sub(r"[-,()/]", " ", text)).split()
    words = ["st" if w == "saint" else w for w in words]
    return " ".join(words[1:] if words[:1] == ["the"] and len(words) > 1 else words)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1 ("Ynys MÃ´n" -> "Ynys Môn"), as scraped into some ONS copies; else unchanged."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def looks_like_postcode(text: str) -> bool:
    """True if ``text`` holds a UK postcode ("BL1 1AA") or is only an outward code ("BL1").

    The gazetteer never resolves postcodes: callers answer "postcodes are not supported - name your town or
    council", and must not store or log the text.
    """
    return bool(POSTCODE.search(text) or OUTCODE.match(text))


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / name
    if not path.is_file():
        raise ConfigurationError(f"No ONS place lookup {name!r} in {folder}. Point load_gazetteer() at a folder "
                                 "holding the ONS lookups (../shared/places offline, or settings.datasets_dir).")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: repair_mojibake(v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]


def _split(name: str, suffix: str) -> tuple[str, str]:
    """'Newport (Isle of Wight) BUA' -> ('Newport', 'Isle of Wight')."""
    found = re.fullmatch(r"(.*?)\s*(?:\((.*)\))?", name.removesuffix(suffix).strip())
    return (found.group(1), found.group(2) or "") if found else (name, "")


@functools.lru_cache(maxsize=4)
def load_gazetteer(folder: Path, supplement: Path = SUPPLEMENT) -> Gazetteer:
    """Parse the ONS lookups in ``folder`` and the supplement once (cached per folder; about 0.3 s)."""
    folder, sup = Path(folder), json.loads(Path(supplement).read_text(encoding="utf-8"))
    manifest = folder / "MANIFEST.json"
    found = {f["file"]: f.get("vintage", "") for f in json.loads(manifest.read_text())["files"]} \
        if manifest.is_file() else {}
    vintages = {title: found.get(name) or default for name, (title, default) in TABLES.items()}
    vintages["Places supplement (places_supplement.json)"] = f"checked {sup.get('checked', '')}".strip()
    cite = {name: f"{title}, {vintages[title]}" for name, (title, _) in TABLES.items()}

    lads: dict[str, dict[str, str]] = {}
    for row in _rows(folder, WD23):
        lads.setdefault(row["LAD23CD"], row)
    by_key = {_key(r["LAD23NM"]): code for code, r in lads.items()}
    successor: dict[str, tuple[str, str, str]] = {}  # former district key -> (district code, note, source)
    for group in sup["former_districts"]:
        code = _lookup(by_key, group["successor"], "former_districts")
        for old in group["districts"]:
            successor[_key(old)] = (code, f"former district, part of {group['successor']} since {group['since']}",
                                    group["source"])

    def current(code: str, name: str) -> tuple[str | None, str]:
        """An older district (code, name) -> its December 2023 code, and the source when it was renamed away."""
        if code in lads or _key(name) in by_key:
            return (code if code in lads else by_key[_key(name)]), ""
        return successor[_key(name)][::2] if _key(name) in successor else (None, "")

    # Combined authorities: ONS December 2019 membership, renamed/replaced/extended by the supplement.
    ons: dict[str, list[str]] = defaultdict(list)
    ons_code: dict[str, str] = {}
    for row in _rows(folder, CA19):
        ons[row["CAUTH19NM"]].append(current(row["LAD19CD"], row["LAD19NM"])[0] or row["LAD19NM"])
        ons_code[row["CAUTH19NM"]] = row["CAUTH19CD"]
    replaced = {old for e in sup["combined_authorities"] for old in e.get("replaces_ons2019", ())}
    missing = set(ons) - replaced - {e.get("ons2019_name", e["name"]) for e in sup["combined_authorities"]}
    if missing:
        raise ConfigurationError(f"places_supplement.json has no entry for the ONS combined authorities {missing}.")
    ca_of: dict[str, CombinedAuthority] = {}
    for entry in sup["combined_authorities"]:
        ons_name = entry.get("ons2019_name", entry["name"])
        from_ons = "members" not in entry and ons_name in ons and ons_name not in replaced
        members = list(ons[ons_name]) if from_ons else [_lookup(by_key, m, entry["name"]) for m in entry["members"]]
        counties = {_key(c) for c in entry.get("member_counties", ())}
        members += [c for c, r in lads.items() if _key(r["CTY23NM"]) in counties]
        ca = CombinedAuthority(
            entry["name"], entry["official_name"], entry["mayoral"],
            vintage=vintages[TABLES[CA19][0]] if from_ons else entry.get("vintage", ""),
            sources=((cite[CA19],) if from_ons else ()) + tuple(entry["sources"]),
            code=ons_code.get(ons_name) if from_ons else None,
            former_names=tuple(entry.get("former_names", ())), aliases=tuple(entry.get("aliases", ())))
        for code in members:
            if code not in lads or code in ca_of:
                raise ConfigurationError(f"places_supplement.json: district {code} of {ca.name} is unknown or "
                                         "already in another combined authority; fix the supplement.")
            ca_of[code] = ca
    city_region = {_lookup(by_key, m, g["name"]): (g["name"], g["source"])
                   for g in sup["city_regions"] for m in g["members"]}

    def area(row: dict[str, str], level: str) -> Area | None:
        return Area(row[f"{level}23NM"], row[f"{level}23CD"], row[f"{level}23NMW"] or None) \
            if row[f"{level}23NM"] else None

    places: list[Place] = []
    district_place: dict[str, Place] = {}
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, row in lads.items():
        nation = Area(row["CTRY23NM"], row["CTRY23CD"], row["CTRY23NMW"] or None)
        region = area(row, "RGN") if nation.name == "England" else None
        county = area(row, "CTY") if row["CTY23NM"] not in ("Inner London", "Outer London") else None
        ca, cr = ca_of.get(code), city_region.get(code)
        place = Place(row["LAD23NM"], "district", nation, _chain([row["LAD23NM"]], county, ca, region, nation),
                      _dedupe([cite[WD23], *(ca.sources if ca else ()), cr[1] if cr else ""]),
                      Area(row["LAD23NM"], code, row["LAD23NMW"] or None), county, ca, region, cr and cr[0])
        places.append(place)
        district_place[code] = place
        for kind, value in (("nation", nation.name), ("region", region and region.name),
                            ("county", county and county.name), ("combined_authority", ca and ca.name)):
            if value:
                groups[(kind, value)].append(code)
    for (kind, name), codes in groups.items():
        if kind == "county" and ("combined_authority", name) in groups and set(codes) == set(
                groups[("combined_authority", name)]):
            continue  # a metropolitan county that is also its combined authority (Greater Manchester)
        places.append(_area_place(kind, name, [district_place[c] for c in codes], cite[WD23]))

    aliases: dict[str, tuple[str, str, str]] = {}  # alias key -> (target kind, target name, note)
    for place in places:
        ca = place.combined_authority
        for alt in ([place.district.welsh_name] if place.district else []) + _generic_aliases(place):
            if alt and _key(alt) != _key(place.name):
                aliases.setdefault(_key(alt), (place.kind, place.name, ""))
        if place.kind == "combined_authority" and ca:
            for alt in (ca.official_name, *ca.aliases):
                aliases[_key(alt)] = (place.kind, place.name, "acronym" if alt.isupper() else "")
            for old in ca.former_names:
                aliases[_key(old)] = (place.kind, place.name, f"former name of the {ca.official_name}")
    for alias, target in sup["aliases"]["names"].items():
        aliases[_key(alias)] = ("", target, "")
    towns = _towns(folder, current, cite, district_place, aliases)
    return Gazetteer.build(places + towns, aliases, successor, district_place, MappingProxyType(vintages))


def _lookup(by_key: Mapping[str, str], name: str, where: str) -> str:
    if _key(name) not in by_key:
        raise ConfigurationError(f"places_supplement.json ({where}): {name!r} is not a December 2023 district name.")
    return by_key[_key(name)]


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _chain(first: list[str], county: Area | None, ca: CombinedAuthority | None, region: Area | None,
           nation: Area) -> tuple[str, ...]:
    """Smallest area first; a combined authority named like its region or county takes its official name."""
    out = list(first)
    if county and not (ca and county.name == ca.name) and not (region and county.name == region.name):
        out.append(county.name)
    if ca:
        out.append(ca.official_name if ca.name in out or (region and ca.name == region.name) else ca.name)
    return _dedupe([*out, region.name if region else "", nation.name])


def _area_place(kind: str, name: str, districts: list[Place], source: str) -> Place:
    """A county, combined authority, region or nation, described by the districts it holds."""
    one = districts[0]

    def shared(attr: str) -> Any:
        values = {getattr(d, attr) for d in districts}
        return values.pop() if len(values) == 1 else None

    region, ca = shared("region"), shared("combined_authority")
    county = one.county if kind == "county" else None
    first = [ca.official_name if ca and kind == "combined_authority" and region and ca.name == region.name
             else name]
    return Place(name, kind, one.nation,
                 _chain(first, None, ca if kind == "county" else None,
                        region if kind in ("county", "combined_authority") else None, one.nation)
                 if kind != "nation" else (name,),
                 _dedupe([source, *(ca.sources if ca else ())]),
                 county=county, combined_authority=ca if kind in ("county", "combined_authority") else None,
                 region=region if kind != "nation" else None, members=tuple(d.name for d in districts))


def _generic_aliases(place: Place) -> list[str]:
    """Everyday forms of official names: 'Bristol, City of' -> 'Bristol', 'Glasgow City' -> 'Glasgow'."""
    name, out = place.name, []
    if place.kind == "district":
        out.append(re.sub(r",? (City|County) of$|^City of | City$", "", name))
    if place.kind == "region":
        out += [f"{name} England", place.region.welsh_name if place.region else None]
    if place.kind == "nation":
        out.append(place.nation.welsh_name)
    return [a for a in out if a and a != "London"]


def _towns(folder: Path, current: Any, cite: Mapping[str, str], districts: Mapping[str, Place],
           aliases: dict[str, tuple[str, str, str]]) -> list[Place]:
    """Towns from the 2011 built-up areas (BUA) and their sub-divisions (BUASD), each in its most common district.

    Conurbations are single BUAs ("Greater Manchester BUA"), so towns inside them come from the sub-divisions;
    a BUA that has sub-divisions is represented by them. A town named like a district it touches is that
    district (Bolton BUASD is Bolton), not a second place.
    """
    Key = tuple[str, str, str, str]  # (name, qualifier, table, ONS code)
    found: dict[Key, Counter[str]] = defaultdict(Counter)  # -> MSOAs per December 2023 district
    touches: dict[Key, set[str]] = defaultdict(set)
    renamed: dict[Key, set[str]] = defaultdict(set)  # sources of district successions used
    divided: set[str] = set()
    for row in _rows(folder, BUASD11):
        (lad, why), sd = current(row["LAD11CD"], row["LAD11NM"]), row["BUASD11NM"]
        key = (*_split(sd, " BUASD"), BUASD11, row["BUASD11CD"]) if sd else \
            (*_split(row["BUA11NM"], " BUA"), BUA11, row["BUA11CD"])
        if lad and (sd or row["BUA11NM"]):
            divided.update([row["BUA11CD"]] if sd else [])
            found[key][lad] += 1
            renamed[key].add(why)
    for row in _rows(folder, BUA11):
        (lad, why), key = current(row["LAD11CD"], row["LAD11NM"]), (*_split(row["BUA11NM"], " BUA"), BUA11,
                                                                     row["BUA11CD"])
        if lad:
            touches[key].add(lad)
            found[key][lad] += 0  # keep villages that no MSOA is best-fitted to
            renamed[key].add(why)
            if row["LAD11NMW"]:
                aliases.setdefault(_key(row["LAD11NMW"]), ("district", districts[lad].name, ""))
    merged: dict[tuple[str, str], Place] = {}
    for key, counts in found.items():
        name, qualifier, table, code = key
        best = max(counts, key=lambda c: (counts[c], _key(districts[c].name) == _key(name)))
        if code in divided or any(_key(name) == _key(districts[c].name) or
                                  aliases.get(_key(name), ("", "", ""))[1] == districts[c].name
                                  for c in touches[key] | set(counts)):
            continue
        home, size = districts[best], sum(counts.values())
        old = merged.get((_key(name), best))
        if old and (old.msoas or 0) >= size:
            continue
        merged[(_key(name), best)] = replace(
            home, name=name, kind="town", chain=(name, *home.chain), qualifier=qualifier, msoas=size,
            sources=_dedupe([*home.sources, cite[table], *sorted(renamed[key]), *(old.sources if old else ())]))
    return list(merged.values())


@dataclass(frozen=True)
class Gazetteer:
    """Every place the lookups name, indexed by comparison key; build it with :func:`load_gazetteer`."""

    places: tuple[Place, ...]
    vintages: Mapping[str, str]  # table title -> vintage, for citations ("ONS ... lookup, December 2023")
    _pools: Mapping[str, tuple[Place, ...]] = field(repr=False)
    _notes: Mapping[str, str] = field(repr=False)  # key -> why an alias needs saying ("former district, ...")
    _display: Mapping[str, str] = field(repr=False)
    _longest: int = field(repr=False, default=1)

    @classmethod
    def build(cls, places: list[Place], aliases: Mapping[str, tuple[str, str, str]],
              successor: Mapping[str, tuple[str, str, str]], districts: Mapping[str, Place],
              vintages: Mapping[str, str]) -> Gazetteer:
        pools: dict[str, list[Place]] = defaultdict(list)
        display: dict[str, str] = {}
        for place in places:
            pools[_key(place.name)].append(place)
            display.setdefault(_key(place.name), place.name)
        notes: dict[str, str] = {}
        named: dict[tuple[str, str], Place] = {}
        for place in sorted(places, key=lambda p: -KINDS.index(p.kind)):  # without a kind, the biggest wins
            named[(place.kind, place.name)] = named[("", place.name)] = place
        for alias, (kind, target, note) in aliases.items():
            if (kind, target) in named and named[(kind, target)] not in pools[alias]:
                pools[alias].append(named[(kind, target)])
                notes[alias] = note
        for old, (code, note, source) in successor.items():
            if old not in pools:  # "Eden" -> Westmorland and Furness; "Harrogate" stays the town
                place = districts[code]
                pools[old], notes[old] = [replace(place, sources=(*place.sources, source))], note
        ranked = {k: tuple(sorted(v, key=lambda p: (KINDS.index(p.kind), -(p.msoas or 0)))) for k, v in pools.items()}
        return cls(tuple(places), vintages, MappingProxyType(ranked), MappingProxyType(notes),
                   MappingProxyType(display), max(len(k.split()) for k in ranked))

    def resolve(self, name: str) -> PlaceMatch:
        """Say where ``name`` is; "Newport" is ambiguous, "Newport, Isle of Wight" is not."""
        if looks_like_postcode(name):
            return PlaceMatch("[postcode]", "unknown", "Postcodes are not supported: name your town or council.")
        key = _key(name)
        if key in self._pools:
            return self._decide(name.strip(), key, self._pools[key])
        qualified = re.fullmatch(r"(.+?)\s*(?:\((.+)\)|,\s*(.+)|\s+in\s+(.+))", name.strip())
        if qualified and _key(qualified.group(1)) in self._pools:
            where = _key(next(g for g in qualified.groups()[1:] if g))
            pool = tuple(p for p in self._pools[_key(qualified.group(1))]
                         if where in {_key(a) for a in (*p.chain[1:], p.qualifier, f"{p.region and p.region.name} "
                                                        "England", p.district and p.district.welsh_name) if a})
            if pool:
                return self._decide(name.strip(), _key(qualified.group(1)), pool)
        return self._unknown(name.strip())

    def find_places(self, text: str) -> list[PlaceMatch]:
        """Place names mentioned in a question, longest first, each once ("a firm in Leeds" -> Leeds).

        Everyday words that are also places ("reading, writing and maths", "for Sale", "High Street") are skipped:
        they count only capitalised, right after "in", "at", "near"... Villages need the same.
        """
        toks = list(_TOKEN.finditer(text))
        norms = [_key(t.group()) for t in toks]
        out: list[PlaceMatch] = []
        seen: set[str] = set()
        i = 0
        while i < len(toks):
            for n in range(min(self._longest, len(toks) - i), 0, -1):
                key = " ".join(norms[i:i + n])
                if key in self._pools and self._plausible(text, toks, norms, i, n, key):
                    if key not in seen:
                        seen.add(key)
                        match = self._decide(text[toks[i].start():toks[i + n - 1].end()], key, self._pools[key])
                        out.append(replace(match, span=(toks[i].start(), toks[i + n - 1].end())))
                    i += n
                    break
            else:
                i += 1
        return out

    def containing_areas(self, place: Place) -> tuple[str, ...]:
        """Names of the place and every area holding it, then the names policy texts use for them (query
        expansion): Salford -> Salford, Greater Manchester, North West, England, Greater Manchester Combined
        Authority, GM, GMCA."""
        ca = place.combined_authority
        return _dedupe([*place.chain, *((ca.name, ca.official_name, *ca.aliases, *ca.former_names) if ca else ()),
                        place.city_region or ""])

    def _plausible(self, text: str, toks: list[re.Match[str]], norms: list[str], i: int, n: int, key: str) -> bool:
        if key in NEVER_IN_TEXT or any(not _JOIN.fullmatch(text[a.end():b.start()])
                                       for a, b in zip(toks[i:i + n - 1], toks[i + 1:i + n])):
            return False
        surface = text[toks[i].start():toks[i + n - 1].end()]
        if self._notes.get(key) == "acronym":
            return surface.isupper() and len(key) > 2
        minor = all(p.kind == "town" and (p.msoas or 0) < MIN_MSOAS for p in self._pools[key])
        if key not in COMMON_WORDS and not minor:
            return True
        capitalised = all(t.group()[:1].isupper() for t, w in zip(toks[i:i + n], norms[i:i + n])
                          if w not in SMALL_WORDS and t.group()[:1].isalpha())
        glued = i + n < len(toks) and not text[toks[i + n - 1].end():toks[i + n].start()].strip() \
            and toks[i + n].group()[:1].isupper()
        before = norms[i - 2 if i > 1 and norms[i - 1] == "the" else i - 1] if i else ""
        return capitalised and not glued and before in LOCATIVES

    def _decide(self, query: str, key: str, pool: tuple[Place, ...]) -> PlaceMatch:
        """One place, nested same-name places (found, biggest wins), or different places (ambiguous)."""
        big = tuple(p for p in pool if p.kind != "town" or (p.msoas or 0) >= MIN_MSOAS) or pool
        if len(big) > 1:
            area = {p: set(p.members) or {p.district.name if p.district else p.name} for p in big}
            top = max(big, key=lambda p: (len(area[p]), -KINDS.index(p.kind)))
            if not all(area[p] <= area[top] for p in big):
                labels = [f"{p.name} ({_label(p)})" for p in big]
                return PlaceMatch(query, "ambiguous", f"{query} is ambiguous: {', '.join(labels[:-1])} or "
                                  f"{labels[-1]}; say which.", candidates=big)
            nested = tuple(p for p in big if p is not top)
            extra = " The name also covers " + ", ".join(f"{p.name} ({_label(p)})" for p in nested) + " within it."
            return PlaceMatch(query, "found", _describe(top, query, self._note(key)) + extra, top, nested)
        return PlaceMatch(query, "found", _describe(big[0], query, self._note(key)), big[0])

    def _note(self, key: str) -> str:
        note = self._notes.get(key, "")
        return "" if note == "acronym" else note

    def _unknown(self, query: str) -> PlaceMatch:
        close = difflib.get_close_matches(_key(query), list(self._pools), n=6, cutoff=0.75) if query else []
        close.sort(key=lambda k: all(p.kind == "town" and (p.msoas or 0) < MIN_MSOAS for p in self._pools[k]))
        names = _dedupe(self._display.get(k) or self._pools[k][0].name for k in close)[:3]
        hint = f" Did you mean {' or '.join(names)}?" if names else (
            " Name a UK town, council, county, combined authority, region or nation.")
        return PlaceMatch(query, "unknown", f"I don't know a place called {query or 'that'}.{hint}",
                          suggestions=names)


def _label(p: Place) -> str:
    where = f"{p.region.name} England" if p.region else p.nation.name
    return {"town": f"town in {p.district.name if p.district else ''}, {where}", "district": f"district, {where}",
            "county": f"county, {where}", "combined_authority": p.combined_authority.label
            if p.combined_authority else "combined authority", "region": "region of England",
            "nation": "nation of the United Kingdom"}[p.kind]


def _describe(p: Place, query: str, note: str) -> str:
    """One plain sentence: where the place is, its combined authority (or that it has none), its city region."""
    head = f"{query} ({note or p.name})" if note or _key(query) != _key(p.name) else query
    ca = p.combined_authority
    if p.kind in ("nation", "region"):
        return f"{head} is a {_label(p)}."
    if p.kind == "combined_authority" and ca:
        where = ", ".join(x for x in (p.region and p.region.name, "England") if x)
        return f"{head} is a {ca.label} in {where}: {', '.join(p.members)}."
    parts = [f"{p.district.name} ({'district' if p.region else 'council area'})"] \
        if p.kind == "town" and p.district else []
    if p.county and p.kind != "county" and not (ca and ca.name == p.county.name):
        parts.append(f"{p.county.name} (county)")
    if ca:
        former = f"; formerly {' / '.join(ca.former_names[:2])}" if ca.former_names else ""
        parts.append(f"{ca.name} ({ca.label}{former})")
    parts += [x for x in (p.region and p.region.name, p.nation.name) if x]
    text = f"{head} is {'a county ' if p.kind == 'county' else ''}in {', '.join(parts)}."
    if p.region and not ca:
        text += " It is not in a combined authority."
    return text + (f" It is part of the {p.city_region}." if p.city_region else "")
