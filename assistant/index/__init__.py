"""The index: what ingest writes and asking reads.

    store.py    Chroma generations: build a new one, publish it atomically, keep the previous serving
    lexical.py  the BM25 word index of a generation, in a file beside it
    loaded.py   the serving generation held in memory: passages, vectors, sentences, word index
"""
