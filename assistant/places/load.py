"""Reading the gazetteer: the ONS lookup tables and ``supplement.json`` into a ``Gazetteer``.

The ONS files sit in a folder read at run time (``../shared/places`` offline, or the datasets folder
after ``levelup fetch``); nothing of them is copied into the repository. The supplement adds what they
lack, each fact with its source: combined authorities newer than December 2019, successors of districts
abolished 2019-2023, city regions, short names and town fixes. A supplement name that does not match a
December 2023 district fails loudly, so a typo cannot quietly drop a place.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigurationError
from ..models import Area, CombinedAuthority, Place
from .gazetteer import Gazetteer, dedupe, name_key, region_label, repair_mojibake

SUPPLEMENT = Path(__file__).with_name("supplement.json")
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


def _lookup(by_key: Mapping[str, str], name: str, where: str) -> str:
    if name_key(name) not in by_key:
        raise ConfigurationError(
            f"assistant/places/supplement.json ({where}): {name!r} is not a December 2023 district name; "
            "fix it.")
    return by_key[name_key(name)]


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
    vintages["Places supplement (assistant/places/supplement.json)"] = sup["vintage"]
    cite = {name: f"{title}, {vintages[title]}" for name, (title, _) in TABLES.items()}
    lads: dict[str, dict[str, str]] = {}
    for row in _rows(folder, WD23):
        lads.setdefault(row["LAD23CD"], row)
    by_key = {name_key(r["LAD23NM"]): code for code, r in lads.items()}
    successor = {name_key(old): (_lookup(by_key, g["successor"], "former_districts"), g["source"],
                             f"former district, part of {g['successor']} since {g['since']}")
                 for g in sup["former_districts"] for old in g["districts"]}

    def current(code: str, name: str) -> tuple[str | None, str]:
        """An older district (code, name) -> its December 2023 code, and the source if it was abolished."""
        if code in lads or name_key(name) in by_key:
            return (code if code in lads else by_key[name_key(name)]), ""
        return successor[name_key(name)][:2] if name_key(name) in successor else (None, "")

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
        raise ConfigurationError(f"assistant/places/supplement.json has no entry for the ONS combined "
                                 f"authorities {sorted(missing)}; add them.")
    ca_of: dict[str, CombinedAuthority] = {}
    for e in entries:
        ons_name = e.get("ons2019_name", e["name"])
        from_ons = "members" not in e and ons_name in ons
        members = ons[ons_name] if from_ons else [_lookup(by_key, m, e["name"]) for m in e["members"]]
        counties = {name_key(c) for c in e.get("member_counties", ())}
        ca = CombinedAuthority(e["name"], e["official_name"], e["mayoral"],
                               vintage if from_ons else e.get("vintage", ""),
                               ((cite,) if from_ons else ()) + tuple(e["sources"]),
                               ons_code.get(ons_name) if from_ons else None,
                               tuple(e.get("former_names", ())), tuple(e.get("aliases", ())))
        for code in [*members, *(c for c, r in lads.items() if name_key(r["CTY23NM"]) in counties)]:
            if code not in lads or code in ca_of:
                raise ConfigurationError(f"assistant/places/supplement.json: district {code} of {ca.name} "
                                         "is unknown or already in another combined authority; "
                                         "fix the supplement.")
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
            dedupe([cite, *(ca.sources if ca else ()), cr.get("source")]),
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
    return dedupe([*out, region.name if region else "", nation.name])


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
                 dedupe([cite, *(ca.sources if ca else ()), *own]),
                 county=members[0].county if kind == "county" else None, combined_authority=ca,
                 region=region if kind != "nation" else None, members=tuple(d.name for d in members))


def _aliases(places: list[Place], sup: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Alias key -> (kind, name, note): Welsh names, everyday forms ('Bristol, City of' -> 'Bristol',
    'Glasgow City' -> 'Glasgow'), combined authority acronyms and former names, the supplement's names."""
    out: dict[str, tuple[str, str, str]] = {}
    for p in places:
        ca = p.combined_authority
        alts = {"district": [p.district and p.district.welsh_name,
                             re.sub(r",? (City|County) of$|^City of | City$", "", p.name)],
                "region": [p.region and p.region.welsh_name, region_label(p.region, p.nation)],
                "nation": [p.nation.welsh_name]}.get(p.kind, [])
        for alt in alts:
            if alt and alt != "London":  # 'City of London' must not become London
                out.setdefault(name_key(alt), (p.kind, p.name, ""))
        if p.kind == "combined_authority" and ca:
            out.update({name_key(a): (p.kind, p.name, "acronym" if a.isupper() else "")
                        for a in (ca.official_name, *ca.aliases)})
            out.update({name_key(a): (p.kind, p.name, f"former name of the {ca.official_name}")
                        for a in ca.former_names})
    out.update({name_key(alias): ("", target, "") for alias, target in sup["aliases"]["names"].items()})
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
                aliases.setdefault(name_key(row["LAD11NMW"]), ("district", districts[lad].name, ""))
    fixes = sup["town_districts"]["towns"]
    towns: dict[tuple[str, str], Place] = {}
    for key, counts in fits.items():
        name, qualifier, table, code = key
        best = max(counts, key=lambda c: (counts[c], name_key(districts[c].name) == name_key(name)))
        if name in fixes:  # the MSOA best-fit puts a few towns mostly in their neighbour
            best = _lookup(by_key, fixes[name]["district"], "town_districts")
            why[key].add(fixes[name]["source"])
        alias = aliases.get(name_key(name), ("", "", ""))[1]
        if code in divided or any(name_key(name) == name_key(districts[c].name) or alias == districts[c].name
                                  for c in touches[key] | set(counts)):
            continue
        home, size, old = districts[best], sum(counts.values()), towns.get((name_key(name), best))
        if not old or (old.msoas or 0) < size:
            towns[(name_key(name), best)] = replace(
                home, name=name, kind="town", chain=(name, *home.chain), qualifier=qualifier, msoas=size,
                sources=dedupe([*home.sources, cite[table], *sorted(why[key]),
                                 *(old.sources if old else ())]))
    return list(towns.values())
