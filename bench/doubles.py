"""Benchmark doubles: a backend that answers at once, so a benchmark measures the client stack and the server's
configured latency, not model compute (which would swamp both). Not used by the test suite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from hfbridge import Backend
from hfbridge.backends.transport import InProcessTransport
from hfbridge.tasks import ChatRequest, EmbeddingRequest, GenerationRequest
from hfbridge.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    GenerationToken,
    TextGeneration,
    TextGenerationChunk,
    Usage,
)

DIMENSIONS = 384


def vectors_for(texts: list[str]) -> list[list[float]]:
    """A deterministic unit vector per text (so order and duplication can be checked).

    Drawn from each text's SHAKE-256 stream, ~3 µs a text: the double must not spend server time that the configured
    latency does not account for (seeding a numpy generator per text cost 1 ms per batch of 32, a tenth of the
    server's event loop at the embedding benchmark's load)."""
    digests = b"".join(hashlib.shake_256(text.encode()).digest(2 * DIMENSIONS) for text in texts)
    matrix = np.frombuffer(digests, dtype=np.uint16).reshape(len(texts), DIMENSIONS).astype(np.float64) - 32767.5
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).tolist()  # type: ignore[no-any-return]


def vector_for(text: str) -> list[float]:
    return vectors_for([text])[0]


class InstantBackend(Backend):
    """Embeddings from a hash, chat answers of ``tokens`` tokens, all without compute (the other tasks raise
    UnsupportedTaskError: they have no hook here)."""

    def __init__(self, tokens: int = 16, **kwargs: object) -> None:
        super().__init__(InProcessTransport(self, name="instant", model_id="bench/instant"), **kwargs)  # type: ignore[arg-type]
        self.tokens = tokens

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

    def _embed(self, request: EmbeddingRequest) -> list[list[float]]:
        return vectors_for(list(request.texts))
