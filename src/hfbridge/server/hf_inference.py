"""The hf-inference API: ``POST /models/{id}`` (and ``/models/{id}/pipeline/{task}``) runs the model's task, as
the real API does; ``POST /`` runs the served model's task (see ``tasks.py``). Bodies are the ones
``InferenceClient`` sends for each task; errors are ``{"error": ...}`` with no ``error_type``, as the hf-inference
API sends them — except on ``POST /`` for text generation and TEI's tasks, which answer as TGI and TEI do there."""

from __future__ import annotations

import io
from typing import Any, Literal

from pydantic import Field
from starlette.responses import Response

from ..tasks._spec import Task
from .errors import Dialect, JSONBody, Refusal
from .pipeline import Call, streams
from .tasks import registry_task
from .tei import EmbedRequest, SimilarityRequest, check_batch, embedding_inputs, embedding_texts
from .tgi import compat_generate
from .validation import RequestModel, parse

__all__ = ["model_route", "root_route", "root_dialect"]


class ClassificationParameters(RequestModel):
    top_k: int | None = Field(default=None, ge=1)
    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = None


class ClassificationRequest(RequestModel):
    inputs: str | list[str]
    parameters: ClassificationParameters = Field(default_factory=ClassificationParameters)


class ZeroShotParameters(RequestModel):
    candidate_labels: list[str]
    multi_label: bool = False
    hypothesis_template: str | None = None


class ZeroShotRequest(RequestModel):
    inputs: str
    parameters: ZeroShotParameters


class TokenClassificationParameters(RequestModel):
    aggregation_strategy: Literal["none", "simple", "first", "average", "max"] | None = None
    ignore_labels: list[str] | None = None
    stride: int | None = Field(default=None, ge=0)


class TokenClassificationRequest(RequestModel):
    inputs: str
    parameters: TokenClassificationParameters = Field(default_factory=TokenClassificationParameters)


class ImageParameters(RequestModel):
    negative_prompt: str | None = None
    width: int | None = Field(default=None, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    num_inference_steps: int | None = Field(default=None, ge=1, le=500)
    guidance_scale: float | None = None
    seed: int | None = None
    scheduler: str | None = None


class ImageRequest(RequestModel):
    inputs: str
    parameters: ImageParameters = Field(default_factory=ImageParameters)


async def embeddings(call: Call) -> Response:
    request = parse(EmbedRequest, call.body)
    texts = await embedding_texts(call, embedding_inputs(request.inputs))
    return JSONBody(await call.ctx.backend.afeature_extraction(
        texts, normalize=request.normalize, truncate=request.truncate, prompt_name=request.prompt_name))  # fmt: skip


async def sentence_similarity(call: Call) -> Response:
    request = parse(SimilarityRequest, call.body)
    check_batch(call, len(request.inputs.sentences), "inputs.sentences")
    return JSONBody(await call.ctx.backend.asentence_similarity(request.inputs.source_sentence,
                                                                request.inputs.sentences))  # fmt: skip


async def text_classification(call: Call) -> Response:
    request = parse(ClassificationRequest, call.body)
    texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
    check_batch(call, len(texts))
    top_k = request.parameters.top_k
    results = [await call.ctx.backend.atext_classification(text, top_k=top_k) for text in texts]
    return JSONBody([[label.model_dump() for label in result] for result in results])


async def zero_shot_classification(call: Call) -> Response:
    request = parse(ZeroShotRequest, call.body)
    params = request.parameters
    if len(params.candidate_labels) > call.ctx.limits.max_labels:
        raise Refusal("validation", f"at most {call.ctx.limits.max_labels} candidate labels, got "
                      f"{len(params.candidate_labels)}", param="parameters.candidate_labels")  # fmt: skip
    result = await call.ctx.backend.azero_shot_classification(
        request.inputs, params.candidate_labels, multi_label=params.multi_label,
        hypothesis_template=params.hypothesis_template,
    )  # fmt: skip
    return JSONBody([label.model_dump() for label in result])


async def token_classification(call: Call) -> Response:
    request = parse(TokenClassificationRequest, call.body)
    ignored = set(request.parameters.ignore_labels or ())
    entities = await call.ctx.backend.atoken_classification(request.inputs)
    return JSONBody([entity.model_dump() for entity in entities if entity.entity_group not in ignored])


async def text_to_image(call: Call) -> Response:
    request = parse(ImageRequest, call.body)
    params = request.parameters.model_dump(exclude_none=True)
    extra = {key: params.pop(key) for key in ("scheduler",) if key in params}
    picture = await call.ctx.backend.atext_to_image(request.inputs, extra=extra, **params)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return Response(buffer.getvalue(), media_type="image/png")


_HANDLERS = {
    "feature-extraction": embeddings, "sentence-similarity": sentence_similarity,
    "text-classification": text_classification, "zero-shot-classification": zero_shot_classification,
    "token-classification": token_classification, "text-to-image": text_to_image, "text-generation": compat_generate,
}  # fmt: skip
# POST / answers as the container that serves the task there would: TGI for generation, TEI for its tasks.
_ROOT_DIALECTS: dict[str, Dialect] = {
    "text-generation": "tgi", "feature-extraction": "tei", "sentence-similarity": "tei", "text-classification": "tei",
}  # fmt: skip


def root_dialect(task: str | None) -> Dialect:
    return _ROOT_DIALECTS.get(task or "", "hf")


def _body(call: Call) -> dict[str, Any] | None:
    """The JSON object the body is, or None for a file (a binary-input task's raw image or audio)."""
    if call.is_binary:
        return None
    if not isinstance(call.body, dict):
        raise Refusal("validation", f"the request body must be a JSON object, got {type(call.body).__name__}")
    return call.body


@streams
async def model_route(call: Call) -> Response:
    """``POST /models/{model_id}`` and ``/models/{model_id}/pipeline/{task}``."""
    params = call.request.path_params
    task = call.ctx.models.for_model(params["model_id"], _body(call), call.accept, params.get("task"))
    return await _dispatch(call, task)


@streams
async def root_route(call: Call) -> Response:
    """``POST /``: the served model's task, or the one task the body's shape belongs to."""
    task = call.ctx.models.for_root(_body(call), call.accept)
    call.dialect = root_dialect(task)
    return await _dispatch(call, task)


async def _dispatch(call: Call, task: str) -> Response:
    if call.fault is not None and task != "text-generation":  # a mid-stream fault on an answer that is not a stream
        raise Refusal("internal", "injected error")
    handler = _HANDLERS.get(task)
    if handler is not None and not call.is_binary:
        return await handler(call)
    return await from_registry(call, registry_task(task))


async def from_registry(call: Call, task: Task[Any, Any]) -> Response:
    """Run a task as its declaration says it is served (``task.serving.read`` / ``write``): a task added to the
    registry is served here with no server edit. ``read`` gets the body as sent (a file's bytes, or JSON) and
    raises InvalidInputError (422) for a body it cannot read; the backend runs the request as any caller's."""
    read, write = task.serving.read, task.serving.write
    if read is None or write is None:
        if call.is_binary:
            raise Refusal("media_type", f"{task.pipeline_tag} takes a JSON body, not a file "
                          f"({call.content_type or 'no content type'})")  # fmt: skip
        raise Refusal("unsupported", f"this server cannot read {task.pipeline_tag} requests")
    request = read(call.raw, call.content_type)
    result = await call.ctx.backend._arun(task, request)
    body, media_type = write(result)
    return Response(body, media_type=media_type)

