"""Gazetteer: from the place a business names to the areas the White Paper talks about.

People write "Bolton", "Solihull" or "Sutton Coldfield"; the White Paper speaks of Greater Manchester, the
West Midlands, mayoral combined authorities, Scotland. This module bridges the two with the ONS lookups in
``shared/places`` (read from a folder at run time, never copied into the repository) and
``supplement.json``, a small sourced list of what those files lack: combined authorities newer than
December 2019, successors of districts abolished 2019-2023, city regions, short names and town fixes::

    gaz = load_gazetteer(Path("../shared/places"))  # load.py reads the files
    gaz.resolve("Bolton").message
    # 'Bolton is in Greater Manchester (mayoral combined authority), North West, England.'

Hierarchy: town (2011 built-up area or sub-division) -> district (December 2023) -> county -> combined
authority -> region (England only) -> nation. Postcodes are recognised so callers can refuse them; they are
never resolved or kept.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ..models import Area, Place, PlaceMatch

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


def name_key(text: str) -> str:
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


def dedupe(items: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def region_label(region: Area | None, nation: Area) -> str:
    if not region:
        return nation.name
    return region.name if region.name.endswith("England") else f"{region.name} England"


def looks_like_postcode(text: str) -> bool:
    """True if ``text`` holds a UK postcode ("BL1 1AA") or is only an outward code ("BL1").

    The gazetteer never resolves postcodes: callers answer "postcodes are not supported - name your town or
    council", and must neither store nor log the text.
    """
    return bool(POSTCODE.search(text) or OUTCODE.match(text))


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
            pools[name_key(p.name)].append(p)
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
        for key in (name_key(name), re.sub(r"^the ", "", name_key(name))):
            if key in self._pools:
                return self._decide(name, key, self._pools[key])
        parts = re.fullmatch(r"(.+?)\s*(?:\((.+)\)|,\s*(.+)|\s+in\s+(.+))", name)
        if parts and name_key(parts.group(1)) in self._pools:
            where = name_key(next(g for g in parts.groups()[1:] if g))
            pool = tuple(p for p in self._pools[name_key(parts.group(1))] if where in {name_key(a) for a in (
                *p.chain[1:], p.qualifier, region_label(p.region, p.nation),
                p.district and p.district.welsh_name) if a})
            if pool:
                return self._decide(parts.group(1), name_key(parts.group(1)), pool)
        return self._unknown(name)

    def find_places(self, text: str) -> list[PlaceMatch]:
        """Places named in a question, longest names first, each once ("a small firm in Leeds" -> Leeds).

        Everyday words that are also places ("reading, writing and maths", "for Sale", "High Street") and
        villages count only capitalised and right after "in", "at", "near", "from", "around"...
        """
        toks = list(_TOKEN.finditer(text))
        norms = [name_key(t.group()) for t in toks]
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
        return dedupe([*place.chain, *names, place.city_region])

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
        close = (difflib.get_close_matches(name_key(query), list(self._pools), n=6, cutoff=0.75)
                 if query else [])
        close.sort(key=lambda k: all(_minor(p) for p in self._pools[k]))  # real towns before villages
        names = dedupe(self._pools[k][0].name for k in close)[:3]
        hint = f" Did you mean {' or '.join(names)}?" if names else \
            " Name a UK town, council, county, combined authority, region or nation."
        message = f"I don't know a place called {query if _ECHO.fullmatch(query) else 'that'}.{hint}"
        return PlaceMatch(query, "unknown", message, suggestions=names)


def _minor(p: Place) -> bool:
    return p.kind == "town" and (p.msoas or 0) < MIN_MSOAS


def _label(p: Place) -> str:
    where = region_label(p.region, p.nation)
    return {"town": f"town in {p.district.name if p.district else ''}, {where}",
            "district": f"district, {where}", "county": f"county, {where}",
            "combined_authority": p.combined_authority.label if p.combined_authority else "",
            "city_region": "city region (a city deal of councils)", "region": "region of England",
            "nation": "nation of the United Kingdom"}[p.kind]


def _describe(p: Place, query: str, note: str) -> str:
    """One plain sentence: where the place is, its combined authority (or that it has none), city region."""
    same = name_key(query).removeprefix("the ") == name_key(p.name)
    head = f"{query} ({note or p.name})" if note or not same else query
    ca = p.combined_authority
    if p.kind in ("nation", "region"):
        return f"{head} is a {_label(p)}."
    if p.kind in ("combined_authority", "city_region"):
        return f"{head} is a {_label(p)} in {region_label(p.region, p.nation)}: {', '.join(p.members)}."
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
