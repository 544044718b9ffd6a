"""A backend that answers every task at once and deterministically, for tests of the server layer itself (the
fuzz test sends thousands of requests; model time would only slow it down). Each answer depends on its input, so a
wrong route or a mixed-up batch shows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from hfbridge import Backend, UnsupportedTaskError
from hfbridge.backends.base import ChatRequest, EmbeddingOptions, GenerationRequest, ImageRequest
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
    name = "echo"

    @property
    def model_id(self) -> str:
        return "tests/echo"

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

    def _embed(self, texts: list[str], options: EmbeddingOptions) -> list[list[float]]:
        return [_unit(text) for text in texts]

    def _classify(self, text: str, top_k: int | None, model: str | None) -> list[ClassificationLabel]:
        positive = _unit(text)[0] > 0
        labels = [ClassificationLabel(label="POSITIVE", score=0.75 if positive else 0.25),
                  ClassificationLabel(label="NEGATIVE", score=0.25 if positive else 0.75)]  # fmt: skip
        labels.sort(key=lambda label: label.score, reverse=True)
        return labels[:top_k] if top_k else labels

    def _zero_shot(self, text: str, labels: list[str], multi_label: bool, hypothesis_template: str | None,
                   model: str | None) -> list[ClassificationLabel]:  # fmt: skip
        scores = [abs(_unit(text + label)[0]) for label in labels]
        total = sum(scores) or 1.0
        return sorted((ClassificationLabel(label=label, score=score / total) for label, score in zip(labels, scores,
                       strict=True)), key=lambda label: label.score, reverse=True)  # fmt: skip

    def _ner(self, text: str, model: str | None) -> list[EntityGroup]:
        word = text.split()[0] if text.split() else ""
        start = text.find(word)
        if not word:
            return []
        return [EntityGroup(entity_group="MISC", score=0.5, word=word, start=start, end=start + len(word))]

    def _similarity(self, source: str, sentences: list[str], model: str | None) -> list[float]:
        anchor = _unit(source)
        return [sum(a * b for a, b in zip(anchor, _unit(sentence), strict=True)) for sentence in sentences]

    def _text_to_image(self, request: ImageRequest) -> object:
        raise UnsupportedTaskError("the echo backend draws nothing")
