"""text-embeddings-inference routes: ``POST /embed``, ``/predict``, ``/rerank``, ``/similarity``, with TEI's request
models (``EmbedRequest``, ``PredictRequest``, ``RerankRequest``, ``SimilarityRequest``), its batch limit
(``max_client_batch_size``: 413) and its errors (``Empty`` 400 for no input).

Embedding inputs are TEI's ``Input``: a text, one text's token ids, or a batch of those (texts and ids mixed), on
``/embed`` and ``/v1/embeddings`` alike; ids become text through the served embedding model's tokenizer
(:func:`embedding_texts`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from starlette.responses import Response

from ..errors import InvalidInputError, UnsupportedTaskError
from .errors import JSONBody, Refusal
from .pipeline import Call
from .validation import RequestModel, parse

__all__ = ["EmbedRequest", "PredictRequest", "RerankRequest", "SimilarityRequest", "embed", "predict", "rerank",
           "similarity", "check_batch", "texts_of", "EmbeddingInputs", "embedding_inputs",
           "embedding_texts"]  # fmt: skip

Direction = Literal["Left", "Right", "left", "right"]
TokenIds = list[int]
_IDS_DOC = (
    "Texts, or token ids of the served embedding model as its tokenizer's encode(text).ids gives them (BERT models: "
    "[CLS] first, [SEP] last, padding allowed), one input or a batch of them, mixed. Stricter than TEI, which reads "
    "any ids: ids outside the tokenizer's vocabulary or without its marks are another tokenizer's (OpenAI's tiktoken "
    "ids, as LangChain's OpenAIEmbeddings sends by default) and are refused with 422; so are ids when the backend has "
    "no tokenizer for them."
)
#: TEI's ``Input``: one ``InputType`` (a text or its token ids) or a batch of them.
EmbeddingInputs = Annotated[str | TokenIds | list[str | TokenIds], Field(description=_IDS_DOC)]
_SEND_TEXT = ("send the text instead (LangChain's OpenAIEmbeddings sends OpenAI's tiktoken ids unless "
              "check_embedding_ctx_length=False)")  # fmt: skip


class EmbedRequest(RequestModel):
    inputs: EmbeddingInputs
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


def embedding_inputs(value: str | TokenIds | list[str | TokenIds]) -> list[str | TokenIds]:
    """The batch an embedding request's input stands for: one text, one text's ids, or each of a list."""
    if isinstance(value, str) or (value and all(isinstance(item, int) for item in value)):
        return [value]  # type: ignore[list-item]
    return list(value)  # type: ignore[arg-type]


async def embedding_texts(call: Call, inputs: list[str | TokenIds], what: str = "inputs") -> list[str]:
    """The texts of a batch of embedding inputs, token ids decoded by the served embedding model's tokenizer
    (``Backend.decode_token_ids``), after the batch limit and before anything else checks them (input length...).

    TEI decodes any ids and reads unknown ones as nothing (its tokenizer drops them); this is stricter on purpose:
    another tokenizer's ids (OpenAI's tiktoken ids, LangChain's OpenAIEmbeddings' default) would embed unrelated
    words, so ids outside the vocabulary or without the tokenizer's marks are a 422 that says to send text."""
    check_batch(call, len(inputs), what)
    if all(isinstance(item, str) for item in inputs):
        return inputs  # type: ignore[return-value]
    backend = call.ctx.backend

    def decode() -> list[str]:
        texts = []
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                texts.append(item)
                continue
            where = f"{what}[{index}]" if len(inputs) > 1 else what
            if not item:
                raise Refusal("empty", f"`{where}` cannot be empty", param=what)
            try:
                texts.append(backend.decode_token_ids(item, task="feature-extraction"))
            except UnsupportedTaskError as exc:
                raise Refusal("validation", f"`{what}` as token ids is not supported by this server ({exc}): "
                              f"{_SEND_TEXT}", param=what) from None  # fmt: skip
            except InvalidInputError as exc:
                raise Refusal("validation", f"`{where}`: {exc}; {_SEND_TEXT}", param=what) from None
        return texts

    return await asyncio.to_thread(decode)  # the first call loads the tokenizer


async def embed(call: Call) -> Response:
    request = parse(EmbedRequest, call.body)
    texts = await embedding_texts(call, embedding_inputs(request.inputs))
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
