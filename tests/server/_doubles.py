"""A backend that answers every task at once and deterministically, for tests of the server layer itself (the
fuzz test sends thousands of requests; model time would only slow it down). Each answer depends on its input, so a
wrong route or a mixed-up batch shows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from hfbridge import Backend
from hfbridge.backends.transport import InProcessTransport
from hfbridge.tasks import ChatRequest, EmbeddingRequest, GenerationRequest
from hfbridge.tasks.text import (
    SimilarityRequest,
    TextClassificationRequest,
    TokenClassificationRequest,
    ZeroShotRequest,
)
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


def _unit(text: str, size: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:size]
    values = [byte - 127.5 for byte in digest]
    norm = sum(value * value for value in values) ** 0.5
    return [value / norm for value in values]


class EchoBackend(Backend):
    """Hooks for every text task (text-to-image has none: the server answers it 501)."""

    def __init__(self) -> None:
        super().__init__(InProcessTransport(self, name="echo", model_id="tests/echo"))

    def _chat(self, request: ChatRequest) -> ChatCompletion:
        n = min(request.max_tokens or 3, 3)
        return ChatCompletion(id="echo", model=self.model_id, finish_reason="length",
                              message=ChatMessage(role="assistant", content="echo " * n),
                              usage=Usage(prompt_tokens=1, completion_tokens=n, total_tokens=1 + n))  # fmt: skip

    def _stream_chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        n = min(request.max_tokens or 3, 3)
        for _ in range(n):
            yield ChatCompletionChunk(id="echo", model=self.model_id, content="echo ")
        yield ChatCompletionChunk(id="echo", model=self.model_id, finish_reason="length",
                                  usage=Usage(prompt_tokens=1, completion_tokens=n, total_tokens=1 + n))  # fmt: skip

    def _generate(self, request: GenerationRequest) -> TextGeneration:
        n = min(request.max_new_tokens or 3, 3)
        return TextGeneration(generated_text="echo " * n, finish_reason="length", generated_tokens=n,
                              tokens=[GenerationToken(id=i, text="echo ") for i in range(n)])  # fmt: skip

    def _stream_generate(self, request: GenerationRequest) -> Iterator[TextGenerationChunk]:
        n = min(request.max_new_tokens or 3, 3)
        for index in range(n):
            last = index == n - 1
            yield TextGenerationChunk(token=GenerationToken(id=index, text="echo "),
                                      generated_text="echo " * n if last else None,
                                      finish_reason="length" if last else None, generated_tokens=index + 1)  # fmt: skip

    def _embed(self, request: EmbeddingRequest) -> list[list[float]]:
        return [_unit(text) for text in request.texts]

    def _classify(self, request: TextClassificationRequest) -> list[ClassificationLabel]:
        text, top_k = request.text, request.top_k
        positive = _unit(text)[0] > 0
        labels = [ClassificationLabel(label="POSITIVE", score=0.75 if positive else 0.25),
                  ClassificationLabel(label="NEGATIVE", score=0.25 if positive else 0.75)]  # fmt: skip
        labels.sort(key=lambda label: label.score, reverse=True)
        return labels[:top_k] if top_k else labels

    def _zero_shot(self, request: ZeroShotRequest) -> list[ClassificationLabel]:
        text, labels = request.text, list(request.labels)
        scores = [abs(_unit(text + label)[0]) for label in labels]
        total = sum(scores) or 1.0
        return sorted((ClassificationLabel(label=label, score=score / total) for label, score in zip(labels, scores,
                       strict=True)), key=lambda label: label.score, reverse=True)  # fmt: skip

    def _ner(self, request: TokenClassificationRequest) -> list[EntityGroup]:
        text = request.text
        word = text.split()[0] if text.split() else ""
        start = text.find(word)
        if not word:
            return []
        return [EntityGroup(entity_group="MISC", score=0.5, word=word, start=start, end=start + len(word))]

    def _similarity(self, request: SimilarityRequest) -> list[float]:
        anchor = _unit(request.source)
        return [sum(a * b for a, b in zip(anchor, _unit(sentence), strict=True)) for sentence in request.sentences]
