"""OpenAI-compatible routes: ``GET /v1/models``, ``POST /v1/embeddings``, ``POST /v1/completions``.

Shapes follow the ``openai`` SDK's types (``CreateEmbeddingResponse``, ``Completion``, ``Model``) and what TEI and
TGI serve on the same paths. What the backend cannot do is refused with a 422 naming the field (``n`` > 1, ``echo``,
``logprobs``, ``suffix``, ``best_of`` > 1, token-id inputs), never silently ignored. Errors use the OpenAI shape
(``errors.py``).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
import orjson
from pydantic import Field
from starlette.responses import Response, StreamingResponse

from ..backends.base import GenerationOptions
from ..types import TextGeneration, TextGenerationChunk
from .context import ServerContext
from .errors import JSONBody, Refusal, refusal_from
from .validation import RequestModel, parse

__all__ = ["CompletionRequest", "EmbeddingsRequest", "completions", "embeddings", "list_models"]

TokenIds = list[int] | list[list[int]]


class EmbeddingsRequest(RequestModel):
    input: str | list[str] | TokenIds
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class StreamOptions(RequestModel):
    include_usage: bool = False


class CompletionRequest(RequestModel):
    prompt: str | list[str] | TokenIds
    model: str | None = None
    max_tokens: int | None = Field(default=16, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None
    user: str | None = None


def list_models(ctx: ServerContext) -> Response:
    """``GET /v1/models``: every model the server serves."""
    data = [{"id": model, "object": "model", "created": 0, "owned_by": "hfbridge"} for model in ctx.model_ids]
    return JSONBody({"object": "list", "data": data})


async def embeddings(ctx: ServerContext, body: Any) -> Response:
    request = parse(EmbeddingsRequest, body)
    texts = _texts(request.input, "input")
    if ctx.max_batch_size is not None and len(texts) > ctx.max_batch_size:
        raise Refusal("too_large", f"batch size {len(texts)} > maximum allowed batch size {ctx.max_batch_size}",
                      param="input")  # fmt: skip
    vectors = await ctx.backend.afeature_extraction(texts)
    if request.dimensions is not None and vectors and request.dimensions != len(vectors[0]):
        raise Refusal("validation", f"dimensions={request.dimensions} is not supported: the model returns "
                      f"{len(vectors[0])} dimensions", param="dimensions")  # fmt: skip
    encode = _base64 if request.encoding_format == "base64" else list
    data = [{"object": "embedding", "index": i, "embedding": encode(vector)} for i, vector in enumerate(vectors)]
    tokens = sum(_approximate_tokens(text) for text in texts)
    return JSONBody({"object": "list", "data": data, "model": ctx.model_for("feature-extraction"),
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})  # fmt: skip


async def completions(ctx: ServerContext, body: Any) -> Response:
    request = parse(CompletionRequest, body)
    _refuse_unsupported(request)
    prompts = _texts(request.prompt, "prompt")
    if ctx.max_batch_size is not None and len(prompts) > ctx.max_batch_size:
        raise Refusal("validation", f"Number of prompts exceeds the maximum allowed batch size of "
                      f"{ctx.max_batch_size}", param="prompt")  # fmt: skip
    options: GenerationOptions = {
        "max_new_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p,
        "stop": [request.stop] if isinstance(request.stop, str) else request.stop, "seed": request.seed,
    }  # fmt: skip
    head = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
            "model": ctx.model_id, "system_fingerprint": "hfbridge"}  # fmt: skip
    if request.stream:
        include_usage = request.stream_options is not None and request.stream_options.include_usage
        streams = [ctx.backend.astream_text_generation(prompt, **options) for prompt in prompts]
        first = await _first(streams[0])  # a failure before the first token is an HTTP error, not a broken stream
        prompt_tokens = sum(_approximate_tokens(prompt) for prompt in prompts)
        return StreamingResponse(_completion_events(head, streams, first, include_usage, prompt_tokens),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})  # fmt: skip
    results: list[TextGeneration] = [await ctx.backend.atext_generation(prompt, **options) for prompt in prompts]
    choices = [{"index": i, "text": r.generated_text, "logprobs": None, "finish_reason": _finish(r.finish_reason)}
               for i, r in enumerate(results)]  # fmt: skip
    completion = sum(r.generated_tokens or len(r.tokens) for r in results)
    prompt_tokens = sum(r.prompt_tokens or _approximate_tokens(p) for r, p in zip(results, prompts, strict=True))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
             "total_tokens": prompt_tokens + completion}  # fmt: skip
    return JSONBody({**head, "choices": choices, "usage": usage})


def _refuse_unsupported(request: CompletionRequest) -> None:
    refused = {
        "n": request.n > 1, "echo": request.echo, "logprobs": request.logprobs is not None,
        "suffix": request.suffix is not None, "best_of": (request.best_of or 1) > 1,
    }  # fmt: skip
    for field_name, present in refused.items():
        if present:
            raise Refusal("validation", f"{field_name}={getattr(request, field_name)!r} is not supported by this "
                          "server", param=field_name)  # fmt: skip


def _texts(value: Any, field_name: str) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    if not texts:
        raise Refusal("empty", f"`{field_name}` cannot be empty", param=field_name)
    if not all(isinstance(text, str) for text in texts):
        raise Refusal("validation", f"`{field_name}` as token ids is not supported: send text (with LangChain's "
                      "OpenAIEmbeddings, set check_embedding_ctx_length=False)", param=field_name)  # fmt: skip
    return texts


def _base64(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _approximate_tokens(text: str) -> int:
    # The backend interface exposes no tokenizer: usage counts words, about 3/4 of a BPE token count.
    return len(text.split())


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


async def _first(stream: AsyncIterator[TextGenerationChunk]) -> TextGenerationChunk | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


async def _completion_events(head: dict[str, Any], streams: list[AsyncIterator[TextGenerationChunk]],
                             first: TextGenerationChunk | None, include_usage: bool,
                             prompt_tokens: int) -> AsyncIterator[bytes]:  # fmt: skip
    generated = 0
    try:
        for index, stream in enumerate(streams):
            chunk = first if index == 0 else await _first(stream)
            while chunk is not None:
                done = chunk.generated_text is not None or chunk.finish_reason is not None
                generated += 1
                choice = {"index": index, "text": chunk.token.text, "logprobs": None,
                          "finish_reason": _finish(chunk.finish_reason) if done else None}  # fmt: skip
                yield _event({**head, "choices": [choice]})
                chunk = await _first(stream)
    except Exception as exc:  # after the 200 went out, a failure travels as an error event
        refusal = refusal_from(exc)
        yield _event({"error": {"message": refusal.message, "type": "server_error", "param": None, "code": None}})
        return
    if include_usage:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                 "total_tokens": prompt_tokens + generated}  # fmt: skip
        yield _event({**head, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
