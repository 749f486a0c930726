"""The search as a LangChain retriever, for people who build their own chains.

    from assistant.langchain import LevelUpRetriever
    retriever = LevelUpRetriever.from_settings(k=5)
    documents = retriever.invoke("How much is the UKSPF worth?")

Each ``langchain_core.documents.Document`` carries the passage text and, in ``metadata``,
everything needed to cite it (document, title, publisher, licence, section, pages, link).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .models import Filters
from .pipeline import Assistant
from .settings import Settings


class LevelUpRetriever(BaseRetriever):
    """Hybrid search over the Levelling Up index, as a LangChain ``BaseRetriever``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any  # an ``Assistant`` (typed loosely so pydantic does not try to validate it)
    k: int = 5
    filters: Filters = Filters()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> LevelUpRetriever:
        return cls(assistant=Assistant(settings), **kwargs)

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.assistant.search(query, self.k, filters=self.filters)
        documents = []
        for hit in result.hits:
            metadata = hit.to_dict()
            text = metadata.pop("text")
            documents.append(Document(page_content=text, metadata=metadata, id=hit.chunk.id))
        return documents
