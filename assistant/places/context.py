"""Place-aware answers: "we're a business in Bolton - what applies to us?"

People name their town or council; the documents speak of Greater Manchester, the West
Midlands, mayoral combined authorities, Scotland. With the gazetteer (``gazetteer.py``) this
module

* finds the places a question names (or the one given with ``--place``), and says plainly
  when a name is ambiguous, misspelt or a postcode;
* widens the search to the areas that contain the place (district, county, combined
  authority, city region; the region too for "near us" questions, and the nation for
  Scotland, Wales and Northern Ireland, where policy differs);
* states the place chain as a cited fact from the ONS lookup, and then what the passages
  name: when they list places and the user's area is not among them, the answer says so
  rather than implying eligibility, and suggests what to check instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ..models import Citation, Place, PlaceContext, PlaceMatch, Query
from ..text import join_names
from .gazetteer import Gazetteer

_NEAR = re.compile(r"\b(?:near|around|close to|in (?:our|my|the) (?:area|region)|nearby|locally|"
                   r"local to (?:us|me)|"
                   r"our (?:area|region)|where we are)\b", re.I)
_ELIGIBILITY = re.compile(r"\b(?:eligib\w*|apply|applies|qualify|can (?:we|i) (?:get|bid|claim)|"
                          r"is there (?:any|anything)|funding for|grant|"
                          r"what (?:applies|is there) (?:to|for) us|for (?:us|our))\b", re.I)
_DEVOLVED = {"Scotland", "Wales", "Northern Ireland"}
_LOCATIVE_NAME = re.compile(r"\b(?:in|at|near|from|around|round)\s+([A-Z][\w'-]{2,}(?:\s+[A-Z][\w'-]+)?)")


def place_context(question: str, gazetteer: Gazetteer | None, place: str | None = None) -> PlaceContext:
    """The places in ``question`` (and ``place``, given explicitly) and the areas that contain them."""
    if gazetteer is None:
        return PlaceContext(notes=(f"The place lookups are not fetched (run: levelup fetch), so "
                                   f"\u201c{place}\u201d could not be looked up and was not used.",)
                            if place else ())
    matches = list(gazetteer.find_places(question))
    if place:
        matches.insert(0, gazetteer.resolve(place))
    taken = [m.span for m in matches if m.span]
    for named in _LOCATIVE_NAME.finditer(question):  # "we're in Wolverhamptn": say what it might be
        if not any(a <= named.start(1) < b for a, b in taken):
            match = gazetteer.resolve(named.group(1))
            if match.status == "unknown" and match.suggestions:
                matches.append(match)
    places: list[Place] = []
    notes: list[str] = []
    for match in matches:
        if match.status == "found" and match.place is not None:
            if match.place not in places:
                places.append(match.place)
        elif match.message not in notes:
            notes.append(match.message)
    near = bool(_NEAR.search(question))
    areas: list[str] = []
    for found in places:
        for name in _areas(gazetteer, found, near):
            if name not in areas:
                areas.append(name)
    own = bool(places) and (bool(place) or is_about_place(question) or any(
        _locates_user(question, m.span) for m in matches if m.status == "found" and m.span))
    return PlaceContext(tuple(matches), tuple(places), tuple(areas), tuple(notes), own)


_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|we|we're|our|my|me|us)\b", re.I)
_LOCATIVE_BEFORE = re.compile(r"\b(?:in|at|near|from|around|round|outside|based in|lives? in)\s+(?:the\s+)?$",
                              re.I)


def _locates_user(question: str, span: tuple[int, int]) -> bool:
    """Whether the place at ``span`` is where the user is: "we're a firm in Bolton", "my son lives in
    Wigan"; not "the target for England" or "as good as London's"."""
    start = span[0]
    before = question[max(0, start - 60):start]
    if not _LOCATIVE_BEFORE.search(before):
        return False
    sentence = re.split(r"[.!?;]\s+", question[:start])[-1] + question[start:].split(". ")[0]
    return bool(_FIRST_PERSON.search(sentence))


def _areas(gazetteer: Gazetteer, place: Place, near: bool) -> list[str]:
    """The names under which the documents may speak of ``place``."""
    names = [place.name]
    if place.district and place.district.name != place.name:
        names.append(place.district.name)
    if place.county:
        names.append(place.county.name)
    if place.city_region:
        names.append(place.city_region)
    ca = place.combined_authority
    if ca:
        names += [ca.name, ca.official_name, *ca.aliases]
    if near and place.region:
        names.append(place.region.name)
    if place.nation.name in _DEVOLVED or near or place.kind in ("nation", "region"):
        names.append(place.nation.name)
    return [n for n in names if n and len(n) > 2 and not n.isupper()] or [place.name]


def expand_for_places(query: Query, context: PlaceContext) -> Query:
    """Search for the containing areas too: "Salford" is also looked for as "Greater Manchester"."""
    if not context.found:
        return replace(query, notes=(*query.notes, *context.notes)) if context.notes else query
    wider = [a for a in context.areas if a.lower() not in query.text.lower()]
    notes = [f"{_where(p)}" for p in context.places] + list(context.notes)
    # The areas join the word search. The meaning search keeps the question as asked (area names there
    # pull it towards any passage about those areas), unless the question is little more than the place.
    searched = query.searched
    if wider and len(re.findall(r"\w+", query.text)) <= 4:
        searched += f" ({'; '.join(wider[:4])})"
    return replace(query, search_text=searched if searched != query.text else "",
                   related=(*query.related, *wider), notes=(*query.notes, *notes))


def _where(place: Place) -> str:
    chain = [c for c in place.chain[1:] if c]
    return f"{place.name} is in {', '.join(chain)}." if chain else f"{place.name}."


def place_citation(n: int, match: PlaceMatch, gazetteer: Gazetteer) -> Citation:
    """The place chain as a cited fact: its own kind of citation, to the ONS lookup and its vintage."""
    place = match.place
    assert place is not None
    sources = "; ".join(place.sources) or "ONS lookups"
    return Citation(n=n, quote=match.message, chunk_id="", doc_id="ons-place-lookups", title=sources,
                    publisher="Office for National Statistics (ONS)", published=", ".join(sorted(set(
                        gazetteer.vintages.values()))), licence="Open Government Licence v3.0",
                    section="", page=None, url="https://geoportal.statistics.gov.uk/", kind="gazetteer")


def named_places(gazetteer: Gazetteer, text: str) -> list[str]:
    """Places a passage names (districts and bigger, and city regions), in order, each once."""
    names: list[str] = []
    for match in gazetteer.find_places(text):
        if match.status == "found" and match.place is not None and match.place.kind != "town":
            start = match.span[0] if match.span else 0
            if re.search(r"[A-Z][\w]*[\s-]$", text[max(0, start - 30):start]):
                continue  # part of a longer name that is not a UK place: "MIT-Greater Boston"
            name = text[match.span[0]:match.span[1]] if match.span else match.place.name
            if name not in names:
                names.append(name)
    return names


def place_statement(context: PlaceContext, gazetteer: Gazetteer,
                    quotes: Sequence[tuple[int, str]]) -> str | None:
    """Whether the passages name the user's area: "... names Greater Manchester, the West Midlands and
    Glasgow; Cornwall is not among them." Every place it mentions is in the quote it cites."""
    if not context.found:
        return None
    place = context.places[0]
    wanted = {a.lower() for a in context.areas}
    for n, quote in quotes:
        named = named_places(gazetteer, quote)
        if len(named) < 2:
            continue
        hit = [name for name in named if name.lower() in wanted]
        listed = join_names(named)
        if hit:
            return f"The passage [{n}] names {listed}; {hit[0]} includes {place.name}."
        return (f"The passage [{n}] names {listed}; {place.name} is not among them, nor is any area that "
                f"contains it.")
    return None


def is_about_place(question: str) -> bool:
    """ "What applies to us?", "is there funding for our area?": the place is the subject, not a detail."""
    return bool(_ELIGIBILITY.search(question))


def next_steps(query: Query) -> tuple[str, ...]:
    """What to check, for a question about eligibility: the documents don't decide who qualifies."""
    context = query.place
    if not (query.about_place or context.found):
        return ()
    body = "your council"
    if context.found and context.places[0].combined_authority is not None:
        body = f"{context.places[0].combined_authority.official_name} or your council"
    return (f"Whether a particular business or project qualifies is set by each fund's own rules and "
            f"prospectus, not by these documents: check those, or ask {body}.",)
