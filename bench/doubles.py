"""Benchmark doubles: a backend that answers at once, so a benchmark measures the client stack and the server's
configured latency, not model compute (which would swamp both). Not used by the test suite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from hfbridge import Backend, UnsupportedTaskError
from hfbridge.backends.base import ChatRequest, EmbeddingOptions, GenerationRequest
from hfbridge.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ClassificationLabel,
    EntityGroup,
    GenerationToken,
    TextGeneration,
    TextGenerationChunk,
    Usage,
)

DIMENSIONS = 384


def vector_for(text: str) -> list[float]:
    """A deterministic unit vector per text (so order and duplication can be checked)."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(DIMENSIONS)
    return list(map(float, vector / np.linalg.norm(vector)))


class InstantBackend(Backend):
    """Embeddings from a hash, chat answers of ``tokens`` tokens, all without compute."""

    name = "instant"

    def __init__(self, tokens: int = 16, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tokens = tokens

    @property
    def model_id(self) -> str:
        return "bench/instant"

    def _count(self, request: ChatRequest) -> int:
        return min(self.tokens, request.max_tokens or self.tokens)

    def _chat(self, request: ChatRequest) -> ChatCompletion:
        n = self._count(request)
        return ChatCompletion(id="bench", model=self.model_id, finish_reason="length",
                              message=ChatMessage(role="assistant", content="tok " * n),
                              usage=Usage(prompt_tokens=8, completion_tokens=n, total_tokens=8 + n))  # fmt: skip

    def _stream_chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        n = self._count(request)
        for _ in range(n):
            yield ChatCompletionChunk(id="bench", model=self.model_id, content="tok ")
        yield ChatCompletionChunk(id="bench", model=self.model_id, finish_reason="length",
                                  usage=Usage(prompt_tokens=8, completion_tokens=n, total_tokens=8 + n))  # fmt: skip

    def _generate(self, request: GenerationRequest) -> TextGeneration:
        n = min(self.tokens, request.max_new_tokens or self.tokens)
        return TextGeneration(generated_text="tok " * n, finish_reason="length", generated_tokens=n)

    def _stream_generate(self, request: GenerationRequest) -> Iterator[TextGenerationChunk]:
        n = min(self.tokens, request.max_new_tokens or self.tokens)
        for index in range(n):
            last = index == n - 1
            yield TextGenerationChunk(token=GenerationToken(id=index, text="tok "),
                                      generated_text="tok " * n if last else None,
                                      finish_reason="length" if last else None)  # fmt: skip

    def _embed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]:
        return [vector_for(text) for text in texts]

    def _classify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]:
        raise UnsupportedTaskError("benchmark double")

    def _zero_shot(self, *args: object) -> list[ClassificationLabel]:  # type: ignore[override]
        raise UnsupportedTaskError("benchmark double")

    def _ner(self, text: str, model: str | None) -> list[EntityGroup]:
        raise UnsupportedTaskError("benchmark double")

    def _similarity(self, source: str, sentences: list[str], model: str | None) -> list[float]:
        raise UnsupportedTaskError("benchmark double")
