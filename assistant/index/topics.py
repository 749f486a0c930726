"""Topic labels worked out from the passages of the serving generation (the topics: ``topics.py``).

``TopicLabels.compute`` finds the missions in the paper's own missions table and the funds the
documents name, then labels every passage (contents lists excepted). A topic's meaning is the mean
of its description's vector and of the vectors of the passages that name it (learnt from how the
documents use the name). A passage's **relevance** to a topic is its cosine with that meaning less
its mean cosine with the other topics of the group: a passage of the White Paper is near every theme
in its style, and only what sets one theme apart counts. Then:

- a passage that **names** the topic carries it, unless it is less relevant to it than half the
  corpus is (a passing mention, "health" in a list about something else);
- a mission or a theme is also carried, unnamed, by the most relevant hundredth of the corpus (a
  passage on bus fares serves the transport mission without saying "Mission Three"); a fund is a
  name, and only a passage naming it carries it.

No threshold is a similarity typed in: each is a share of the topic's own corpus. The rule was
chosen on half of a hand-labelled sample and checked on the other half (``benchmarks/topics.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..embed import Embedder
from ..models import Chunk
from ..text import NUMBER_WORDS, STOPWORDS
from ..topics import FUNDS, MISSIONS, THEME_TOPICS, Label, Topic, fund_id

# The table's header ("Focus Area Mission", "Focus area Mission", "Focus\narea\nMission").
_TABLE_HEADER = re.compile(r"Focus\s+area\s+Mission\b", re.I)
_STATEMENT = re.compile(r"\bBy 2030,")  # each row's mission starts so
_LINE_END = re.compile(r"[.)][ \t]*\n")  # a statement that ends its line: prose may follow
_PROSE = re.compile(r"[a-z][.!?]\s")  # a sentence: the text before a row is not a table's lead
_SENTENCE_END = re.compile(r"[a-z][.!?](?:\s|$)")
_CONNECTORS = frozenset({"in", "of", "and", "&", "for", "the"})  # inside a focus area: "Pride in Place"
# A named fund: capitalised words then "Fund" ("UK Shared Prosperity Fund", "Towns Fund").
_FUND = re.compile(r"(?<![\w&'\u2019-])((?:[A-Z][\w&'\u2019-]*[ \t\n]+){1,5})Fund\b")
_ACRONYM_AFTER = r"\s*\(([A-Z]{2,8})\)"
_UNNAMED_SHARE = 0.99  # an unnamed mission or theme: the most relevant hundredth of the corpus
_MIN_PASSAGES = 2  # a fund named in one passage only is a passing mention, not a topic to browse by


@dataclass(frozen=True, slots=True)
class Mission:
    """A row of the missions table: its number (in the table's order), focus area and statement."""

    number: int
    area: str  # "Living Standards"; "" when the rendering lost it
    statement: str  # "By 2030, pay, employment and productivity will have risen in every area ..."
    doc_id: str


def missions_table(order: Mapping[str, Sequence[Chunk]]) -> list[Mission]:
    """The missions, read from the document whose missions table is most complete (each row with its
    focus area), in the table's order."""
    best: list[Mission] = []
    for doc_id, chunks in sorted(order.items()):
        rows = _table_rows(doc_id, "\n".join(c.text for c in chunks))
        if (sum(bool(r.area) for r in rows), len(rows)) > (sum(bool(r.area) for r in best), len(best)):
            best = rows
    return best


def _table_rows(doc_id: str, text: str) -> list[Mission]:
    """The rows after each "Focus Area Mission" header: a focus area, then "By 2030, ...", until a
    statement is followed by prose (the table has ended)."""
    rows: list[Mission] = []
    seen: set[str] = set()
    headers = list(_TABLE_HEADER.finditer(text))
    for n, header in enumerate(headers):
        end = headers[n + 1].start() if n + 1 < len(headers) else len(text)
        starts = [m.start() for m in _STATEMENT.finditer(text, header.end(), end)]
        lead = text[header.end():starts[0]] if starts else ""
        if not starts or _PROSE.search(lead) or len(lead.split()) > 40:
            continue
        area = _trailing_area(lead)[0]
        for start, stop in zip(starts, [*starts[1:], end], strict=True):
            piece = text[start:stop]
            following, at = _trailing_area(piece)
            body = piece[:at]
            cut = _LINE_END.search(body)
            statement = " ".join((body[:cut.end()] if cut else body).split())
            if statement not in seen:
                seen.add(statement)
                rows.append(Mission(len(rows) + 1, area, statement, doc_id))
            if cut and _SENTENCE_END.search(body[cut.end():]):
                break  # prose follows the statement: the table has ended (a group's lead line may)
            area = following
    return rows


def _trailing_area(text: str) -> tuple[str, int]:
    """The focus area a piece of the table ends with, and where it starts: its last capitalised words
    ("... closing. Research & Development (R&D)", "... lagging Living Standards", "... years.
    Well-being"), with the small words between them ("Pride in Place"); ("", len(text)) when it ends
    otherwise."""
    words = list(re.finditer(r"\S+", text))
    taken: list[re.Match[str]] = []
    for match in reversed(words[-6:]):
        word = match.group(0)
        capital = word[0].isupper() or (word.startswith("(") and word[1:2].isupper())
        if word[-1] in ".,;:!?" or not (capital or word in _CONNECTORS):
            break
        taken.insert(0, match)
    while taken and taken[0].group(0) in _CONNECTORS:
        taken.pop(0)
    return (" ".join(m.group(0) for m in taken), taken[0].start()) if taken else ("", len(text))


def named_funds(chunks: Iterable[Chunk]) -> dict[str, tuple[str, ...]]:
    """Each fund the documents name in several passages, with its other names (its acronym, the name
    without a leading "UK"): {"UK Shared Prosperity Fund": ("UKSPF", "Shared Prosperity Fund"), ...}."""
    passages: Counter[str] = Counter()
    acronyms: dict[str, Counter[str]] = {}
    for chunk in chunks:
        found = set()
        for match in _FUND.finditer(chunk.text):
            words = match.group(1).split()
            while words and words[0].lower() in STOPWORDS:
                words.pop(0)  # "The Levelling Up Fund", "Through Towns Fund" -> the name
            if not words:
                continue
            name = " ".join([*words, "Fund"])
            found.add(name)
            after = re.match(_ACRONYM_AFTER, chunk.text[match.end():])
            if after:
                acronyms.setdefault(name, Counter())[after.group(1)] += 1
        passages.update(found)
    names = [n for n, count in passages.items() if count >= _MIN_PASSAGES]
    funds: dict[str, list[str]] = {n: [] for n in names}
    for name in sorted(names, key=len):  # "Shared Prosperity Fund" is "UK Shared Prosperity Fund" cut short
        longer = [n for n in names if n != name and n.endswith(" " + name) and passages[n] >= passages[name]]
        if len(longer) == 1 and name in funds:
            funds[longer[0]].append(name)
            del funds[name]
    for name, others in funds.items():
        if name in acronyms:
            others.insert(0, acronyms[name].most_common(1)[0][0])
    return {n: tuple(others) for n, others in sorted(funds.items())}


@dataclass(frozen=True)
class TopicLabels:
    """Every topic of the serving generation, and each passage's labels."""

    topics: tuple[Topic, ...]
    labels: Mapping[str, tuple[Label, ...]]  # chunk id -> its labels, topics' order
    having: Mapping[str, frozenset[str]]  # topic id (and group) -> the chunk ids labelled with it

    @cached_property
    def group_of(self) -> dict[str, str]:
        """topic id -> its group (``topics.MISSIONS``, ``FUNDS``, ``THEMES``)."""
        return {t.id: t.group for t in self.topics}

    def carries(self, label: Label, topic: str) -> bool:
        """Whether ``label`` is of ``topic``, or of a topic in the group ``topic``."""
        return label.topic == topic or self.group_of.get(label.topic) == topic

    @classmethod
    def compute(cls, chunks: Mapping[str, Chunk], vectors: Mapping[str, np.ndarray],
                order: Mapping[str, Sequence[Chunk]], contents: frozenset[str],
                embedder: Embedder) -> TopicLabels:
        topics = (*mission_topics(missions_table(order)), *fund_topics(named_funds(chunks.values())),
                  *THEME_TOPICS)
        ids = [i for i in chunks if i not in contents and i in vectors]
        if not ids or not topics:
            return cls(topics, {}, {})
        matrix = np.stack([vectors[i] for i in ids])
        described = embedder.embed_documents([f"{t.title}. {t.description}" for t in topics])
        texts = [(text, text.lower()) for text in (_searchable(chunks[i]) for i in ids)]
        names = [[_names_pattern(t)(text, lowered) for text, lowered in texts] for t in topics]
        similarity = np.zeros((len(ids), len(topics)), dtype=np.float32)  # passage x topic cosines
        for column, (vector, named) in enumerate(zip(described, names, strict=True)):
            naming = [row for row, name in enumerate(named) if name]
            meaning = vector + matrix[naming].mean(axis=0) if naming else vector
            similarity[:, column] = matrix @ (meaning / (np.linalg.norm(meaning) or 1.0))
        relevance = similarity.copy()
        groups = np.array([t.group for t in topics])
        for group in set(groups):
            columns = groups == group
            if columns.sum() > 1:  # less the passage's mean over its group (a group of one: as it is)
                relevance[:, columns] -= similarity[:, columns].mean(axis=1, keepdims=True)
        found: dict[str, list[Label]] = {}
        for column, (topic, named) in enumerate(zip(topics, names, strict=True)):
            scores = relevance[:, column]
            floor = float(np.median(scores))
            close = float(np.quantile(scores, _UNNAMED_SHARE)) if topic.group != FUNDS else np.inf
            for row, chunk_id in enumerate(ids):
                if (named[row] and scores[row] >= floor) or scores[row] >= close:
                    label = Label(topic.id, round(float(similarity[row, column]), 3), named[row])
                    found.setdefault(chunk_id, []).append(label)
        having: dict[str, set[str]] = {}
        group_of = {t.id: t.group for t in topics}  # the property's, before there is an object to ask
        for chunk_id, labels in found.items():
            for label in labels:
                having.setdefault(label.topic, set()).add(chunk_id)
                if group_of[label.topic] in (MISSIONS, FUNDS):
                    having.setdefault(group_of[label.topic], set()).add(chunk_id)
        return cls(topics, {i: tuple(ls) for i, ls in found.items()},
                   {t: frozenset(members) for t, members in having.items()})

    def of(self, chunk_id: str) -> tuple[Label, ...]:
        return self.labels.get(chunk_id, ())


def mission_topics(missions: Sequence[Mission]) -> list[Topic]:
    """A topic per mission. It is named by the paper's references to it ("(Mission Ten)", "Mission 10")
    and by its own statement; its description is the statement."""
    topics = []
    for mission in missions:
        word = NUMBER_WORDS[mission.number] if mission.number < len(NUMBER_WORDS) else str(mission.number)
        title = f"Mission {mission.number}" + (f": {mission.area}" if mission.area else "")
        topics.append(Topic(f"mission-{mission.number}", title, MISSIONS, mission.statement,
                            (f"Mission {word.capitalize()}", f"Mission {mission.number}",
                             " ".join(mission.statement.split()[:9]))))
    return topics


def fund_topics(funds: Mapping[str, Sequence[str]]) -> list[Topic]:
    return [Topic(fund_id(name), name, FUNDS, f"The {name}: what it funds, where, and how much.",
                  (name, *others)) for name, others in funds.items()]


def _searchable(chunk: Chunk) -> str:
    """Where a name counts: the passage and the headings it sits under, its lines joined."""
    return " ".join(" ".join((*chunk.heading_path, chunk.text)).split())


def _names_pattern(topic: Topic) -> Callable[[str, str], str | None]:
    """A function giving the first of the topic's names a text holds, whole words only; an acronym
    ("NHS", "R&D") must match its case, other names match in any case. The text is looked for each
    name in lower case first (a regex search is a hundred times slower than ``in``)."""
    def pattern(names: list[str], flags: int) -> re.Pattern[str] | None:
        words = "|".join(re.escape(" ".join(n.split())) for n in names)
        return re.compile(rf"(?<![\w&])(?:{words})(?![\w&])", flags) if names else None

    exact = pattern([n for n in topic.names if n.isupper() or "&" in n], 0)
    loose = pattern([n for n in topic.names if not (n.isupper() or "&" in n)], re.I)
    canonical = {" ".join(n.split()).lower(): n for n in topic.names}

    def name_in(text: str, lowered: str) -> str | None:
        if not any(name in lowered for name in canonical):
            return None
        found = (exact and exact.search(text)) or (loose and loose.search(text))
        return canonical.get(found.group(0).lower(), found.group(0)) if found else None
    return name_in
