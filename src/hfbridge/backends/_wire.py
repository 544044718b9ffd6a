"""The fence around huggingface_hub's internals: the only module that touches them, checked at import.

``InferenceClient`` turns every JSON answer into its generated dataclasses. Measured on the benchmark machine that
costs 67 µs per chat answer, 56 µs per streamed chat chunk and 3 ms per batch of 32 embeddings (stdlib ``json``
then ``np.array``): more than all of hfbridge's own code and, for embeddings, enough to make a 2-core client
CPU-bound at 80% of a server's capacity. So for chat, chat streams and embeddings this module keeps everything
about the request in huggingface_hub — the provider helper builds URL, route, auth headers and payload, the
client's ``_inner_post`` sends it with its timeout and HTTP-error mapping — and decodes the body with orjson.

Those are private: ``InferenceClient._inner_post``, ``get_provider_helper`` and the helpers' ``prepare_request`` /
``get_response``, ``_parse_text_generation_error``, ``_providers.PROVIDERS``, and an ``InferenceEndpoint``'s
``_token``. At import this module checks that each exists with the shape this code was written against
(huggingface_hub 2.4); if one does not, :data:`FAST_PATH` is false and every call goes through the client's
public methods instead (``chat_completion``, ``feature_extraction``), whose dataclass answers ``hub`` parsing
also reads. A huggingface_hub release that moves an internal then costs speed, never correctness. Setting
``HFBRIDGE_HUB_INTERNALS=0`` forces the public path; the test suite runs the contract tests through both.

Every function takes an ``InferenceClient`` or an ``AsyncInferenceClient`` and returns the answer, or with the
async client an awaitable of it, as the clients' own methods do.

**The deadline of sync requests** (:func:`bound`). A sync client's ``_inner_post`` reads a body with one
``response.read()`` and a stream line by line, each read bounded by the client's ``timeout`` only: a body trickled
a few bytes at a time, or a stream of ``: ping`` comments, never ends. :func:`bound` gives one client an
``_inner_post`` of its own that does what the client's does (same session, route, headers, status errors) but
reads the body chunk by chunk and the stream line by line, stopping at the request's deadline
(:mod:`hfbridge._deadline`), with every read's timeout shortened to the time left. Async requests need none of
this: the retry loop cancels them at the deadline.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from huggingface_hub import AsyncInferenceClient, InferenceClient

from .. import _deadline
from ..errors import APIError

__all__ = [
    "FAST_PATH", "UNAVAILABLE", "bound", "chat", "chat_stream", "embed", "post", "endpoint_token", "known_providers",
    "raised_reading_answer", "answer_error_message", "error_message", "not_an_image",
]  # fmt: skip

logger = logging.getLogger("hfbridge")

Client = InferenceClient | AsyncInferenceClient


def _has_parameters(function: Any, *names: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return all(name in parameters for name in names)


def _check() -> tuple[dict[str, Any], str | None]:
    """The internals, or the first one missing or changed (then the public path is used)."""
    try:
        from huggingface_hub.inference._common import (
            TASKS_EXPECTING_IMAGES,
            RequestParameters,
            _parse_text_generation_error,
        )
        from huggingface_hub.inference._providers import PROVIDERS, TaskProviderHelper, get_provider_helper
        from huggingface_hub.utils import get_session, hf_raise_for_status
    except ImportError as exc:
        return {}, f"import failed: {exc}"
    checks = {
        "InferenceClient._inner_post(request_parameters, stream)": _has_parameters(
            getattr(InferenceClient, "_inner_post", None), "request_parameters", "stream"
        ),
        "AsyncInferenceClient._inner_post(request_parameters, stream)": _has_parameters(
            getattr(AsyncInferenceClient, "_inner_post", None), "request_parameters", "stream"
        ),
        "get_provider_helper(provider, task, model)": _has_parameters(get_provider_helper, "provider", "task", "model"),
        "TaskProviderHelper.prepare_request(inputs, parameters, headers, model, api_key)": _has_parameters(
            getattr(TaskProviderHelper, "prepare_request", None), "inputs", "parameters", "headers", "model", "api_key"
        ),
        "TaskProviderHelper.get_response(response)": _has_parameters(
            getattr(TaskProviderHelper, "get_response", None), "response"
        ),
        "_parse_text_generation_error(error, error_type)": _has_parameters(_parse_text_generation_error, "error"),
        "RequestParameters": isinstance(RequestParameters, type),
        "TASKS_EXPECTING_IMAGES": isinstance(TASKS_EXPECTING_IMAGES, (list, tuple, set, frozenset)),
        "InferenceClient(timeout, cookies)": _has_parameters(InferenceClient.__init__, "timeout", "cookies"),
        "PROVIDERS, a mapping of provider names": isinstance(PROVIDERS, Mapping)
        and all(isinstance(name, str) for name in PROVIDERS),
    }
    for name, ok in checks.items():
        if not ok:
            return {}, f"{name} not found in this huggingface_hub"
    return {
        "get_provider_helper": get_provider_helper,
        "parse_error": _parse_text_generation_error,
        "providers": PROVIDERS,
        "images": TASKS_EXPECTING_IMAGES,
        "session": get_session,
        "raise_for_status": hf_raise_for_status,
    }, None


_INTERNALS, UNAVAILABLE = _check()
if os.environ.get("HFBRIDGE_HUB_INTERNALS", "").strip() == "0":
    UNAVAILABLE = UNAVAILABLE or "disabled by HFBRIDGE_HUB_INTERNALS=0"
#: Whether chat, chat streams and embeddings take the fast path (False: the client's public methods).
FAST_PATH: bool = UNAVAILABLE is None
if UNAVAILABLE is not None:
    logger.info("hfbridge: using InferenceClient's public methods only (%s)", UNAVAILABLE)


# --------------------------------------------------------------------------------------------- other internals
def known_providers() -> set[str] | None:
    """Provider names huggingface_hub knows (and ``"auto"``); ``None`` when they cannot be listed."""
    providers = _INTERNALS.get("providers")
    return None if providers is None else set(providers) | {"auto"}


#: huggingface_hub's functions that read an answer (they run after the request was sent): what they raise means
#: the body was not what the client expected (HTML where an image or JSON was due, a number for a list...).
_ANSWER_READERS = frozenset(
    {"parse_obj", "parse_obj_as_list", "parse_obj_as_instance", "get_response", "_bytes_to_image", "_b64_to_image",
     "_bytes_to_dict", "_bytes_to_list", "_format_text_generation_stream_output",
     "_format_chat_completion_stream_output", "_stream_text_generation_response",
     "_async_stream_text_generation_response", "_stream_chat_completion_response",
     "_async_stream_chat_completion_response"}
)  # fmt: skip


_CLIENT_MODULES = ("huggingface_hub.inference._client", "huggingface_hub.inference._generated._async_client")
#: How the client's task methods name the answer they got from ``_inner_post`` (none is a parameter name).
_ANSWER_LOCALS = ("response", "bytes_output", "data")


def _reader_frames(exc: BaseException) -> Iterator[Any]:
    """The frames of ``exc``'s traceback that were reading an answer: one of the client's readers, or a client
    task method that already holds the answer (it converts it in place: ``np.array(...)`` of the embeddings,
    ``data[0]`` of a generation)."""
    traceback = exc.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("huggingface_hub.") and (
            frame.f_code.co_name in _ANSWER_READERS
            or (
                module in _CLIENT_MODULES
                and frame.f_code.co_name != "_inner_post"
                and any(frame.f_locals.get(name) is not None for name in _ANSWER_LOCALS)
            )
        ):
            yield frame
        traceback = traceback.tb_next


def not_an_image(exc: BaseException) -> bool:
    """Whether ``exc`` is Pillow failing to read an image answer (its body was no image: HTML, JSON...)."""
    return type(exc).__module__.split(".")[0] == "PIL"


def raised_reading_answer(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while huggingface_hub read a 2xx answer (not while it built the request, where
    a ``ValueError`` means the target cannot serve the task). Decided by where it was raised, not its message."""
    if not_an_image(exc):
        return True
    return next(_reader_frames(exc), None) is not None


def error_message(body: Any) -> str | None:
    """The server's message when a 2xx ``body`` (bytes, text or parsed JSON) is an error object (``{"error": "..."}``
    or OpenAI's ``{"error": {"message": ...}}``), else None."""
    if isinstance(body, (bytes, str)):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(body, dict) or body.get("error") is None:
        return None
    error = body["error"]
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) else repr(error)[:200]


def answer_error_message(exc: BaseException) -> str | None:
    """When huggingface_hub failed reading a 2xx answer that is an error object: the server's message."""
    for frame in _reader_frames(exc):
        for name in ("content", *_ANSWER_LOCALS):
            message = error_message(frame.f_locals.get(name))
            if message is not None:
                return message
    return None


def endpoint_token(endpoint: Any) -> str | None:
    """The token an ``InferenceEndpoint`` object was fetched with, if it exposes one."""
    token = getattr(endpoint, "_token", None)
    return token if isinstance(token, str) else None


# ------------------------------------------------------------------------------------------------ requests
def _chat_request(client: Client, messages: list[dict[str, Any]], parameters: dict[str, Any]) -> Any:
    # As InferenceClient.chat_completion: the client's model (or URL) picks the route, the call's names the model.
    model = parameters.pop("model", None)
    model_id_or_url = client.model or model
    payload_model = model or client.model
    is_url = model_id_or_url is not None and model_id_or_url.startswith(("http://", "https://"))
    helper = _INTERNALS["get_provider_helper"](
        client.provider, task="conversational", model=model_id_or_url if is_url else payload_model
    )
    # The client always sends "stream" (false unless streaming) and flattens extra_body into the payload.
    extra_body = parameters.pop("extra_body", None) or {}
    return helper.prepare_request(
        inputs=messages,
        parameters={"model": payload_model, "stream": False, **parameters, **extra_body},
        headers=client.headers,
        model=model_id_or_url,
        api_key=client.token,
    )


def _embedding_request(client: Client, texts: list[str], parameters: dict[str, Any]) -> tuple[Any, Any]:
    model_id = parameters.pop("model", None) or client.model
    helper = _INTERNALS["get_provider_helper"](client.provider, task="feature-extraction", model=model_id)
    request = helper.prepare_request(
        inputs=texts, parameters=parameters, headers=client.headers, model=model_id, api_key=client.token
    )
    return helper, request


# ------------------------------------------------------------------------------------------------ decoding
_SSE_FIELDS = ("event:", "id:", "retry:", ":")


def _event(line: str) -> dict[str, Any] | None:
    """One server-sent event line: its JSON payload, None for other event-stream lines; StopIteration at
    ``[DONE]``. A line that is not part of an event stream (an HTML page, a JSON error body answered with status
    200) raises ``APIError``: read as "no event", it would make an empty answer out of a failure."""
    if not line.startswith("data:"):
        if not line.strip() or line.startswith(_SSE_FIELDS):
            return None
        message = error_message(line)
        if message is not None:
            raise APIError(f"the server answered 2xx with an error: {message}", server_message=message)
        raise APIError(f"unexpected response from the server: not an event stream: {line[:120]!r}")
    data = line[5:].strip()
    if data == "[DONE]":
        raise StopIteration
    payload = orjson.loads(data)
    if not isinstance(payload, dict):
        raise APIError(f"unexpected response from the server: a stream event that is not an object: {data[:120]}")
    if payload.get("error") is not None:
        # The same typed errors the client raises for an error event (its error mapping applies unchanged).
        raise _INTERNALS["parse_error"](payload["error"], payload.get("error_type"))
    return payload


def _events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            payload = _event(line)
        except StopIteration:
            return
        if payload is not None:
            yield payload


async def _aevents(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    async for line in lines:
        try:
            payload = _event(line)
        except StopIteration:
            return
        if payload is not None:
            yield payload


async def _then(pending: Any, then: Callable[[Any], Any]) -> Any:
    return then(await pending)


# ------------------------------------------------------------------------------------------------ calls
def chat(client: Client, messages: list[dict[str, Any]], **parameters: Any) -> Any:
    """A chat answer: a dict on the fast path, the client's ``ChatCompletionOutput`` on the public one."""
    if not FAST_PATH:
        return client.chat_completion(messages, **parameters)
    body: Any = client._inner_post(_chat_request(client, messages, parameters))
    if isinstance(client, AsyncInferenceClient):
        return _then(body, orjson.loads)
    return orjson.loads(body)


def chat_stream(client: Client, messages: list[dict[str, Any]], **parameters: Any) -> Any:
    """The events of a chat stream (sent here: status errors raise now); closed with ``client``."""
    if not FAST_PATH:
        return client.chat_completion(messages, **{**parameters, "stream": True})
    lines: Any = client._inner_post(_chat_request(client, messages, {**parameters, "stream": True}), stream=True)
    if isinstance(client, AsyncInferenceClient):
        return _then(lines, _aevents)
    return _events(lines)


def embed(client: Client, texts: list[str], **parameters: Any) -> Any:
    """Embeddings for ``texts``: a list on the fast path, the client's ``np.ndarray`` on the public one."""
    if not FAST_PATH:
        return client.feature_extraction(texts, **parameters)
    helper, request = _embedding_request(client, texts, parameters)
    body: Any = client._inner_post(request)
    if isinstance(client, AsyncInferenceClient):
        return _then(body, lambda raw: helper.get_response(orjson.loads(raw)))
    return helper.get_response(orjson.loads(body))


def post(
    client: Client,
    task: str,
    inputs: Any,
    parameters: dict[str, Any],
    *,
    model: str | None,
    public: Callable[[], Any],
    public_shape: Callable[[Any], Any] | None = None,
) -> Any:
    """The decoded JSON answer of one hf-inference task call, as the client's method for ``task`` would send it.

    The client's public methods read answers into permissive dataclasses (a missing field becomes ``None``, a 200
    ``{"error": ...}`` a dataclass of ``None`` fields or a ``ValueError``); the raw JSON lets a task's parser be
    strict. ``inputs`` and ``parameters`` must be exactly what that method hands its provider helper, so both paths
    send the same request. On the public path ``public()`` calls the method; ``public_shape`` turns its answer back
    into the wire shape (``SummarizationOutput`` -> ``[{"summary_text": ...}]``).
    """
    if not FAST_PATH:
        answer = public()
        if public_shape is None:
            return answer
        if isinstance(client, AsyncInferenceClient):
            return _then(answer, public_shape)
        return public_shape(answer)
    model_id = model or client.model
    helper = _INTERNALS["get_provider_helper"](client.provider, task=task, model=model_id)
    request = helper.prepare_request(
        inputs=inputs, parameters=parameters, headers=client.headers, model=model_id, api_key=client.token
    )
    body: Any = client._inner_post(request)
    if isinstance(client, AsyncInferenceClient):
        return _then(body, lambda raw: helper.get_response(orjson.loads(raw)))
    return helper.get_response(orjson.loads(body))


# ------------------------------------------------------------------------------------------------ deadline
def bound(client: InferenceClient) -> InferenceClient:
    """``client``, whose requests stop at the deadline of the request running in the caller's context (see the
    module's docstring); unchanged on the public path or when no deadline is in force."""
    if FAST_PATH:
        original = client._inner_post

        def inner_post(request_parameters: Any, *, stream: bool = False) -> Any:
            end = _deadline.current()
            if end is None:
                return original(request_parameters, stream=stream)
            return _bounded_post(client, request_parameters, stream, end)

        client._inner_post = inner_post  # type: ignore[method-assign]
    return client


def _bounded_post(client: InferenceClient, request: Any, stream: bool, end: float) -> Any:
    # As InferenceClient._inner_post (huggingface_hub 2.4), reading under the deadline; timeouts and status errors
    # are raised as the client's are (hfbridge's error table maps both).
    _deadline.check(end)
    if request.task in _INTERNALS["images"] and "Accept" not in request.headers:
        request.headers["Accept"] = "image/png"
    response_cm = _INTERNALS["session"]().stream(
        "POST",
        request.url,
        json=request.json,
        content=request.data,
        headers=request.headers,
        cookies=client.cookies,
        timeout=_deadline.read_timeout(client.timeout, end),
    )
    if stream:
        response = client.exit_stack.enter_context(response_cm)
        _INTERNALS["raise_for_status"](response)
        return _until(response.iter_lines(), end)
    with response_cm as response:
        _INTERNALS["raise_for_status"](response)
        return b"".join(_until(response.iter_bytes(), end))


def _until(parts: Iterable[Any], end: float) -> Iterator[Any]:
    for part in parts:
        _deadline.check(end)
        yield part
