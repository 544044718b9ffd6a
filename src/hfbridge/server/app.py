"""An ASGI app that serves any backend over the routes real Hugging Face deployments use.

Routes (the real ``InferenceClient`` works against them unchanged):

* TGI: ``POST /generate``, ``POST /generate_stream`` (``data:{json}`` events, no ``[DONE]``), ``GET /info``,
  ``GET /health``; ``POST /`` with a text-generation body answers list-wrapped, as TGI does.
* OpenAI chat: ``POST /v1/chat/completions`` (and ``/models/{id}/v1/chat/completions``), streaming ends with
  ``data: [DONE]``.
* TEI: ``POST /embed``, ``/predict``, ``/rerank``, ``/similarity``.
* hf-inference: ``POST /models/{model_id}`` and ``/models/{model_id}/pipeline/{task}``.
* ``POST /`` and ``POST /models/{model_id}`` serve every task, dispatched on the body as the client sends it:
  ``inputs.source_sentence`` → similarity; ``candidate_labels`` → zero-shot; ``aggregation_strategy`` → NER;
  ``stream`` / ``details`` / ``max_new_tokens`` → text generation; ``Accept: image/png`` → text-to-image;
  ``parameters`` (other) → text classification; anything else (``inputs`` alone, TEI keys) → embeddings.
  ``default_task`` replaces the last rule (as a TEI or TGI container serves one task on ``/``).
* Control: ``GET|PUT|DELETE /_hfbridge/faults`` reads, sets or clears the :class:`FaultPlan`.

Errors come back as ``{"error": ..., "error_type": ...}`` with the status the backend's typed error implies.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import errors
from ..backends.base import Backend
from ..ratelimit import RateLimit
from ..types import ChatCompletionChunk, TextGenerationChunk
from .endpoints import EmulatedEndpoint, EndpointRegistry
from .faults import Fault, FaultPlan

logger = logging.getLogger("hfbridge.server")

__all__ = ["create_app"]

_TASK_ALIASES = {
    "feature-extraction": "embed",
    "sentence-similarity": "similarity",
    "text-classification": "classify",
    "zero-shot-classification": "zero_shot",
    "token-classification": "ner",
    "text-generation": "generate",
    "text-to-image": "image",
}
#: The tasks served on ``/`` and ``/models/{id}`` (``default_task`` must be one, or an alias above).
_TASKS = ("embed", "classify", "zero_shot", "ner", "similarity", "image", "rerank", "generate")
_ENDPOINT_FIELDS = {"status", "startup_fetches", "wake_requests", "task", "repository"}
_ERROR_TYPES = {400: "validation", 422: "validation", 424: "generation", 429: "overloaded", 503: "unavailable"}


class _JSON(JSONResponse):
    """JSON with orjson: embedding responses are megabytes of floats."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _error(status: int, message: str, error_type: str | None = None, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:  # fmt: skip
    """An HF-style error body: ``{"error": ..., "error_type": ...}`` plus ``extra`` (e.g. ``estimated_time``)."""
    body = {"error": message, "error_type": error_type or _ERROR_TYPES.get(status, "error"), **extra}
    return _JSON(body, status_code=status, headers=headers)


def _from_exception(exc: Exception) -> JSONResponse:
    if isinstance(exc, errors.InvalidInputError | errors.ConfigurationError):
        return _error(422, str(exc), "validation")
    if isinstance(exc, errors.UnsupportedTaskError):  # 501 Not Implemented: clients map it by status alone
        return _error(501, str(exc), "unsupported")
    if isinstance(exc, errors.APIError):
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after + 0.999))
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.ModelLoadingError) and exc.estimated_time is not None:
            extra["estimated_time"] = exc.estimated_time
        return _error(exc.status_code or 500, exc.server_message or exc.message, headers=headers, **extra)
    if isinstance(exc, errors.InferenceTimeoutError):
        return _error(504, str(exc), "timeout")
    if isinstance(exc, errors.BackendUnavailableError):
        return _error(502, str(exc), "unavailable")
    logger.exception("hfbridge server: unexpected error")
    return _error(500, f"internal error: {type(exc).__name__}", "unknown")


class _Faults:
    def __init__(self, plan: FaultPlan | None) -> None:
        self.plan = plan

    async def before(self, request: Request) -> tuple[Response | None, Fault | None]:
        """Apply the fault for this request: a response to send instead, or a fault the handler must act on."""
        if self.plan is None or not self.plan.applies_to(request.url.path):
            return None, None
        fault = self.plan.next_fault()
        if fault is None:
            return None, None
        if fault.kind == "rate_limited":
            headers = {"Retry-After": _seconds(fault.retry_after)} if fault.retry_after is not None else {}
            return _error(429, fault.message or "Rate limit reached. Please slow down.", "overloaded", headers), None
        if fault.kind == "loading":
            estimated = fault.estimated_time if fault.estimated_time is not None else 1.0
            return _error(503, fault.message or "Model is currently loading", "unavailable",
                          estimated_time=estimated), None  # fmt: skip
        if fault.kind == "server_error":
            return _error(fault.status, fault.message or "Internal server error", "unknown"), None
        if fault.kind == "status":
            return _error(fault.status, fault.message or f"injected HTTP {fault.status}"), None
        if fault.kind == "stall":
            # Hold the request, but let go as soon as the client gives up (as a real stuck upstream would not,
            # yet nothing is gained by keeping a task per abandoned request until shutdown).
            deadline = time.monotonic() + fault.stall_seconds
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    return Response(status_code=499), None
                await asyncio.sleep(0.05)
            return None, None
        if fault.kind == "drop":
            return _Dropped(), None
        return None, fault  # midstream_error: the handler decides where it lands


def _seconds(value: float | None) -> str:
    # Retry-After is an integer in HTTP; keep fractions so tests can use short waits.
    if value is None:
        return "1"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _QuietDrops(logging.Filter):
    """Injected drops are not server errors: keep uvicorn from logging a traceback for each one."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, ConnectionAbortedError) and "fault injection" in str(error))


_quiet_drops = _QuietDrops()


class _Dropped(Response):
    """Announce a body, send part of it, then break the connection: what a crashed proxy looks like."""

    def __init__(self) -> None:
        super().__init__(content=b"", status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise ConnectionAbortedError("hfbridge fault injection: connection dropped")


def _sse(payloads: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(payloads, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def create_app(
    backend: Backend,
    *,
    fault_plan: FaultPlan | None = None,
    default_task: str = "embed",
    model_id: str | None = None,
    latency: float = 0.0,
    max_concurrency: int | None = None,
    max_batch_size: int | None = None,
    rate_limit: RateLimit | None = None,
) -> Starlette:
    """Serve ``backend`` over the Hugging Face wire protocol. ``app.state.faults.plan`` holds the fault plan.

    Deployment-like limits, for benchmarks and tests: ``latency`` seconds added to each task request (model time
    of a real server), ``max_concurrency`` requests processed at once (others queue, like a server's workers),
    ``max_batch_size`` texts per embedding request (TEI's ``max_client_batch_size``; more gets 413), and
    ``rate_limit`` answered with 429 + ``Retry-After`` when exceeded (as Inference Providers do).
    """
    faults = _Faults(fault_plan)
    capacity = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    server_limit = _ServerRateLimit(rate_limit) if rate_limit is not None else None
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _quiet_drops not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_quiet_drops)
    served_model = model_id or backend.model_id
    default = _TASK_ALIASES.get(default_task, default_task)
    if default not in _TASKS:
        known = ", ".join(sorted({*_TASKS, *_TASK_ALIASES}))
        raise errors.ConfigurationError(f"unknown default_task {default_task!r}; known tasks: {known}")

    def endpoint(handler: Callable[[Request, dict[str, Any], Fault | None], Awaitable[Response]]):  # type: ignore[no-untyped-def]
        async def run(request: Request) -> Response:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "request body is not valid JSON", "validation")
            if not isinstance(body, dict):
                return _error(422, "request body must be a JSON object", "validation")
            if server_limit is not None:
                refused = server_limit.check()
                if refused is not None:
                    return refused
            replacement, fault = await faults.before(request)
            if replacement is not None:
                return replacement
            if max_batch_size is not None:
                inputs = body.get("inputs")
                if isinstance(inputs, list) and len(inputs) > max_batch_size:
                    return _error(413, f"batch size {len(inputs)} > maximum allowed batch size {max_batch_size}",
                                  "validation")  # fmt: skip
            try:
                if capacity is None:
                    return await _timed(handler(request, body, fault), latency)
                async with capacity:
                    return await _timed(handler(request, body, fault), latency)
            except Exception as exc:  # every failure becomes an HF-style error body
                return _from_exception(exc)

        return run

    # ------------------------------------------------------------------------------------------ chat
    async def chat(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        messages = _get(body, "messages")
        kwargs = {
            key: body.get(key)
            for key in ("tools", "tool_choice", "response_format", "max_tokens", "temperature", "top_p", "stop", "seed")
        }
        if kwargs["max_tokens"] is None and _get(body, "max_completion_tokens") is not None:
            kwargs["max_tokens"] = body["max_completion_tokens"]
        requested_model = _get(body, "model")
        name = requested_model if requested_model not in (None, "dummy", "tgi") else served_model
        if not _get(body, "stream"):
            if fault is not None:
                return _error(500, "injected error", "generation")
            result = await backend.achat_completion(messages, **kwargs)
            return JSONResponse(_chat_json(result, name))
        include_usage = bool((_get(body, "stream_options") or {}).get("include_usage"))
        stream = backend.astream_chat_completion(messages, **kwargs)
        first = await _first(stream)  # errors before the first chunk become a proper HTTP error status
        return _sse(_chat_events(first, stream, name, include_usage, fault))

    # ------------------------------------------------------------------------------------ generation
    async def generate(request: Request, body: dict[str, Any], fault: Fault | None, wrap: bool = False) -> Response:
        params = _get(body, "parameters") or {}
        kwargs = _generation_kwargs(params)
        if _get(body, "stream"):
            return await generate_stream(request, body, fault)
        if fault is not None:
            return _error(500, "injected error", "generation")
        result = await backend.atext_generation(_get(body, "inputs"), **kwargs)
        payload = {
            "generated_text": result.generated_text,
            "details": {
                "finish_reason": result.finish_reason or "length",
                "generated_tokens": result.generated_tokens or len(result.tokens),
                "seed": params.get("seed"),
                "prefill": [],
                "tokens": [token.model_dump() for token in result.tokens],
            },
        }
        if not params.get("details"):
            payload.pop("details")
        return JSONResponse([payload] if wrap else payload)

    async def generate_stream(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        kwargs = _generation_kwargs(_get(body, "parameters") or {})
        stream = backend.astream_text_generation(_get(body, "inputs"), **kwargs)
        first = await _first(stream)
        return _sse(_generation_events(first, stream, fault))

    # ------------------------------------------------------------------------------------ other tasks
    async def embed(body: dict[str, Any]) -> Response:
        inputs = _get(body, "inputs")
        texts = [inputs] if isinstance(inputs, str) else inputs
        options = {key: _get(body, key) for key in ("normalize", "truncate", "prompt_name")}
        vectors = await backend.afeature_extraction(texts, **options)
        return _JSON(vectors)

    async def classify(body: dict[str, Any]) -> Response:
        inputs = _get(body, "inputs")
        top_k = (_get(body, "parameters") or {}).get("top_k")
        if isinstance(inputs, list):
            results = [await backend.atext_classification(text, top_k=top_k) for text in inputs]
            return JSONResponse([[label.model_dump() for label in result] for result in results])
        result = await backend.atext_classification(inputs, top_k=top_k)
        return JSONResponse([[label.model_dump() for label in result]])

    async def zero_shot(body: dict[str, Any]) -> Response:
        params = _get(body, "parameters") or {}
        result = await backend.azero_shot_classification(
            _get(body, "inputs"),
            _get(params, "candidate_labels"),
            multi_label=bool(params.get("multi_label", False)),
            hypothesis_template=params.get("hypothesis_template"),
        )
        return JSONResponse([label.model_dump() for label in result])

    async def ner(body: dict[str, Any]) -> Response:
        result = await backend.atoken_classification(_get(body, "inputs"))
        return JSONResponse([entity.model_dump() for entity in result])

    async def similarity(body: dict[str, Any]) -> Response:
        inputs = _get(body, "inputs") or {}
        if not isinstance(inputs, dict):
            return _error(422, "inputs must be {source_sentence, sentences}", "validation")
        scores = await backend.asentence_similarity(_get(inputs, "source_sentence"), _get(inputs, "sentences"))
        return JSONResponse(scores)

    async def image(body: dict[str, Any]) -> Response:
        params = dict(_get(body, "parameters") or {})
        known = {"negative_prompt", "width", "height", "num_inference_steps", "guidance_scale", "seed"}
        extra = {key: value for key, value in params.items() if key not in known}
        options = {key: value for key, value in params.items() if key in known}
        picture = await backend.atext_to_image(_get(body, "inputs"), extra=extra, **options)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    async def rerank(body: dict[str, Any]) -> Response:
        texts = _get(body, "texts")
        scores = await backend.asentence_similarity(_get(body, "query"), texts)
        ranked = sorted(enumerate(scores), key=lambda pair: pair[1], reverse=True)
        results = [{"index": index, "score": score} for index, score in ranked]
        if _get(body, "return_text"):
            for item in results:
                item["text"] = texts[item["index"]]
        return JSONResponse(results)

    tasks: dict[str, Callable[[dict[str, Any]], Awaitable[Response]]] = {
        "embed": embed, "classify": classify, "zero_shot": zero_shot, "ner": ner, "similarity": similarity,
        "image": image, "rerank": rerank,
    }  # fmt: skip

    async def dispatch(request: Request, body: dict[str, Any], fault: Fault | None, task: str | None,
                       wrap_generation: bool) -> Response:  # fmt: skip
        task = task or _detect_task(request, body, default)
        if task == "generate":
            return await generate(request, body, fault, wrap=wrap_generation)
        if task not in tasks:
            return _error(404, f"unknown task {task!r}", "validation")
        if fault is not None:
            return _error(500, "injected error", "unknown")
        return await tasks[task](body)

    async def root(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        return await dispatch(request, body, fault, None, wrap_generation=True)

    async def model_route(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        task = request.path_params.get("task")
        return await dispatch(request, body, fault, _TASK_ALIASES.get(task, task) if task else None, False)

    def fixed(task: str) -> Callable[[Request, dict[str, Any], Fault | None], Awaitable[Response]]:
        async def run(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
            return await dispatch(request, body, fault, task, wrap_generation=False)

        return run

    # ---------------------------------------------------------------------------------------- control
    async def info(request: Request) -> Response:
        return JSONResponse({
            "model_id": served_model, "model_dtype": "float32", "model_device_type": "cpu",
            "max_concurrent_requests": 128, "max_input_tokens": 2048, "max_total_tokens": 4096,
            "max_best_of": 1, "max_stop_sequences": 4, "validation_workers": 1,
            "version": "hfbridge", "router": "hfbridge", "backend": backend.name,
        })  # fmt: skip

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def fault_control(request: Request) -> Response:
        if request.method == "DELETE":
            faults.plan = None
        elif request.method == "PUT":
            try:
                faults.plan = FaultPlan.from_dict(await request.json())
            except (ValueError, TypeError) as exc:
                return _error(422, f"invalid fault plan: {exc}", "validation")
        plan = faults.plan
        refusals = server_limit.refused if server_limit is not None else 0
        return JSONResponse({"active": plan is not None, "stats": dict(plan.stats) if plan else {},
                             "rate_limit_refusals": refusals})  # fmt: skip

    endpoints = EndpointRegistry()

    async def endpoint_api(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        action = request.path_params.get("action")
        if action == "resume":
            current = endpoints.fetch(namespace, name)
            if current is not None and current.status == "running":
                return _error(400, f"Endpoint {name} is already running", "validation")
            found = endpoints.resume(namespace, name)
        elif action == "scale-to-zero":
            found = endpoints.scale_to_zero(namespace, name)
        else:
            found = endpoints.fetch(namespace, name)
        if found is None:
            return _error(404, f"Endpoint {namespace}/{name} not found", "not_found")
        return JSONResponse(found.raw(str(request.base_url)))

    async def endpoint_control(request: Request) -> Response:
        body = await request.json()
        endpoints.put(EmulatedEndpoint(name=request.path_params["name"], namespace=request.path_params["namespace"],
                                       **{k: v for k, v in body.items() if k in _ENDPOINT_FIELDS}))  # fmt: skip
        return JSONResponse({"ok": True})

    async def endpoint_task(request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        state = endpoints.serve_request(request.path_params["name"])
        if state == "waking":  # what a scaled-to-zero endpoint answers while it starts: a bare 503
            return _error(503, "Service Unavailable", "unavailable")
        if state != "ok":
            return _error(404, "endpoint not found or not running", "not_found")
        if request.url.path.endswith("/chat/completions"):
            return await chat(request, body, fault)
        return await dispatch(request, body, fault, None, wrap_generation=True)

    model_mappings: dict[str, Any] = {}

    async def model_api(request: Request) -> Response:
        """The Hub's model API, reduced to what provider routing reads: ``inferenceProviderMapping``."""
        model = request.path_params["model_id"]
        if model not in model_mappings:
            return _error(404, f"Repository {model} not found", "not_found")
        return JSONResponse({"id": model, "modelId": model, "inferenceProviderMapping": model_mappings[model]})

    async def model_control(request: Request) -> Response:
        model_mappings[request.path_params["model_id"]] = await request.json()
        return JSONResponse({"ok": True})

    routes = [
        Route("/", endpoint(root), methods=["POST"]),
        Route("/api/models/{model_id:path}", model_api, methods=["GET"]),
        Route("/_hfbridge/models/{model_id:path}", model_control, methods=["PUT"]),
        Route("/v2/endpoint/{namespace}/{name}", endpoint_api, methods=["GET"]),
        Route("/v2/endpoint/{namespace}/{name}/{action}", endpoint_api, methods=["POST"]),
        Route("/_hfbridge/endpoints/{namespace}/{name}", endpoint_control, methods=["PUT"]),
        Route("/endpoints/{name}", endpoint(endpoint_task), methods=["POST"]),
        Route("/endpoints/{name}/v1/chat/completions", endpoint(endpoint_task), methods=["POST"]),
        Route("/endpoints/{name}/health", health, methods=["GET"]),
        Route("/generate", endpoint(fixed("generate")), methods=["POST"]),
        Route("/generate_stream", endpoint(generate_stream), methods=["POST"]),
        Route("/v1/chat/completions", endpoint(chat), methods=["POST"]),
        Route("/chat/completions", endpoint(chat), methods=["POST"]),
        Route("/embed", endpoint(fixed("embed")), methods=["POST"]),
        Route("/predict", endpoint(fixed("classify")), methods=["POST"]),
        Route("/rerank", endpoint(fixed("rerank")), methods=["POST"]),
        Route("/similarity", endpoint(fixed("similarity")), methods=["POST"]),
        Route("/models/{model_id:path}/v1/chat/completions", endpoint(chat), methods=["POST"]),
        Route("/models/{model_id:path}/pipeline/{task}", endpoint(model_route), methods=["POST"]),
        Route("/models/{model_id:path}", endpoint(model_route), methods=["POST"]),
        Route("/info", info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/_hfbridge/faults", fault_control, methods=["GET", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.faults = faults
    app.state.backend = backend
    app.state.rate_limit = server_limit
    app.state.endpoints = endpoints
    return app


async def _timed(response: Awaitable[Response], latency: float) -> Response:
    if latency > 0:
        await asyncio.sleep(latency)
    return await response


class _ServerRateLimit:
    """Refuse requests beyond the limit with 429 and the Retry-After a client should honour."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.refused = 0

    def check(self) -> Response | None:
        wait = self.limit.try_take()
        if wait <= 0:
            return None
        self.refused += 1
        return _error(429, "Rate limit reached. Please retry later.", "overloaded",
                      headers={"Retry-After": f"{wait:.3f}"})  # fmt: skip


def _get(body: dict[str, Any], key: str) -> Any:
    """A field of a request body, unchecked: the backend validates it and answers 422 if it is wrong."""
    return body.get(key)


def _detect_task(request: Request, body: dict[str, Any], default: str) -> str:
    inputs = _get(body, "inputs")
    params = _get(body, "parameters")
    if isinstance(inputs, dict) and "source_sentence" in inputs:
        return "similarity"
    if "image/png" in request.headers.get("accept", "") or "image/" in request.headers.get("accept", ""):
        return "image"
    if isinstance(params, dict):
        if "candidate_labels" in params:
            return "zero_shot"
        if "aggregation_strategy" in params or "ignore_labels" in params:
            return "ner"
        if "stream" in body or {"details", "max_new_tokens", "stop", "temperature", "seed", "top_p"} & set(params):
            return "generate"
        return "classify"
    if "stream" in body:
        return "generate"
    if isinstance(inputs, list) or {"normalize", "truncate", "prompt_name", "truncation_direction"} & set(body):
        return "embed"
    return default


def _generation_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_new_tokens": params.get("max_new_tokens"),
        "temperature": params.get("temperature"),
        "top_p": params.get("top_p"),
        "stop": params.get("stop") or None,
        "seed": params.get("seed"),
    }


async def _first(stream: AsyncIterator[Any]) -> Any:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


def _chat_chunk_json(chunk: ChatCompletionChunk, chunk_id: str, name: str, created: int) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant", "content": chunk.content or None}
    if chunk.tool_calls:
        delta["tool_calls"] = [
            {
                "index": call.index,
                **({"id": call.id, "type": "function"} if call.id else {}),
                "function": {**({"name": call.name} if call.name else {}), "arguments": call.arguments},
            }
            for call in chunk.tool_calls
        ]
    return {
        "id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": name,
        "system_fingerprint": "hfbridge",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": chunk.finish_reason}],
    }  # fmt: skip


async def _chat_events(first: ChatCompletionChunk | None, stream: AsyncIterator[ChatCompletionChunk], name: str,
                       include_usage: bool, fault: Fault | None) -> AsyncIterator[str]:  # fmt: skip
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    usage = None
    sent = 0
    try:
        chunk = first
        while chunk is not None:
            if fault is not None and sent >= fault.after_chunks:
                yield _event({"error": "injected mid-stream failure", "error_type": "generation"}, space=True)
                return
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.content or chunk.tool_calls or chunk.finish_reason:
                yield _event(_chat_chunk_json(chunk, chunk_id, name, created), space=True)
                sent += 1
            chunk = await _first(stream)
    except Exception as exc:  # after the 200 went out, errors travel as an error event, like TGI
        yield _event({"error": str(exc), "error_type": "generation"}, space=True)
        return
    if include_usage and usage is not None:
        yield _event({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": name,
                      "choices": [], "usage": usage.model_dump()}, space=True)  # fmt: skip
    yield "data: [DONE]\n\n"


async def _generation_events(first: TextGenerationChunk | None, stream: AsyncIterator[TextGenerationChunk],
                             fault: Fault | None) -> AsyncIterator[str]:  # fmt: skip
    index = 0
    try:
        chunk = first
        while chunk is not None:
            if fault is not None and index >= fault.after_chunks:
                yield _event({"error": "injected mid-stream failure", "error_type": "generation"})
                return
            index += 1
            details = None
            if chunk.generated_text is not None:
                details = {"finish_reason": chunk.finish_reason or "length",
                           "generated_tokens": chunk.generated_tokens or index, "seed": None}  # fmt: skip
            yield _event({"index": index, "token": chunk.token.model_dump(), "top_tokens": None,
                          "generated_text": chunk.generated_text, "details": details})  # fmt: skip
            chunk = await _first(stream)
    except Exception as exc:
        yield _event({"error": str(exc), "error_type": "generation"})


def _event(payload: dict[str, Any], space: bool = False) -> str:
    # TGI's /generate_stream writes "data:{json}"; OpenAI chat streams write "data: {json}".
    return ("data: " if space else "data:") + json.dumps(payload) + "\n\n"


def _chat_json(result: Any, name: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.message.content}
    if result.message.tool_calls:
        message["tool_calls"] = [call.to_openai() for call in result.message.tool_calls]
    usage = result.usage.model_dump() if result.usage is not None else None
    return {
        "id": result.id or f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
        "created": int(time.time()), "model": name, "system_fingerprint": "hfbridge",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}],
        "usage": usage,
    }  # fmt: skip
