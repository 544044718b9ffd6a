"""text-generation-inference routes: ``POST /generate``, ``POST /generate_stream`` and text generation on ``POST /``
(list-wrapped, as TGI's ``compat_generate``), with TGI's request validation and ``/info``.

Request and response models follow TGI's OpenAPI document (``GenerateRequest``, ``GenerateParameters``,
``GenerateResponse``, ``StreamResponse``, ``Info``). Sampling options the backend has no knob for (``top_k``,
``repetition_penalty``, ``frequency_penalty``, ``typical_p``, ``watermark``, ``do_sample``, ``truncate``) are
validated and not applied; options that would change what is returned and cannot be honoured (``best_of`` > 1,
``grammar``, ``decoder_input_details``, ``top_n_tokens``, ``adapter_id``) are refused with 422.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.responses import Response

from ..types import TextGenerationChunk
from .context import ServerContext
from .errors import JSONBody, Refusal, refusal_from
from .pipeline import Call, streams
from .streaming import first, sse, tgi_event
from .validation import RequestModel, parse

__all__ = ["GenerateParameters", "GenerateRequest", "CompatGenerateRequest", "generate", "generate_stream",
           "compat_generate", "info"]  # fmt: skip

FinishReason = Literal["length", "eos_token", "stop_sequence"]


class GenerateParameters(RequestModel):
    best_of: int | None = Field(default=None, gt=0)
    decoder_input_details: bool = False
    details: bool = False
    do_sample: bool = False
    frequency_penalty: float | None = Field(default=None, gt=-2)
    grammar: dict[str, Any] | None = None
    max_new_tokens: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0)
    return_full_text: bool | None = None
    seed: int | None = Field(default=None, ge=0)
    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, gt=0)
    top_k: int | None = Field(default=None, gt=0)
    top_n_tokens: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    truncate: int | None = Field(default=None, ge=0)
    typical_p: float | None = Field(default=None, gt=0, le=1)
    watermark: bool = False
    adapter_id: str | None = None


class GenerateRequest(RequestModel):
    inputs: str
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)


class CompatGenerateRequest(GenerateRequest):
    stream: bool = False


class Token(BaseModel):
    id: int = Field(ge=0)
    text: str
    logprob: float | None
    special: bool


class Details(BaseModel):
    finish_reason: FinishReason
    generated_tokens: int = Field(ge=0)
    seed: int | None = None
    prefill: list[Token]
    tokens: list[Token]


class GenerateResponse(BaseModel):
    generated_text: str
    details: Details | None = None


class StreamDetails(BaseModel):
    finish_reason: FinishReason
    generated_tokens: int = Field(ge=0)
    input_length: int = Field(ge=0)
    seed: int | None = None


class StreamResponse(BaseModel):
    index: int = Field(ge=0)
    token: Token
    top_tokens: list[Token]
    generated_text: str | None
    details: StreamDetails | None


class Info(BaseModel):
    """TGI's ``Info`` and TEI's together: one ``/info`` satisfies both documents, whatever the client expects."""

    model_id: str
    model_sha: str | None = None
    model_pipeline_tag: str | None = None
    model_dtype: str
    model_device_type: str
    served_model_name: str
    model_type: dict[str, Any]
    max_concurrent_requests: int = Field(ge=0)
    max_best_of: int = Field(ge=0)
    max_stop_sequences: int = Field(ge=0)
    max_input_tokens: int = Field(ge=0)
    max_input_length: int = Field(ge=0)
    max_total_tokens: int = Field(ge=0)
    max_batch_tokens: int = Field(ge=0)
    max_client_batch_size: int = Field(ge=0)
    auto_truncate: bool
    validation_workers: int = Field(ge=0)
    tokenization_workers: int = Field(ge=0)
    router: str
    version: str
    sha: str | None = None
    docker_label: str | None = None
    backend: str


def options(call: Call, params: GenerateParameters) -> dict[str, Any]:
    """The backend options of a validated request, after the checks TGI makes."""
    limits = call.ctx.limits
    refused = {"best_of": (params.best_of or 1) > 1, "grammar": params.grammar is not None,
               "decoder_input_details": params.decoder_input_details, "top_n_tokens": bool(params.top_n_tokens),
               "adapter_id": params.adapter_id is not None}  # fmt: skip
    for name, present in refused.items():
        if present:
            raise Refusal("validation", f"Input validation error: `{name}` is not supported by this server",
                          param=name)  # fmt: skip
    if params.max_new_tokens is not None and params.max_new_tokens > limits.max_total_tokens:
        raise Refusal("validation", f"Input validation error: `max_new_tokens` must be <= {limits.max_total_tokens}."
                      f" Given: {params.max_new_tokens}", param="max_new_tokens")  # fmt: skip
    if len(params.stop) > limits.max_stop_sequences:
        raise Refusal("validation", f"Input validation error: `stop` supports up to {limits.max_stop_sequences} "
                      f"stop sequences. Given: {len(params.stop)}", param="stop")  # fmt: skip
    return {"max_new_tokens": params.max_new_tokens, "temperature": params.temperature, "top_p": params.top_p,
            "stop": params.stop or None, "seed": params.seed}  # fmt: skip


def finish_reason(reason: str | None) -> FinishReason:
    if reason in ("length", "eos_token", "stop_sequence"):
        return reason  # type: ignore[return-value]
    return "length" if reason is None else "eos_token"  # e.g. OpenAI's "stop"


@streams
async def generate(call: Call) -> Response:
    return JSONBody(await _generate(call, parse(GenerateRequest, call.body)))


@streams
async def compat_generate(call: Call) -> Response:
    """``POST /`` for text generation: a list-wrapped answer, or a stream when ``stream`` is true (TGI)."""
    request = parse(CompatGenerateRequest, call.body)
    if request.stream:
        return await _stream(call, request)
    return JSONBody([await _generate(call, request)])


@streams
async def generate_stream(call: Call) -> Response:
    return await _stream(call, parse(GenerateRequest, call.body))


async def _generate(call: Call, request: GenerateRequest) -> dict[str, Any]:
    params = request.parameters
    generation = options(call, params)
    if call.fault is not None:
        raise Refusal("incomplete", "Incomplete generation")
    result = await call.ctx.backend.atext_generation(request.inputs, **generation)
    text = request.inputs + result.generated_text if params.return_full_text else result.generated_text
    payload: dict[str, Any] = {"generated_text": text}
    if params.details:
        tokens = [token.model_dump() for token in result.tokens]
        payload["details"] = {"finish_reason": finish_reason(result.finish_reason),
                              "generated_tokens": result.generated_tokens or len(tokens), "seed": params.seed,
                              "prefill": [], "tokens": tokens}  # fmt: skip
    return payload


async def _stream(call: Call, request: GenerateRequest) -> Response:
    generation = options(call, request.parameters)
    stream = call.ctx.backend.astream_text_generation(request.inputs, **generation)
    head = await first(stream)
    input_length = len(request.inputs.split())
    return sse(_events(call, head, stream, input_length, request.parameters.seed), stream)


async def _events(call: Call, head: TextGenerationChunk | None, stream: AsyncIterator[TextGenerationChunk],
                  input_length: int, seed: int | None) -> AsyncIterator[bytes]:  # fmt: skip
    index = 0
    chunk = head
    try:
        while chunk is not None:
            if call.fault is not None and index >= call.fault.after_chunks:
                yield tgi_event({"error": "Request failed during generation", "error_type": "generation"})
                return
            index += 1
            details = None
            if chunk.generated_text is not None:
                details = {"finish_reason": finish_reason(chunk.finish_reason),
                           "generated_tokens": chunk.generated_tokens or index, "input_length": input_length,
                           "seed": seed}  # fmt: skip
            yield tgi_event({"index": index, "token": chunk.token.model_dump(), "top_tokens": [],
                             "generated_text": chunk.generated_text, "details": details})  # fmt: skip
            chunk = await first(stream)
    except Exception as exc:  # after the 200 went out, a failure travels as an error event, as TGI sends it
        refusal = refusal_from(exc)
        yield tgi_event({"error": refusal.message, "error_type": "generation"})


def info(ctx: ServerContext) -> Response:
    limits = ctx.limits
    body = Info(
        model_id=ctx.model_id, model_dtype="float32", model_device_type="cpu", served_model_name=ctx.model_id,
        model_pipeline_tag=ctx.models.root_task, model_type={"embedding": {"pooling": "mean"}},
        max_concurrent_requests=limits.max_concurrent_requests or 128, max_best_of=1,
        max_stop_sequences=limits.max_stop_sequences, max_input_tokens=limits.max_total_tokens - 1,
        max_input_length=limits.max_total_tokens - 1, max_total_tokens=limits.max_total_tokens,
        max_batch_tokens=limits.max_total_tokens * limits.max_client_batch_size,
        max_client_batch_size=limits.max_client_batch_size, auto_truncate=False, validation_workers=1,
        tokenization_workers=1, router="hfbridge", version="hfbridge", backend=ctx.backend.name,
    )  # fmt: skip
    return JSONBody(body.model_dump())
