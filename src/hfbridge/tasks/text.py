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
from ._parse import as_list, field, integer, malformed, number, refuse_error_body, string
from ._spec import CacheCodec, HubCall, Limits, Serving, Task, ToolInfo

__all__ = [
    "FEATURE_EXTRACTION", "SENTENCE_SIMILARITY", "TEXT_CLASSIFICATION", "ZERO_SHOT_CLASSIFICATION",
    "TOKEN_CLASSIFICATION", "EmbeddingRequest", "SimilarityRequest", "TextClassificationRequest",
    "ZeroShotRequest", "TokenClassificationRequest",
]  # fmt: skip


def _label_rows(output: Any) -> list[Any]:
    refuse_error_body(output)
    rows = as_list(output, "the labels")
    if len(rows) == 1 and isinstance(rows[0], list):  # hf-inference wraps one text's labels in a list
        rows = rows[0]
    return rows


def _labels(output: Any, request: Any = None) -> Results[ClassificationLabel]:
    labels = [
        ClassificationLabel(
            label=string(field(item, "label"), f"labels[{i}].label", empty_ok=False),
            score=number(field(item, "score"), f"labels[{i}].score"),
        )
        for i, item in enumerate(_label_rows(output))
    ]
    return Results(sorted(labels, key=lambda item: item.score, reverse=True))


def _ranked(output: Any, request: ZeroShotRequest) -> Results[ClassificationLabel]:
    """Zero-shot labels: exactly the candidates asked for, each once (anything else would rank other labels)."""
    labels = _labels(output, request)
    returned = sorted(item.label for item in labels)
    if returned != sorted(request.labels):
        raise malformed(f"the labels must be the candidates {sorted(request.labels)}", returned)
    return labels


def _offset(value: Any, what: str) -> int:
    return 0 if value is None else integer(value, what)  # slow tokenizers give no offsets


def _entities(output: Any, request: Any = None) -> Results[EntityGroup]:
    refuse_error_body(output)
    entities = []
    for i, item in enumerate(as_list(output, "the entities")):
        group = field(item, "entity_group")
        if group is None:
            group = field(item, "entity")
        start = _offset(field(item, "start"), f"entities[{i}].start")
        end = _offset(field(item, "end"), f"entities[{i}].end")
        if end < start:
            raise malformed(f"entities[{i}] must end after it starts", (start, end))
        entities.append(
            EntityGroup(
                entity_group=string(group, f"entities[{i}].entity_group"),
                score=number(field(item, "score"), f"entities[{i}].score"),
                word=string(field(item, "word"), f"entities[{i}].word"),
                start=start,
                end=end,
            )
        )
    return Results(entities)


def _scores(output: Any, request: SimilarityRequest) -> Results[float]:
    refuse_error_body(output)
    rows = output.tolist() if hasattr(output, "tolist") else output
    scores = [number(score, f"scores[{i}]") for i, score in enumerate(as_list(rows, "the scores"))]
    if len(scores) != len(request.sentences):
        raise APIError(f"the server returned {len(scores)} scores for {len(request.sentences)} sentences")
    return Results(scores)


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
        and all(_is_number(x) for x in value)
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
    request.truncate = check.optional_bool(request.truncate, "truncate")
    truncate = request.truncate if request.truncate is not None else True
    request.texts = check.check_texts(request.texts, max_chars=limits.max_input_chars, truncate=truncate)
    request.model = check.check_model(request.model)
    request.normalize = check.optional_bool(request.normalize, "normalize")
    request.prompt_name = check.optional_text(request.prompt_name, "prompt_name")
    request.batch_size = check.optional_int(request.batch_size, "batch_size")
    request.show_progress = check.check_bool(request.show_progress, "show_progress")
    return request


def as_vectors(array: Any, request: EmbeddingRequest) -> Results[list[float]]:
    """One vector per text, all of one width, finite numbers; anything else is a typed ``APIError``."""
    refuse_error_body(array)
    vectors = array.tolist() if hasattr(array, "tolist") else array
    as_list(vectors, "the embeddings")
    if vectors and not isinstance(vectors[0], list) and len(request.texts) == 1:
        vectors = [vectors]  # one text, one bare vector
    if len(vectors) != len(request.texts):
        raise APIError(f"the server returned {len(vectors)} embeddings for {len(request.texts)} texts")
    width = None
    for index, vector in enumerate(vectors):
        if not isinstance(vector, list) or not vector:
            raise malformed(f"embeddings[{index}] must be a non-empty list of numbers", vector)
        if isinstance(vector[0], list):
            raise APIError(
                "unexpected response from the server: one vector per token, not one per text (3-D); the model "
                "does not pool: use a sentence-embedding model"
            )
        if not {type(x) for x in vector} <= {float, int} or not math.isfinite(sum(vector)):
            bad = next((x for x in vector if not _is_number(x)), None)
            raise malformed(f"embeddings[{index}] must hold finite numbers", bad)
        if width is None:
            width = len(vector)
        elif len(vector) != width:
            raise malformed(f"embeddings[{index}] must have the width of the others ({width})", len(vector))
    return Results(vectors)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


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
        # truncate=None is truncate=True (validation truncates long texts either way): one key for both.
        # The model is the key's target (the transport's cache_target: the model the task really uses).
        params=lambda r: {"normalize": r.normalize, "truncate": r.truncate is not False, "prompt_name": r.prompt_name},
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
    request.sentences = check.check_texts(request.sentences, "sentences", max_chars=limits.max_input_chars,
                                          truncate=False)  # fmt: skip
    request.model = check.check_model(request.model)
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
        parse=_scores,
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


def _validate_text(request: TextClassificationRequest | TokenClassificationRequest, limits: Limits) -> Any:
    check.check_text(request.text, max_chars=limits.max_input_chars)
    request.model = check.check_model(request.model)
    return request


def _validate_classification(request: TextClassificationRequest, limits: Limits) -> TextClassificationRequest:
    request.top_k = check.optional_int(request.top_k, "top_k")
    return _validate_text(request, limits)  # type: ignore[no-any-return]


def _load_labels(raw: Any) -> Results[ClassificationLabel]:
    return Results(ClassificationLabel.model_validate(item, strict=True) for item in _rows(raw))

TEXT_CLASSIFICATION: Task[TextClassificationRequest, Results[ClassificationLabel]] = Task(
    name="text_classification",
    pipeline_tag="text-classification",
    request=TextClassificationRequest,
    result="Results[ClassificationLabel]",
    doc="""Labels with scores, best first (sentiment with the default models).""",
    validate=_validate_classification,
    hub=HubCall(
        send=lambda client, request, target: client.text_classification(
            request.text, top_k=request.top_k, model=target.task_model(request.model, "text-classification")
        ),
        parse=_labels,
    ),
    local="_classify",
    cache=CacheCodec(params=lambda r: {"top_k": r.top_k}, dump=_dump_models, load=_load_labels),
    serving=Serving(routes=("/predict",), aliases=("classify",)),
    tool=ToolInfo(
        name="text_classification",
        description="Classify the sentiment of a text (positive or negative). "
        "Returns JSON [{label, score}], best first.",
        args=TextInput,
        example={"text": "I love this product!"},
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
    request.multi_label = check.check_bool(request.multi_label, "multi_label")
    template = request.hypothesis_template = check.optional_text(request.hypothesis_template, "hypothesis_template")
    if template is not None and "{}" not in template:
        # Without a {} slot every label would be scored against the same sentence: a ranking of nothing.
        raise check.InvalidInputError(
            "hypothesis_template must hold a {} slot for the label, e.g. 'This text is about {}.', got "
            f"{template!r}"
        )
    request.model = check.check_model(request.model)
    return request


class ZeroShotInput(TextInput):
    text: str = Field(min_length=1, description="The text to classify.")
    labels: list[str] | None = Field(
        default=None, description="Candidate labels; omit to use the tool's labels."
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
        parse=_ranked,
    ),
    local="_zero_shot",
    cache=CacheCodec(
        params=lambda r: {"labels": r.labels, "multi_label": r.multi_label, "template": r.hypothesis_template},
        dump=_dump_models,
        load=_load_labels,
    ),
    serving=Serving(aliases=("zero_shot",)),
    tool=ToolInfo(
        name="zero_shot_classification",
        description="Classify the topic of a text: which of the candidate labels fits it best. "
        "Returns JSON [{label, score}].",
        args=ZeroShotInput,
        example={"text": "I need to update my payment method.", "labels": ["billing", "account"], "multi_label": False},
    ),
)


# ============================================================================================ token classification
@dataclass(slots=True)
class TokenClassificationRequest:
    text: str
    model: str | None = None


class NERInput(TextInput):
    entity_types: list[str] | None = Field(
        default=None, description="Keep only these groups: PER, ORG, LOC, MISC."
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
        params=lambda r: {},
        dump=_dump_models,
        load=lambda raw: Results(EntityGroup.model_validate(item, strict=True) for item in _rows(raw)),
    ),
    serving=Serving(aliases=("ner",)),
    tool=ToolInfo(
        name="named_entity_recognition",
        description="Find named entities (people PER, organisations ORG, locations LOC, other MISC) in a text. "
        "Returns JSON [{entity_group, word, start, end, score}].",
        args=NERInput,
        example={"text": "Elon Musk founded SpaceX in Hawthorne, California in 2002.", "entity_types": ["PER"]},
        filters={"entity_types": "entity_group"},
    ),
)
