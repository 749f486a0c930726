"""What is not a question for the documents, and the short fixed reply it gets.

Checked before any retrieval: a question with personal data is refused (and never stored or
logged), one that is too long gets the limit, instructions inside a question ("ignore your
instructions...") are treated as text and answered with what the assistant does, greetings
and thanks get a greeting, requests for the assistant's own opinion or a vote get a pointer to
what the documents say (``Assistant`` shows the passages). Everything else goes on to retrieval.

``check_request`` is the one call every face makes: it puts the fields beside the question (the
place, each earlier question of the conversation) through the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..places.gazetteer import looks_like_postcode
from ..settings import Settings
from ..text import ADDRESSED_TO_ASSISTANT

EXAMPLES = ("What are the 12 missions?", "How much is the UK Shared Prosperity Fund worth?",
            "We're a small firm in Bolton: what applies to us?")
_EXAMPLES = "; ".join(f"\u201c{e}\u201d" for e in EXAMPLES)


@dataclass(frozen=True, slots=True)
class Route:
    """A question that gets a fixed reply instead of an answer from the documents."""

    reason: str  # personal_data, too_long, injection, off_task, greeting, thanks, advice
    reply: str
    kind: str = "refusal"  # or "smalltalk"


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w£$.])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w%])")
# Any two letters, three pairs of digits and A-D: stricter prefix rules would let the "QQ 12 34 56 C"
# people copy from forms slip through, and here a false alarm costs less than a leak.
_NINO = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.I)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def personal_data(text: str) -> str | None:
    """The kind of personal data in ``text`` (for the refusal message), or None."""
    if _EMAIL.search(text):
        return "an email address"
    if _NINO.search(text):
        return "a National Insurance number"
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "a payment card number"
    if _PHONE.search(text):
        return "a phone number"
    return None


_OFF_TASK = re.compile(r"\b(?:write|compose|tell|give|make)\b.{0,20}\b(?:poem|song|story|joke|limerick|haiku|"
                       r"essay|rap|sonnet|recipe)s?\b|\btranslate\b|\b(?:code|script) (?:in|for)\b", re.I)
_GREETING = re.compile(r"^(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening)|greetings)\b"
                       r"[\s\w,!.?]{0,20}$", re.I)
_THANKS = re.compile(r"^(?:thanks|thank you|thank u|cheers|ta|great,? thanks|many thanks)\b.{0,40}$", re.I)
# A request for the assistant's own judgement, or a vote. "What discount rate should we use?" is not one:
# the documents give guidance, and it is answered from them (a "should I/we ...?" decision gets a note).
_OPINION = re.compile(r"\b(?:what do you think|what(?:'s| is) your (?:view|opinion|take)|"
                      r"your (?:view|opinion|advice|recommendation)|in your (?:view|opinion)|"
                      r"do you (?:think|believe|agree|like|reckon)|would you (?:recommend|advise)|"
                      r"is it a good idea|is it worth it|which (?:one )?is better|"
                      r"(?:who|which party) should i vote|should i vote)\b", re.I)


def route(question: str, settings: Settings) -> Route | None:
    """A fixed reply for ``question``, or None when it should be answered from the documents."""
    if looks_like_postcode(question):
        return Route("postcode", "Postcodes are not supported, and I haven't used or stored yours: name your "
                     "town or council instead, for example \u201cwe're a business in Bolton\u201d.")
    found = personal_data(question)
    if found:
        return Route("personal_data", f"Your question seems to contain {found}. I don't need personal "
                     "details to answer, so I haven't used or stored it. Please ask again without it.")
    limit = settings.max_question_chars
    if len(question) > limit:
        return Route("too_long", f"Your question is {len(question):,} characters long; the limit is {limit}. "
                     "Please ask the question itself in a sentence or two.")
    if ADDRESSED_TO_ASSISTANT.search(question):
        return Route("injection", "I can't follow instructions given inside a question. I answer questions "
                     "about the Levelling Up White Paper and related documents, quoting the passages each "
                     f"answer rests on. Try, for example: {_EXAMPLES}.")
    if _OFF_TASK.search(question):
        return Route("off_task", "That isn't something I do: I answer questions about the Levelling Up White "
                     f"Paper and related documents, with the passages they rest on. Try: {_EXAMPLES}.")
    if _GREETING.match(question.strip()):
        return Route("greeting", "Hello! Ask me about the Levelling Up White Paper and related documents: "
                     f"its missions, funds, devolution and what applies where. For example: {_EXAMPLES}.",
                     "smalltalk")
    if _THANKS.match(question.strip()):
        return Route("thanks", "You're welcome. Ask another question whenever you like.", "smalltalk")
    if _OPINION.search(question):
        return Route("advice", "I can't give opinions or advice, or say how to vote. The passages below are "
                     "what the documents say on it; ask about a fund, a programme or a place, for example "
                     "\u201cWhat is the UK Shared Prosperity Fund for?\u201d")
    return None


#: Refusals whose text is never repeated back: it holds personal data.
PRIVATE = frozenset({"personal_data", "postcode"})
_PLACE_CHARS = 100  # the longest UK place names are under 60 characters


@dataclass(frozen=True, slots=True)
class Context:
    """What the user sent beside the question, after the same guard: the earlier questions that may be
    used to read a follow-up, the place, a refusal for the place, and notes on what was left out."""

    history: tuple[str, ...] = ()
    place: str | None = None
    refusal: Route | None = None
    notes: tuple[str, ...] = ()


_LEFT_OUT = {"personal_data": "it contains personal details", "postcode": "it contains a postcode",
             "too_long": "it is too long", "injection": "it gives instructions",
             "off_task": "it is not a question about the documents"}


def check_request(question: object, history: Sequence[object], place: object,
                  settings: Settings) -> tuple[Route | None, Context]:
    """The guard for a whole request: the question's fixed reply (None: answer it from the documents),
    and what is beside it (``check_context``), whose ``refusal`` is then whatever must stop the request
    before anything else reads it: personal data or a postcode in the question, or an unusable place."""
    fixed = route(question.strip(), settings) if isinstance(question, str) else None
    context = check_context(history, place, settings)
    if fixed is not None and fixed.reason in PRIVATE:
        context = replace(context, refusal=fixed)
    return fixed, context


def check_context(history: Sequence[object], place: object, settings: Settings) -> Context:
    """Put every field beside the question through the question's guard.

    An earlier question that would be refused itself (personal data, instructions, far too long) is
    not used to read a follow-up, so "ignore your instructions" in a history never reaches the
    rewritten question; a place with personal data or a postcode is refused without repeating it."""
    kept, notes = [], []
    for item in history:
        if not isinstance(item, str) or not item.strip():
            continue
        fixed = route(item.strip(), settings)
        if fixed is not None and fixed.reason in _LEFT_OUT:
            notes.append(f"An earlier question was not used to read this one: {_LEFT_OUT[fixed.reason]}.")
        else:
            kept.append(item.strip())
    refusal = None
    text = place.strip() if isinstance(place, str) else None
    if place is not None and not isinstance(place, str):
        refusal = Route("bad_place", f"The place must be text, not {type(place).__name__}.")
    elif text and looks_like_postcode(text):
        refusal = Route("postcode", "Postcodes are not supported, and I haven't used or stored yours: give "
                        "your town or council instead, for example \u201cBolton\u201d.")
    elif text and (found := personal_data(text)):
        refusal = Route("personal_data", f"The place you gave seems to contain {found}. I don't need "
                        "personal details, so I haven't used or stored it: give a town or council instead.")
    elif text and len(text) > _PLACE_CHARS:
        refusal = Route("bad_place", f"The place is {len(text):,} characters long; give the name of a town "
                        "or council, for example \u201cWigan\u201d.")
    return Context(tuple(kept), text or None, refusal, tuple(dict.fromkeys(notes)))
