"""text-embeddings-inference routes: ``POST /embed``, ``/predict``, ``/rerank``, ``/similarity``, with TEI's request
models (``EmbedRequest``, ``PredictRequest``, ``RerankRequest``, ``SimilarityRequest``), its batch limit
(``max_client_batch_size``: 413) and its errors (``Empty`` 400 for no input)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.responses import Response

from .errors import JSONBody, Refusal
from .pipeline import Call
from .validation import RequestModel, parse

__all__ = ["EmbedRequest", "PredictRequest", "RerankRequest", "SimilarityRequest", "embed", "predict", "rerank",
           "similarity", "check_batch", "texts_of"]  # fmt: skip

Direction = Literal["Left", "Right", "left", "right"]
TokenIds = list[int] | list[list[int]]


class EmbedRequest(RequestModel):
    inputs: str | list[str] | TokenIds
    normalize: bool = True
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: str | None = None
    dimensions: int | None = Field(default=None, ge=1)


class PredictRequest(RequestModel):
    inputs: str | list[str] | list[list[str]]
    raw_scores: bool = False
    truncate: bool | None = None
    truncation_direction: Direction = "Right"


class RerankRequest(RequestModel):
    query: str
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool | None = None
    truncation_direction: Direction = "Right"


class SimilarityInput(RequestModel):
    source_sentence: str
    sentences: list[str]


class SimilarityParameters(RequestModel):
    prompt_name: str | None = None
    truncate: bool | None = None
    truncation_direction: Direction = "Right"


class SimilarityRequest(RequestModel):
    inputs: SimilarityInput
    parameters: SimilarityParameters | None = None


class Prediction(BaseModel):
    score: float
    label: str


class Rank(BaseModel):
    index: int = Field(ge=0)
    score: float
    text: str | None = None


def check_batch(call: Call, size: int, what: str = "inputs") -> None:
    if size == 0:
        raise Refusal("empty", f"`{what}` cannot be empty", param=what)
    limit = call.ctx.limits.max_client_batch_size
    if size > limit:
        raise Refusal("too_large", f"batch size {size} > maximum allowed batch size {limit}", param=what)


def texts_of(value: Any, what: str = "inputs") -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(text, str) for text in texts):
        raise Refusal("validation", f"`{what}` as token ids is not supported by this server: send text", param=what)
    return texts


async def embed(call: Call) -> Response:
    request = parse(EmbedRequest, call.body)
    texts = texts_of(request.inputs)
    check_batch(call, len(texts))
    vectors = await call.ctx.backend.afeature_extraction(
        texts, normalize=request.normalize, truncate=request.truncate, prompt_name=request.prompt_name
    )
    if request.dimensions is not None and vectors and request.dimensions != len(vectors[0]):
        raise Refusal("validation", f"dimensions={request.dimensions} is not supported: the model returns "
                      f"{len(vectors[0])} dimensions", param="dimensions")  # fmt: skip
    return JSONBody(vectors)


async def predict(call: Call) -> Response:
    request = parse(PredictRequest, call.body)
    inputs = request.inputs
    if isinstance(inputs, list) and len(inputs) == 2 and all(isinstance(text, str) for text in inputs):
        raise Refusal("validation", "sentence pairs need a cross-encoder; this model classifies single texts",
                      param="inputs")  # fmt: skip
    if isinstance(inputs, str):
        return JSONBody(await _classify(call, inputs))
    batch = [item if isinstance(item, str) else _single(item) for item in inputs]
    check_batch(call, len(batch))
    return JSONBody([await _classify(call, text) for text in batch])


def _single(item: list[str]) -> str:
    if len(item) != 1:
        raise Refusal("validation", "sentence pairs need a cross-encoder; this model classifies single texts",
                      param="inputs")  # fmt: skip
    return item[0]


async def _classify(call: Call, text: str) -> list[dict[str, Any]]:
    return [label.model_dump() for label in await call.ctx.backend.atext_classification(text)]


async def rerank(call: Call) -> Response:
    request = parse(RerankRequest, call.body)
    check_batch(call, len(request.texts), "texts")
    scores = await call.ctx.backend.asentence_similarity(request.query, request.texts)
    ranked = sorted(enumerate(scores), key=lambda pair: pair[1], reverse=True)
    results: list[dict[str, Any]] = [{"index": index, "score": score} for index, score in ranked]
    if request.return_text:
        for item in results:
            item["text"] = request.texts[item["index"]]
    return JSONBody(results)


async def similarity(call: Call) -> Response:
    request = parse(SimilarityRequest, call.body)
    check_batch(call, len(request.inputs.sentences), "inputs.sentences")
    return JSONBody(await call.ctx.backend.asentence_similarity(request.inputs.source_sentence,
                                                                request.inputs.sentences))  # fmt: skip
