"""The topics a passage can be filtered by ("what does the paper commit to on devolution?").

A passage has a topic when its text or section heading matches the topic's rule; ingest
stores the topics with each passage, and search filters on them. Deliberately plain keyword
rules, so a user can predict them. ``TOPICS`` is the one list of topic names (the CLI's
``--topic`` choices, the filter check).
"""

from __future__ import annotations

import re

TOPIC_RULES: dict[str, re.Pattern[str]] = {
    "missions": re.compile(r"\bmissions?\b|\bby 2030\b", re.I),
    "funds": re.compile(r"\bfund(?:s|ing|ed)?\b|£\s?\d", re.I),
    "devolution": re.compile(r"devolution|devolved|\bmayors?\b|mayoral|combined (?:county )?authorit|"
                             r"county deals?|trailblazer", re.I),
    "skills": re.compile(r"\bskills?\b|apprentice|further education|\btraining\b", re.I),
    "transport": re.compile(r"transport|\bbus(?:es)?\b|\brail\b|mobility|\btravel\b", re.I),
    "housing": re.compile(r"\bhous(?:e|es|ing)\b|\bhomes?\b|renters?\b", re.I),
    "health": re.compile(r"\bhealth|\bNHS\b|life expectancy|well-?being", re.I),
    "innovation": re.compile(r"\bR&D\b|research and development|innovation", re.I),
}
TOPICS: tuple[str, ...] = tuple(TOPIC_RULES)


def topics_of(text: str) -> tuple[str, ...]:
    """The topics whose rule ``text`` matches, in ``TOPICS`` order."""
    return tuple(name for name, rule in TOPIC_RULES.items() if rule.search(text))
