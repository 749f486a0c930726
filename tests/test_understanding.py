"""How a question is read: tables of questions each classifier must, and must not, pick out.

Written in our own words, not taken from any evaluation set: a classifier is right when it reads the
structure of a question (its asking phrase, its subject), whatever the topic.
"""

from __future__ import annotations

import pytest

from assistant.answers.guard import route
from assistant.places.context import _locates_user
from assistant.retrieval.query import asks_record, expected_type, is_list_question, membership
from assistant.settings import Settings
from assistant.text import tokenize


@pytest.mark.parametrize("question, kind, strict", [
    ("how much is the towns fund worth?", "amount", True),
    ("what is the budget for the new youth clubs?", "amount", True),
    ("what's the shared rural network worth?", "amount", True),
    ("how many freeports will there be?", "number", True),
    ("whats the target for adult numeracy?", "number", True),
    ("what share of the fund goes to Wales?", "number", True),
    ("what rate of return should the appraisal assume?", "percent", True),
    ("what's the current discount rate for health effects?", "percent", True),
    ("when will the new county deals be agreed?", "date", True),
    ("what year does the mission end?", "date", True),
    ("which towns get a town deal?", "name", True),
    ("which departments are moving staff out of London?", "name", True),
    ("who runs the new advisory council?", "name", False),
    ("is there any grant money for community energy?", "amount", False),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_the_asking_phrase_says_what_kind_of_fact_is_wanted(question: str, kind: str, strict: bool) -> None:
    expected = expected_type(question)
    assert expected is not None and (expected.kind, expected.strict) == (kind, strict)


@pytest.mark.parametrize("question", [
    "we've already spent £3m on design work - does that count in the appraisal?",
    "what does a P50 cost estimate mean?",
    "what does the paper say about the cost of living?",
    "is the value for money test the same for councils?",
    "tell me about the housing target in the white paper",
    "explain the timing of the devolution framework",
], ids=lambda v: v)
def test_a_fact_mentioned_as_context_is_not_what_is_asked(question: str) -> None:
    """An amount, a target or a date named in passing does not make the question ask for one."""
    assert expected_type(question) is None


@pytest.mark.parametrize("question, fields", [
    ("when was the green book published?", ("published",)),
    ("when was the skills white paper issued?", ("published",)),
    ("what's the publication date of the urban strategy?", ("published",)),
    ("which department published the skills agreement?", ("publisher",)),
    ("who published the future of mobility strategy, and when was it released?", ("published", "publisher")),
    ("when was the levelling up fund set up?", ()),
    ("who wrote the foreword to the urban strategy?", ()),
    ("does the council have to publish its appraisal?", ()),
    ("when will the annual report be published by the government?", ()),
], ids=lambda v: v if isinstance(v, str) else None)
def test_questions_about_the_documents_themselves(question: str, fields: tuple[str, ...]) -> None:
    """Publication date and publisher come from the source record; authorship is left to the bylines."""
    assert asks_record(question) == fields


@pytest.mark.parametrize("question, listing", [
    ("what are the 12 missions?", True),
    ("which of the missions are about health?", True),
    ("list the funds for high streets", True),
    ("what are the principles of the urban strategy?", True),
    ("what is the mission on wellbeing?", False),
    ("how much is the UK Shared Prosperity Fund?", False),
    ("who chairs the skills board?", False),
])
def test_list_questions(question: str, listing: bool) -> None:
    assert is_list_question(question) is listing


@pytest.mark.parametrize("question, opinion", [
    ("what do you think of the missions?", True),
    ("in your view is devolution working?", True),
    ("who should i vote for?", True),
    ("is it a good idea to bid for the towns fund?", True),
    ("what discount rate should we use for a 50-year scheme?", False),
    ("should we include sunk costs in the appraisal?", False),
    ("do we have to use the green book for a council project?", False),
    ("is it worth the council's time to apply?", False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_only_a_request_for_an_opinion_or_a_vote_is_refused_as_advice(question: str, opinion: bool) -> None:
    routed = route(question, Settings())
    assert (routed is not None and routed.reason == "advice") is opinion


@pytest.mark.parametrize("question, place, own", [
    ("we're a bakery in Bolton - what could apply to us?", "Bolton", True),
    ("my daughter lives in Wigan and wants an apprenticeship", "Wigan", True),
    ("we run a garage near Doncaster", "Doncaster", True),
    ("what is the skills mission target for England?", "England", False),
    ("will buses outside London be as good as London's?", "London", False),
    ("how much goes to Scotland from the fund?", "Scotland", False),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_the_users_own_place_is_told_from_a_place_that_is_the_topic(question: str, place: str,
                                                                    own: bool) -> None:
    start = question.index(place)
    assert _locates_user(question, (start, start + len(place))) is own


@pytest.mark.parametrize("question, member, of", [
    ("is the Eden Project one of the places getting culture money?", "the Eden Project",
     "places getting culture money"),
    ("are the smaller towns among the 55 areas?", "the smaller towns", "55 areas"),
    ("will Hartlepool be included in the new freeports?", "Hartlepool", "new freeports"),
    ("what are the 55 education investment areas?", "", ""),
    ("how many of the towns are in the north?", "", ""),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_membership_questions(question: str, member: str, of: str) -> None:
    """Without a gazetteer, the member is named as asked (with one, a place it names is resolved)."""
    assert membership(question) == (member, of)


@pytest.mark.parametrize("typed, written", [
    ("wellbeing", "well-being"),
    ("wellbeing", "Well-\nbeing"),
    ("escooters", "e-scooters"),
    ("coordinate", "co-ordinate"),
])
def test_a_compound_typed_whole_matches_it_hyphenated(typed: str, written: str) -> None:
    assert set(tokenize(typed)) & set(tokenize(written))
