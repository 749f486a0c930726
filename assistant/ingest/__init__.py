"""Ingest: from the source manifest to a published index generation.

The stages, in order (``build.py`` runs them)::

    sources.py     manifest + fetch           corpus/manifest.json -> corpus/documents/
    inputs.py      what to ingest             manifest entries, or files/folders (+ MANIFEST.json)
    load.py        file formats               PDF, text/Markdown, HTML -> RawPages
    pages.py       printed pages              running headers/footers and page numbers found
    layout.py      page layout                furniture dropped, lines rejoined, headings -> Document
    chunk.py       passages                   paragraphs packed per section -> Chunk
    duplicates.py  near-duplicates            the same passage in two renderings linked
    build.py       the run                    embed what is new, write a generation, publish it
"""

from .build import ingest, status

__all__ = ["ingest", "status"]
