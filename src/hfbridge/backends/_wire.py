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
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from huggingface_hub import AsyncInferenceClient, InferenceClient

__all__ = ["FAST_PATH", "UNAVAILABLE", "chat", "chat_stream", "embed", "endpoint_token", "known_providers"]

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
        from huggingface_hub.inference._common import RequestParameters, _parse_text_generation_error
        from huggingface_hub.inference._providers import PROVIDERS, TaskProviderHelper, get_provider_helper
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


#: The functions with which the client reads an answer it received (after ``_inner_post`` returned): an error
#: raised inside one of them is a malformed answer, not a request the client refused to build.
_READERS = frozenset({
    "parse_obj", "parse_obj_as_list", "parse_obj_as_instance", "get_response", "_b64_to_image", "_bytes_to_image",
    "_bytes_to_dict", "_bytes_to_list",
})  # fmt: skip
_INFERENCE_DIR = os.path.join("huggingface_hub", "inference", "")


def raised_reading_response(exc: BaseException) -> bool:
    """Whether ``exc`` came from huggingface_hub reading an answer (a ``ValueError`` of ``parse_obj_as_list`` for a
    JSON object where a list was expected, Pillow's error for HTML where an image was), rather than from building
    the request (``ValueError``: provider without the task, model not served). Read from the traceback: a
    huggingface_hub that renames these readers makes this answer False, the old behaviour."""
    frames = []
    traceback = exc.__traceback__
    while traceback is not None:
        frames.append(traceback.tb_frame.f_code)
        traceback = traceback.tb_next
    return any(code.co_name in _READERS and _INFERENCE_DIR in code.co_filename for code in frames)


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
def _event(line: str) -> dict[str, Any] | None:
    """One server-sent event line: its JSON payload, None for other lines; StopIteration at ``[DONE]``."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        raise StopIteration
    payload = orjson.loads(data)
    if not isinstance(payload, dict):
        raise ValueError(f"unexpected stream event: {data[:200]}")
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
