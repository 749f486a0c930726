"""The topics passages are browsed and filtered by: what each one is, never which passage has it.

Three groups, each defined differently, and none by a list of facts:

- **Missions**: the paper's own missions table ("Focus Area / Mission": "By 2030, ..."), read from
  the index (``index/topics.py``); here only their ids, ``mission-1`` to ``mission-12``.
- **Funds**: every named fund the documents mention in several passages ("UK Shared Prosperity
  Fund", "Towns Fund"), found in the text; their ids are ``fund-`` and the name in lower case.
- **Themes**: devolution, skills, transport, housing, health, innovation; each a one-line
  description and the words that name it, written below.

A passage carries a topic when it names it and its meaning is not far from it, or when its meaning
is as close to the topic as the passages that name it are; each label says which (``Label.why``).
The groups ``missions`` and ``funds`` hold every passage that carries one of their topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MISSIONS, FUNDS, THEMES = "missions", "funds", "themes"


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: ``id`` is what filters take ("mission-3", "fund-towns-fund", "transport")."""

    id: str
    title: str  # "Mission 3: Transport Infrastructure", "Towns Fund", "Transport"
    group: str  # MISSIONS, FUNDS or THEMES
    description: str  # what its passages are about, in words the model compares passages with
    names: tuple[str, ...] = ()  # words or phrases that name it in a passage (case-insensitive, whole words)


@dataclass(frozen=True, slots=True)
class Label:
    """A passage's topic, and why it carries it."""

    topic: str
    similarity: float  # cosine of the passage with the topic
    named: str | None = None  # the name found in the passage, when one was

    @property
    def why(self) -> str:
        """ "names “Towns Fund” (similarity 0.48)", "close in meaning (similarity 0.61)". """
        if self.named:
            named = self.named if len(self.named) <= 40 else self.named[:40].rsplit(" ", 1)[0] + "\u2026"
            return f"names \u201c{named}\u201d (similarity {self.similarity:.2f})"
        return f"close in meaning to the topic (similarity {self.similarity:.2f})"


THEME_TOPICS: tuple[Topic, ...] = (
    Topic("devolution", "Devolution and mayoral powers", THEMES,
          "Devolution of powers and funding from central government to mayors, combined authorities "
          "and local leaders.",
          ("devolution", "devolved", "mayor", "mayors", "mayoral", "combined authority",
           "combined authorities")),
    Topic("skills", "Skills", THEMES,
          "Skills, training, apprenticeships and further education for adults and young people.",
          ("skills", "apprenticeship", "apprenticeships", "further education")),
    Topic("transport", "Transport", THEMES,
          "Public transport, buses, railways, roads and travel connections between places.",
          ("transport", "buses", "bus", "rail", "railway", "railways")),
    Topic("housing", "Housing", THEMES,
          "Housing: building homes, home ownership, renting and the quality of homes.",
          ("housing", "homes")),
    Topic("health", "Health", THEMES,
          "Health, healthy life expectancy, the NHS and public health in places.",
          ("health", "healthy life expectancy", "NHS")),
    Topic("innovation", "Innovation, research and development", THEMES,
          "Research and development, innovation, science and new technology in businesses and places.",
          ("innovation", "R&D", "research and development")),
)

GROUP_TITLES = {MISSIONS: "Missions", FUNDS: "Funds", THEMES: "Themes"}


def fund_id(name: str) -> str:
    """ "UK Shared Prosperity Fund" -> "fund-uk-shared-prosperity-fund". """
    return "fund-" + "-".join(re.findall(r"[a-z0-9]+", name.lower()))
