"""``HFEmbeddings``: LangChain embeddings on any hfbridge backend."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import Field

from .. import _validation as check
from ._config import BackendFields

__all__ = ["HFEmbeddings"]


class HFEmbeddings(BackendFields, Embeddings):
    """Embeddings through the backend: ``batch_size`` texts a request, ``max_concurrency`` requests in flight,
    order preserved, each batch retried on its own. Sync methods never start an event loop, so they are safe
    inside a running one (Jupyter, FastAPI). Plugs into ``InMemoryVectorStore`` and any vector store as-is.

    >>> embeddings = HFEmbeddings(base_url="http://127.0.0.1:8080")            # a TEI server
    >>> embeddings = HFEmbeddings(model="BAAI/bge-small-en-v1.5", provider="hf-inference")
    >>> embeddings = HFEmbeddings()                                              # offline MiniLM
    """

    batch_size: int = Field(default=32, ge=1, description="Texts per request (shorthand backends).")
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Most requests in flight (shorthand backends); None: learned by the backend's flow control (up to 64)."
        ),
    )
    normalize: bool | None = Field(default=None, description="L2-normalise vectors (TEI; local always can).")
    truncate: bool | None = Field(default=True, description="Let the server truncate over-long inputs.")
    query_instruction: str = Field(default="", description="Prefix for queries (e5/bge style instructions).")
    document_instruction: str = Field(default="", description="Prefix for documents.")
    show_progress: bool = Field(default=False, description="A progress bar (rate, ETA) over the texts embedded.")

    def _backend_kwargs(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "max_concurrency": self.max_concurrency}

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"model": self._model_override({}), "normalize": self.normalize,
                                   "truncate": self.truncate}  # fmt: skip
        return {key: value for key, value in options.items() if value is not None}

    # Inputs are checked here, before the instructions are prepended (a prefix would make an empty text non-empty):
    # an empty list gives [], a single str or a non-string is an InvalidInputError, as is a blank text.
    def _documents(self, texts: Any) -> list[str]:
        return [self.document_instruction + text for text in check.check_text_list(texts)]

    def _query(self, text: Any) -> list[str]:
        return [self.query_instruction + check.check_string(text, "query")]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        documents = self._documents(texts)
        if not documents:
            return []
        return self.client.feature_extraction(documents, show_progress=self.show_progress, **self._options())

    def embed_query(self, text: str) -> list[float]:
        return self.client.feature_extraction(self._query(text), **self._options())[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        documents = self._documents(texts)
        if not documents:
            return []
        return await self.client.afeature_extraction(documents, **self._options())

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.client.afeature_extraction(self._query(text), **self._options()))[0]
