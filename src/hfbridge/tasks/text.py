"""Encoder tasks on text: embeddings, similarity, classification, zero-shot classification, NER."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator

from .. import _validation as check
from ..backends import _wire
from ..errors import APIError
from ..types import ClassificationLabel, EntityGroup, Results
from ._spec import CacheCodec, HubCall, Limits, Serving, Task, ToolInfo
from .generation import _get

__all__ = [
    "FEATURE_EXTRACTION", "SENTENCE_SIMILARITY", "TEXT_CLASSIFICATION", "ZERO_SHOT_CLASSIFICATION",
    "TOKEN_CLASSIFICATION", "EmbeddingRequest", "SimilarityRequest", "TextClassificationRequest",
    "ZeroShotRequest", "TokenClassificationRequest",
]  # fmt: skip


def _labels(output: Any, request: Any = None) -> Results[ClassificationLabel]:
    labels = [ClassificationLabel(label=_get(item, "label"), score=float(_get(item, "score"))) for item in output]
    return Results(sorted(labels, key=lambda item: item.score, reverse=True))


def _entities(output: Any, request: Any = None) -> Results[EntityGroup]:
    return Results(
        EntityGroup(
            entity_group=_get(item, "entity_group") or _get(item, "entity") or "",
            score=float(_get(item, "score") or 0.0),
            word=_get(item, "word") or "",
            start=int(_get(item, "start") or 0),
            end=int(_get(item, "end") or 0),
        )
        for item in output
    )


def _dump_models(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def _rows(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"a cached result must be a list, got {type(raw).__name__}")
    return raw


def _is_vector(value: Any) -> bool:
    """A cached embedding: a non-empty list of finite numbers."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)
    )


class TextInput(BaseModel):
    text: str = Field(min_length=1, description="The text to analyse.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


# ===================================================================================================== embeddings
@dataclass(slots=True)
class EmbeddingRequest:
    texts: Sequence[str]
    model: str | None = None
    normalize: bool | None = None
    truncate: bool | None = None
    prompt_name: str | None = None
    batch_size: int | None = None
    show_progress: bool = False


def _validate_embedding(request: EmbeddingRequest, limits: Limits) -> EmbeddingRequest:
    truncate = request.truncate if request.truncate is not None else True
    texts = check.check_texts(request.texts, max_chars=limits.max_input_chars, truncate=truncate)
    if request.batch_size is not None and request.batch_size < 1:
        raise check.InvalidInputError("batch_size must be at least 1")
    request.texts = texts
    return request


def as_vectors(array: Any, request: EmbeddingRequest) -> Results[list[float]]:
    vectors = array.tolist() if hasattr(array, "tolist") else list(array)
    if vectors and not isinstance(vectors[0], list):
        vectors = [vectors]
    if len(vectors) != len(request.texts):
        raise APIError(f"the server returned {len(vectors)} embeddings for {len(request.texts)} texts")
    return Results(vectors)


FEATURE_EXTRACTION: Task[EmbeddingRequest, Results[list[float]]] = Task(
    name="feature_extraction",
    pipeline_tag="feature-extraction",
    request=EmbeddingRequest,
    result="Results[list[float]]",
    doc="""Embed many texts: ``batch_size`` texts a request, ``max_concurrency`` requests in flight, in order.

        Each batch is retried on its own, so a transient failure costs one batch, not the job. A batch that fails
        for good stops the job (no further batch is sent) and its typed error carries ``partial``: the vectors that
        were finished, one per text, ``None`` for the others; with a cache they are kept, so a re-run sends only
        the rest. Texts longer than ``max_input_chars`` are cut when ``truncate`` is true (the default) and
        rejected otherwise. With a cache, only texts not seen before are sent. ``show_progress`` draws a
        progress bar; ``batch_size`` overrides the backend's texts per request for this call.
        """,
    validate=_validate_embedding,
    hub=HubCall(
        send=lambda client, request, target: _wire.embed(
            client,
            request.texts,
            model=target.task_model(request.model, "feature-extraction"),
            normalize=request.normalize,
            truncate=request.truncate if request.truncate is not None else True,
            prompt_name=request.prompt_name,
        ),
        parse=as_vectors,
    ),
    local="_embed",
    many="texts",
    cache=CacheCodec(
        params=lambda r: {"model": r.model, "normalize": r.normalize, "truncate": r.truncate,
                          "prompt_name": r.prompt_name},
        dump=lambda vector: vector,
        load=lambda raw: raw,
        label="feature_extraction",
        accept=_is_vector,
    ),
    serving=Serving(routes=("/embed",), aliases=("embed",)),
)


# ============================================================================================= sentence similarity
@dataclass(slots=True)
class SimilarityRequest:
    source: str
    sentences: Sequence[str]
    model: str | None = None


def _validate_similarity(request: SimilarityRequest, limits: Limits) -> SimilarityRequest:
    check.check_text(request.source, "source", max_chars=limits.max_input_chars)
    sentences = check.check_texts(request.sentences, "sentences", max_chars=limits.max_input_chars, truncate=False)
    request.sentences = sentences
    return request


SENTENCE_SIMILARITY: Task[SimilarityRequest, Results[float]] = Task(
    name="sentence_similarity",
    pipeline_tag="sentence-similarity",
    request=SimilarityRequest,
    result="Results[float]",
    doc="""Cosine similarity of ``source`` to each of ``sentences``, in order.""",
    inputs=2,
    validate=_validate_similarity,
    hub=HubCall(
        send=lambda client, request, target: client.sentence_similarity(
            request.source,
            other_sentences=request.sentences,
            model=target.task_model(request.model, "sentence-similarity"),
        ),
        parse=lambda output, request: Results(float(score) for score in output),
    ),
    local="_similarity",
    serving=Serving(routes=("/similarity",), aliases=("similarity",)),
)


# =========================================================================================== text classification
@dataclass(slots=True)
class TextClassificationRequest:
    text: str
    top_k: int | None = None
    model: str | None = None


def _validate_text(request: Any, limits: Limits) -> Any:
    check.check_text(request.text, max_chars=limits.max_input_chars)
    return request


def _load_labels(raw: Any) -> Results[ClassificationLabel]:
    return Results(ClassificationLabel.model_validate(item, strict=True) for item in _rows(raw))

TEXT_CLASSIFICATION: Task[TextClassificationRequest, Results[ClassificationLabel]] = Task(
    name="text_classification",
    pipeline_tag="text-classification",
    request=TextClassificationRequest,
    result="Results[ClassificationLabel]",
    doc="""Labels with scores, best first (sentiment with the default models).""",
    validate=_validate_text,
    hub=HubCall(
        send=lambda client, request, target: client.text_classification(
            request.text, top_k=request.top_k, model=target.task_model(request.model, "text-classification")
        ),
        parse=_labels,
    ),
    local="_classify",
    cache=CacheCodec(params=lambda r: {"top_k": r.top_k, "model": r.model}, dump=_dump_models, load=_load_labels),
    serving=Serving(routes=("/predict",), aliases=("classify",)),
    tool=ToolInfo(
        name="text_classification",
        description="Classify the sentiment of a text (positive or negative). Input: the text. "
        "Output: JSON list of {label, score}, best first.",
        args=TextInput,
    ),
)


# ===================================================================================================== zero-shot
@dataclass(slots=True)
class ZeroShotRequest:
    text: str
    labels: Sequence[str]
    multi_label: bool = False
    hypothesis_template: str | None = None
    model: str | None = None


def _validate_zero_shot(request: ZeroShotRequest, limits: Limits) -> ZeroShotRequest:
    check.check_text(request.text, max_chars=limits.max_input_chars)
    request.labels = check.check_labels(request.labels, max_labels=limits.max_labels)
    return request


class ZeroShotInput(TextInput):
    labels: list[str] | None = Field(
        default=None, description="Candidate labels; omit to use the labels the tool was built with."
    )
    multi_label: bool = Field(default=False, description="Score each label independently.")


ZERO_SHOT_CLASSIFICATION: Task[ZeroShotRequest, Results[ClassificationLabel]] = Task(
    name="zero_shot_classification",
    pipeline_tag="zero-shot-classification",
    request=ZeroShotRequest,
    result="Results[ClassificationLabel]",
    doc="""Rank ``labels`` for ``text``, best first. Scores sum to 1 unless ``multi_label``.""",
    inputs=2,
    validate=_validate_zero_shot,
    hub=HubCall(
        send=lambda client, request, target: client.zero_shot_classification(
            request.text,
            candidate_labels=request.labels,
            multi_label=request.multi_label,
            hypothesis_template=request.hypothesis_template,
            model=target.task_model(request.model, "zero-shot-classification"),
        ),
        parse=_labels,
    ),
    local="_zero_shot",
    cache=CacheCodec(
        params=lambda r: {"labels": r.labels, "multi_label": r.multi_label, "template": r.hypothesis_template,
                          "model": r.model},
        dump=_dump_models,
        load=_load_labels,
    ),
    serving=Serving(aliases=("zero_shot",)),
    tool=ToolInfo(
        name="zero_shot_classification",
        description="Classify the topic of a text: which of the candidate labels fits it best. Input: text and "
        "optional labels. Output: JSON list of {label, score}, best first.",
        args=ZeroShotInput,
    ),
)


# ============================================================================================ token classification
@dataclass(slots=True)
class TokenClassificationRequest:
    text: str
    model: str | None = None


class NERInput(TextInput):
    entity_types: list[str] | None = Field(
        default=None, description="Keep only these entity groups, e.g. ['PER', 'ORG', 'LOC', 'MISC']."
    )


TOKEN_CLASSIFICATION: Task[TokenClassificationRequest, Results[EntityGroup]] = Task(
    name="token_classification",
    pipeline_tag="token-classification",
    request=TokenClassificationRequest,
    result="Results[EntityGroup]",
    doc="""Named entities, aggregated into groups (PER, ORG, LOC, MISC, ...) with character offsets.""",
    validate=_validate_text,
    hub=HubCall(
        send=lambda client, request, target: client.token_classification(
            request.text, aggregation_strategy="simple", model=target.task_model(request.model, "token-classification")
        ),
        parse=_entities,
    ),
    local="_ner",
    cache=CacheCodec(
        params=lambda r: {"model": r.model},
        dump=_dump_models,
        load=lambda raw: Results(EntityGroup.model_validate(item, strict=True) for item in _rows(raw)),
    ),
    serving=Serving(aliases=("ner",)),
    tool=ToolInfo(
        name="named_entity_recognition",
        description="Find named entities (people PER, organisations ORG, locations LOC, other MISC) in a text. "
        "Output: JSON list of {entity_group, word, start, end, score}.",
        args=NERInput,
    ),
)
