"""``HFEmbedding``: LlamaIndex embeddings with real batches and concurrency, safe inside a running event loop."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
from pydantic import Field

from .. import _validation as check
from .._adapter_fields import BackendTarget

__all__ = ["HFEmbedding"]

dispatcher = get_dispatcher(__name__)


class HFEmbedding(BackendTarget, BaseEmbedding):
    """Embeddings through the backend: ``embed_batch_size`` texts per request, ``max_concurrency`` requests in
    flight, order preserved, each batch retried on its own. Sync methods never start an event loop, so they work
    inside Jupyter and FastAPI (the LlamaIndex anchor calls ``asyncio.run`` there and crashes).

    >>> embed_model = HFEmbedding(base_url="http://127.0.0.1:8080")                # a TEI server
    >>> embed_model = HFEmbedding(model_name="BAAI/bge-small-en-v1.5", provider="hf-inference")
    >>> embed_model = HFEmbedding()                                                 # offline MiniLM
    """

    model_name: str = Field(default="", description="Hub model id; empty for the backend's default.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048, description="Texts per request.")
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Most requests in flight (shorthand backends); None: learned by the backend's flow control (up to 64)."
        ),
    )
    query_instruction: str = Field(default="", description="Prefix for queries (e5/bge style instructions).")
    text_instruction: str = Field(default="", description="Prefix for documents.")
    normalize: bool | None = Field(default=None, description="L2-normalise vectors (TEI).")

    @classmethod
    def class_name(cls) -> str:
        return "HFBridge_Embedding"

    def _target_model(self) -> str | None:
        return self.model_name or None

    def _backend_kwargs(self) -> dict[str, Any]:
        return {"batch_size": self.embed_batch_size, "max_concurrency": self.max_concurrency}

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"batch_size": self.embed_batch_size, "model": self._model_override({}),
                                   "normalize": self.normalize}  # fmt: skip
        return {key: value for key, value in options.items() if value is not None}

    # ------------------------------------------------------------------------------------------ primitives
    # Inputs are checked before the instructions are prepended (a prefix would make an empty text non-empty): an
    # empty list gives [], a single str, a non-string or a blank text is an InvalidInputError.
    def _query(self, query: Any) -> list[str]:
        return [self.query_instruction + check.check_string(query, "query")]

    def _documents(self, texts: Any) -> list[str]:
        return [self.text_instruction + text for text in check.check_text_list(texts)]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.client.feature_extraction(self._query(query), **self._options())[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self.client.afeature_extraction(self._query(query), **self._options()))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed_texts(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed_texts(texts)

    def _embed_texts(self, texts: list[str], show_progress: bool = False) -> list[Embedding]:
        documents = self._documents(texts)
        if not documents:
            return []
        return self.client.feature_extraction(documents, show_progress=show_progress, **self._options())

    async def _aembed_texts(self, texts: list[str], show_progress: bool = False) -> list[Embedding]:
        documents = self._documents(texts)
        if not documents:
            return []
        return await self.client.afeature_extraction(documents, show_progress=show_progress, **self._options())

    # ------------------------------------------------------------------------------- whole-list batching
    # BaseEmbedding sends one batch at a time; hand the backend the whole list instead so that its batches run
    # concurrently, keeping LlamaIndex's events, callbacks and rate_limiter (acquired once per request batch).
    @contextmanager
    def _embedding_event(self, texts: list[str]) -> Iterator[list[Embedding]]:
        """LlamaIndex's instrumentation and callback events around one whole-list job; the caller fills the list."""
        model_dict = self.to_payload()
        dispatcher.event(EmbeddingStartEvent(model_dict=model_dict))
        embeddings: list[Embedding] = []
        with self.callback_manager.event(CBEventType.EMBEDDING, payload={EventPayload.SERIALIZED: model_dict}) as event:
            yield embeddings
            event.on_end(payload={EventPayload.CHUNKS: texts, EventPayload.EMBEDDINGS: embeddings})
        dispatcher.event(EmbeddingEndEvent(chunks=texts, embeddings=embeddings))

    def _request_batches(self, texts: list[str]) -> int:
        return math.ceil(len(texts) / self.embed_batch_size)

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        check.check_text_list(texts)
        if self.embeddings_cache is not None:  # LlamaIndex's cache works per batch: let the base class drive it
            return super().get_text_embedding_batch(texts, show_progress=show_progress, **kwargs)
        if not texts:
            return []
        with self._embedding_event(texts) as embeddings:
            if self.rate_limiter is not None:
                for _ in range(self._request_batches(texts)):
                    self.rate_limiter.acquire()
            embeddings.extend(self._embed_texts(texts, show_progress))
        return embeddings

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        check.check_text_list(texts)
        if self.embeddings_cache is not None:
            return await super().aget_text_embedding_batch(texts, show_progress=show_progress, **kwargs)
        if not texts:
            return []
        with self._embedding_event(texts) as embeddings:
            if self.rate_limiter is not None:
                for _ in range(self._request_batches(texts)):
                    await self.rate_limiter.async_acquire()
            embeddings.extend(await self._aembed_texts(texts, show_progress))
        return embeddings
