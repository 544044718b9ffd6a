"""OpenAI-compatible routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``POST /v1/embeddings``,
``GET /v1/models``.

Shapes follow the ``openai`` SDK's types and TGI's OpenAPI document (``ChatCompletion``, ``ChatCompletionChunk``,
``CompletionFinal``, ``ModelInfo``) and what TEI serves on ``/v1/embeddings``. What the backend cannot do is refused
with a 422 naming the field (``n`` > 1, ``logprobs``, ``echo``, ``suffix``, ``best_of`` > 1, token-id prompts),
never silently ignored; ``/v1/embeddings`` takes token ids as TEI does (``tei.embedding_texts``). Errors have the
OpenAI shape (``errors.py``).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from starlette.responses import Response

from ..types import ChatCompletionChunk, TextGenerationChunk
from .context import ServerContext
from .errors import JSONBody, Refusal, refusal_from
from .pipeline import Call, streams
from .streaming import DONE, first, openai_event, sse
from .tei import EmbeddingInputs, embedding_inputs, embedding_texts, texts_of
from .validation import RequestModel, parse

__all__ = ["ChatRequest", "CompletionRequest", "EmbeddingsRequest", "chat", "completions", "embeddings",
           "list_models"]  # fmt: skip

TokenIds = list[int] | list[list[int]]
Stop = str | list[str] | None


class StreamOptions(RequestModel):
    include_usage: bool = False


class ChatRequest(RequestModel):
    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Stop = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None


class CompletionRequest(RequestModel):
    prompt: str | list[str] | TokenIds
    model: str | None = None
    max_tokens: int | None = Field(default=16, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Stop = None
    seed: int | None = None
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None


class EmbeddingsRequest(RequestModel):
    input: EmbeddingInputs
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class UsageBody(BaseModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class FunctionBody(BaseModel):
    name: str
    arguments: str


class ToolCallBody(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionBody


class MessageBody(BaseModel):
    role: Literal["assistant"]
    content: str | None
    tool_calls: list[ToolCallBody] | None = None


class ChoiceBody(BaseModel):
    index: int = Field(ge=0)
    message: MessageBody
    logprobs: None = None
    finish_reason: str


class ChatCompletionBody(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int = Field(ge=0)
    model: str
    system_fingerprint: str
    choices: list[ChoiceBody]
    usage: UsageBody


class DeltaFunctionBody(BaseModel):
    name: str | None = None
    arguments: str


class DeltaToolCallBody(BaseModel):
    index: int = Field(ge=0)
    id: str
    type: Literal["function"]
    function: DeltaFunctionBody


class DeltaBody(BaseModel):
    role: Literal["assistant"]
    content: str | None = None
    tool_calls: list[DeltaToolCallBody] | None = None


class ChunkChoiceBody(BaseModel):
    index: int = Field(ge=0)
    delta: DeltaBody
    logprobs: None = None
    finish_reason: str | None


class ChatChunkBody(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int = Field(ge=0)
    model: str
    system_fingerprint: str
    choices: list[ChunkChoiceBody]
    usage: UsageBody | None = None


class CompletionChoiceBody(BaseModel):
    index: int = Field(ge=0)
    text: str
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None


class CompletionBody(BaseModel):
    id: str
    object: Literal["text_completion"]
    created: int = Field(ge=0)
    model: str
    system_fingerprint: str
    choices: list[CompletionChoiceBody]
    usage: UsageBody | None = None


class EmbeddingBody(BaseModel):
    object: Literal["embedding"]
    index: int = Field(ge=0)
    embedding: list[float] | str


class EmbeddingUsageBody(BaseModel):
    prompt_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class EmbeddingListBody(BaseModel):
    object: Literal["list"]
    data: list[EmbeddingBody]
    model: str
    usage: EmbeddingUsageBody


class ModelBody(BaseModel):
    id: str
    object: Literal["model"]
    created: int = Field(ge=0)
    owned_by: str


class ModelListBody(BaseModel):
    object: Literal["list"]
    data: list[ModelBody]


def list_models(ctx: ServerContext) -> Response:
    """``GET /v1/models``: every model the server serves."""
    data = [{"id": model, "object": "model", "created": 0, "owned_by": "hfbridge"} for model in ctx.models.models]
    return JSONBody({"object": "list", "data": data})


def _refuse(values: dict[str, tuple[Any, bool]]) -> None:
    for name, (value, refused) in values.items():
        if refused:
            raise Refusal("validation", f"{name}={value!r} is not supported by this server", param=name)


def _stop(call: Call, stop: Stop) -> list[str] | None:
    stops = [stop] if isinstance(stop, str) else stop
    if stops and len(stops) > call.ctx.limits.max_stop_sequences:
        raise Refusal("validation", f"`stop` supports up to {call.ctx.limits.max_stop_sequences} sequences",
                      param="stop")  # fmt: skip
    return stops or None


def _max_tokens(call: Call, value: int | None, name: str) -> int | None:
    if value is not None and value > call.ctx.limits.max_total_tokens:
        raise Refusal("validation", f"`{name}` must be <= {call.ctx.limits.max_total_tokens}. Given: {value}",
                      param=name)  # fmt: skip
    return value


def _head(ctx: ServerContext, prefix: str, kind: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()),
            "model": ctx.model_id, "system_fingerprint": "hfbridge"}  # fmt: skip


# ------------------------------------------------------------------------------------------------------------- chat
@streams
async def chat(call: Call) -> Response:
    request = parse(ChatRequest, call.body)
    _refuse({"n": (request.n, request.n > 1), "logprobs": (request.logprobs, request.logprobs),
             "top_logprobs": (request.top_logprobs, request.top_logprobs is not None)})  # fmt: skip
    max_tokens = request.max_tokens if request.max_tokens is not None else request.max_completion_tokens
    options: dict[str, Any] = {
        "tools": request.tools, "tool_choice": request.tool_choice, "response_format": request.response_format,
        "max_tokens": _max_tokens(call, max_tokens, "max_tokens"), "temperature": request.temperature,
        "top_p": request.top_p, "stop": _stop(call, request.stop), "seed": request.seed,
    }  # fmt: skip
    name = request.model if request.model not in (None, "", "dummy", "tgi") else call.ctx.model_id
    head = {**_head(call.ctx, "chatcmpl", "chat.completion"), "model": name}
    if not request.stream:
        if call.fault is not None:
            raise Refusal("internal", "injected error")
        result = await call.ctx.backend.achat_completion(request.messages, **options)
        message: dict[str, Any] = {"role": "assistant", "content": result.message.content}
        if result.message.tool_calls:
            message["tool_calls"] = [tool_call.to_openai() for tool_call in result.message.tool_calls]
        usage = result.usage.model_dump() if result.usage is not None else _usage(0, 0)
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason or "stop"}
        return JSONBody({**head, "choices": [choice], "usage": usage})
    include_usage = request.stream_options is not None and request.stream_options.include_usage
    stream = call.ctx.backend.astream_chat_completion(request.messages, **options)
    head_chunk = await first(stream)
    return sse(_chat_events(call, {**head, "object": "chat.completion.chunk"}, head_chunk, stream, include_usage),
               stream)  # fmt: skip


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _delta(chunk: ChatCompletionChunk, call_ids: dict[int, str]) -> dict[str, Any]:
    """A delta that is exactly one of TGI's ``TextMessage`` (text) or ``ToolCallDelta`` (tool calls): every tool-call
    delta repeats its call's id and type, as TGI sends them."""
    if not chunk.tool_calls:
        return {"role": "assistant", "content": chunk.content}
    calls = []
    for delta in chunk.tool_calls:
        if delta.id:
            call_ids[delta.index] = delta.id
        function: dict[str, Any] = {"arguments": delta.arguments}
        if delta.name:
            function["name"] = delta.name
        calls.append({"index": delta.index, "id": call_ids.get(delta.index, str(delta.index)), "type": "function",
                      "function": function})  # fmt: skip
    return {"role": "assistant", "tool_calls": calls}


async def _chat_events(
    call: Call, head: dict[str, Any], chunk: ChatCompletionChunk | None, stream: AsyncIterator[ChatCompletionChunk],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    usage = None
    sent = 0
    call_ids: dict[int, str] = {}
    try:
        while chunk is not None:
            if call.fault is not None and sent >= call.fault.after_chunks:
                yield openai_event({"error": "Request failed during generation", "error_type": "generation"})
                return
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.content or chunk.tool_calls or chunk.finish_reason:
                choice = {"index": 0, "delta": _delta(chunk, call_ids), "logprobs": None,
                          "finish_reason": chunk.finish_reason}  # fmt: skip
                yield openai_event({**head, "choices": [choice]})
                sent += 1
            chunk = await first(stream)
    except Exception as exc:  # after the 200 went out, a failure travels as an error event, as TGI sends it
        yield openai_event({"error": refusal_from(exc).message, "error_type": "generation"})
        return
    if include_usage and usage is not None:
        yield openai_event({**head, "choices": [], "usage": usage.model_dump()})
    yield DONE


# ------------------------------------------------------------------------------------------------------ completions
@streams
async def completions(call: Call) -> Response:
    request = parse(CompletionRequest, call.body)
    _refuse({"n": (request.n, request.n > 1), "echo": (request.echo, request.echo),
             "logprobs": (request.logprobs, request.logprobs is not None),
             "suffix": (request.suffix, request.suffix is not None),
             "best_of": (request.best_of, (request.best_of or 1) > 1)})  # fmt: skip
    prompts = _prompts(request.prompt)
    limit = call.ctx.limits.max_client_batch_size
    if len(prompts) > limit:
        raise Refusal("validation", f"Number of prompts exceeds the maximum allowed batch size of {limit}",
                      param="prompt")  # fmt: skip
    options: dict[str, Any] = {
        "max_new_tokens": _max_tokens(call, request.max_tokens, "max_tokens"), "temperature": request.temperature,
        "top_p": request.top_p, "stop": _stop(call, request.stop), "seed": request.seed,
    }  # fmt: skip
    head = _head(call.ctx, "cmpl", "text_completion")
    prompt_tokens = sum(_approximate_tokens(prompt) for prompt in prompts)
    if request.stream:
        include_usage = request.stream_options is not None and request.stream_options.include_usage
        streams_ = [call.ctx.backend.astream_text_generation(prompt, **options) for prompt in prompts]
        head_chunk = await first(streams_[0])  # a failure before the first token is an HTTP error
        events = _completion_events(call, head, streams_, head_chunk, include_usage, prompt_tokens)
        return sse(events, *streams_)
    if call.fault is not None:
        raise Refusal("internal", "injected error")
    results = [await call.ctx.backend.atext_generation(prompt, **options) for prompt in prompts]
    choices = [{"index": i, "text": r.generated_text, "logprobs": None, "finish_reason": _finish(r.finish_reason)}
               for i, r in enumerate(results)]  # fmt: skip
    completion = sum(r.generated_tokens or len(r.tokens) for r in results)
    return JSONBody({**head, "choices": choices, "usage": _usage(prompt_tokens, completion)})


def _prompts(value: Any) -> list[str]:
    prompts = texts_of(value, "prompt")
    if not prompts:
        raise Refusal("empty", "`prompt` cannot be empty", param="prompt")
    return prompts


def _approximate_tokens(text: str) -> int:
    # The backend interface exposes no tokenizer: usage counts words, about 3/4 of a BPE token count.
    return len(text.split())


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


async def _completion_events(call: Call, head: dict[str, Any], streams_: list[AsyncIterator[TextGenerationChunk]],
                             chunk: TextGenerationChunk | None, include_usage: bool,
                             prompt_tokens: int) -> AsyncIterator[bytes]:  # fmt: skip
    generated = 0
    try:
        for index, stream in enumerate(streams_):
            if index > 0:
                chunk = await first(stream)
            while chunk is not None:
                if call.fault is not None and generated >= call.fault.after_chunks:
                    yield openai_event({"error": "Request failed during generation", "error_type": "generation"})
                    return
                done = chunk.generated_text is not None or chunk.finish_reason is not None
                generated += 1
                choice = {"index": index, "text": chunk.token.text, "logprobs": None,
                          "finish_reason": _finish(chunk.finish_reason) if done else None}  # fmt: skip
                yield openai_event({**head, "choices": [choice]})
                chunk = await first(stream)
    except Exception as exc:  # after the 200 went out, a failure travels as an error event
        yield openai_event({"error": refusal_from(exc).message, "error_type": "generation"})
        return
    if include_usage:
        yield openai_event({**head, "choices": [], "usage": _usage(prompt_tokens, generated)})
    yield DONE


# ------------------------------------------------------------------------------------------------------- embeddings
async def embeddings(call: Call) -> Response:
    request = parse(EmbeddingsRequest, call.body)
    inputs = embedding_inputs(request.input)
    texts = await embedding_texts(call, inputs, "input")
    vectors = await call.ctx.backend.afeature_extraction(texts)
    if request.dimensions is not None and vectors and request.dimensions != len(vectors[0]):
        raise Refusal("validation", f"dimensions={request.dimensions} is not supported: the model returns "
                      f"{len(vectors[0])} dimensions", param="dimensions")  # fmt: skip
    encode = _base64 if request.encoding_format == "base64" else list
    data = [{"object": "embedding", "index": i, "embedding": encode(vector)} for i, vector in enumerate(vectors)]
    tokens = sum(_approximate_tokens(item) if isinstance(item, str) else len(item) for item in inputs)
    return JSONBody({"object": "list", "data": data, "model": call.ctx.models.model_for("feature-extraction"),
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})  # fmt: skip


def _base64(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
