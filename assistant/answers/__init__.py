"""Answers: from the passages found to what the assistant says, every sentence cited.

    guard.py       what is not a question for the documents (personal data, instructions...): a fixed reply
    scoring.py     every sentence of the passages scored against the question (re-ranking uses it too)
    facts.py       the facts a sentence states: amounts, numbers, dates, names
    gate.py        whether the documents can answer at all, decided once for every composer
    composer.py    the ``Composer`` seam and the ``Evidence`` a composer writes from
    extractive.py  the offline composer: quoted sentences, each with its citation
    lists.py       a list question answered with its list, in document order
"""
