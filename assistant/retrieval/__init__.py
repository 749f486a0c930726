"""Retrieval: from what the user typed to the passages that answer it.

    query.py      understand the question once (the ``Query`` every later stage reads)
    follow_up.py  a follow-up rewritten from the question before it
    glossary.py   abbreviations spelt out, typos corrected (glossary.json)
    names.py      the documents a question names
    search.py     dense + BM25 -> weighted fusion -> named-document bonus -> Hit
    rerank.py     re-rank by best sentence, follow counted lists, fold repeated renderings
    modes.py      which stages run: the modes ``levelup eval --compare`` weighs
"""
