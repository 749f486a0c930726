"""Lists in the documents: a sentence that announces one, and the passages its items run on into.

"This new policy regime is based on 5 mutually reinforcing pillars. First, ..." starts a list
whose "Second, ..." to "Fifth, ..." can sit several passages later, with a table in between.
A question asking for "the 5 pillars" needs all of them, so search puts the passages that
carry the rest of the list straight after the one that announces it, and the answer composer
reads the items in document order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from .models import Chunk, Hit

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve"]
ORDINALS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth"]
_ORDINAL = "|".join([*(w.capitalize() for w in ORDINALS[1:]), "Finally", "Lastly"])
_BULLET = "[\u2022\u25cf\u25aa\u00b7]"

# "five mutually reinforcing pillars", "4 new areas": a sentence that says how many items follow.
ANNOUNCES = re.compile(r"\b(\d{1,2}|" + "|".join(NUMBER_WORDS[2:]) + r")\s+(?:[\w-]+\s+){0,3}[\u2018\u2019'\"]?"
                       r"(?:pillars|missions|stages|cases|areas|capitals|priorities|steps|ways|themes|objectives|"
                       r"principles|elements|parts|questions)\b", re.I)
# The start of one item: a bullet, "(a)", "2.", or an ordinal word.
ENUMERATOR = re.compile(rf"^(?:{_BULLET}|-|\(?(?:[a-z]|\d{{1,2}})[.)](?=\s)|(?:{_ORDINAL})\b)", re.I)
# An item that starts with an ordinal word: a list told as "First, ... Second, ..." is made of these only
# (a footnote "(1) ..." between two pillars is not one of them).
ORDINAL_ITEM = re.compile(rf"^(?:{_ORDINAL})\b", re.I)
# Items inside a passage: an ordinal word opening a sentence ("Second, ...") or a bullet.
_ITEM_IN_TEXT = re.compile(rf"(?:^|(?<=[.!?;:]\s)|(?<=\n))\s*(?:({_ORDINAL}),|{_BULLET}\s*\S)")
_LIST = re.compile(r"\b(?:what|which) (?:are|were) (?:the )?(?:\d+|" + "|".join(NUMBER_WORDS[2:]) + r")\b"
                   r"|\b(?:list|name) (?:the|all)\b|\bwhat (?:are|were) the (?:[\w-]+ ){0,2}[a-z]{3,}s\b"
                   r"|\bwhich of the\b|\bwhat(?:'s| is) planned\b"
                   r"|\bwhat does .* (?:promise|commit|say) (?:on|about|to)\b", re.I)


def is_list_question(question: str) -> bool:
    return bool(_LIST.search(question))


_MOST_PASSAGES_SCANNED = 8  # a list's items run on past a table or two, not across a chapter


def number_value(word: str) -> int:
    """ "5" or "five" as 5."""
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word.lower())


def counted(question: str) -> re.Pattern[str] | None:
    """ "the six stages", "5 pillars": a pattern for the same count and noun in a sentence (digit or word)."""
    match = re.search(r"\b(\d{1,2}|" + "|".join(NUMBER_WORDS[2:]) + r")\s+(?:[a-z-]+\s+){0,2}?([a-z]{2,}s)\b",
                      question.lower())
    if not match:
        return None
    value = number_value(match.group(1))
    forms = {str(value), NUMBER_WORDS[value] if value < len(NUMBER_WORDS) else str(value)}
    noun = re.escape(match.group(2).rstrip("s"))
    return re.compile(rf"\b(?:{'|'.join(forms)})\s+(?:[\w\u2018\u2019'-]+\s+){{0,3}}[\u2018\u2019']?{noun}", re.I)


def announced_count(text: str, question: str) -> int | None:
    """How many items ``text`` says follow: "based on five mutually reinforcing pillars" (a list noun),
    or the count and noun the question asks for ("makes three checks" for "the three checks")."""
    asked = counted(question)
    found = ANNOUNCES.search(text) or (asked.search(text) if asked else None)
    return number_value(found.group(0).split()[0]) if found else None


def list_continuation(chunk: Chunk, count: int, next_chunk: Callable[[Chunk], Chunk | None]) -> list[Chunk]:
    """The passages after ``chunk`` that hold the rest of a list of ``count`` items it announces.

    Items are ordinal sentences ("Second, ...", "Finally, ...") and bullets. Passages without
    items (a table between two pillars) are stepped over; the scan ends at the last item, at
    another chapter, or after a few passages.
    """
    found = len(_ITEM_IN_TEXT.findall(chunk.text))
    following: list[Chunk] = []
    current: Chunk | None = chunk
    chapter = chunk.heading_path[:1]
    for _ in range(_MOST_PASSAGES_SCANNED):
        if found >= count or current is None:
            break
        current = next_chunk(current)
        if current is None or current.heading_path[:1] != chapter:
            break
        items = _ITEM_IN_TEXT.findall(current.text)
        if items:
            following.append(current)
            found += len(items)
            if any(i.lower() in {ORDINALS[min(count, 12)], "finally", "lastly"} for i in items if i):
                break
    return following


def follow_lists(hits: Sequence[Hit], question: str, next_chunk: Callable[[Chunk], Chunk | None],
                 within: int = 3) -> list[Hit]:
    """Put the passages that continue a list the question asks for right after the passage announcing it.

    Only for a question that names a count ("the 5 pillars", "four new areas"), and only when one
    of the first ``within`` passages announces that count of that thing.
    """
    pattern = counted(question)
    if pattern is None:
        return list(hits)
    for position, hit in enumerate(hits[:within]):
        announced = pattern.search(hit.chunk.text)
        if not announced:
            continue
        count = number_value(announced.group(0).split()[0])
        following = list_continuation(hit.chunk, count, next_chunk)
        if not following:
            return list(hits)
        ids = {c.id for c in following}
        by_id = {h.chunk.id: h for h in hits}
        added = [replace(by_id.get(c.id) or Hit(c, hit.score, 0), score=hit.score - 1e-3 * (i + 1),
                         reasons=(*(by_id[c.id].reasons if c.id in by_id else ()),
                                  f"continues the list announced in #{position + 1}"))
                 for i, c in enumerate(following)]
        rest = [h for h in hits if h.chunk.id not in ids]
        ordered = [*rest[:position + 1], *added, *rest[position + 1:]]
        return [replace(h, rank=i + 1) for i, h in enumerate(ordered)]
    return list(hits)
