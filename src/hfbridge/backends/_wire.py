"""The hot paths of HubBackend: requests built and sent by huggingface_hub's client, bodies decoded here.

``InferenceClient`` turns every JSON answer into its generated dataclasses. Measured on the benchmark machine that
costs 67 µs per chat answer, 56 µs per streamed chat chunk (the client's own stream runs at ~85 µs a token) and 3 ms
per batch of 32 embeddings (stdlib ``json`` then ``np.array``): more than all of hfbridge's own code and, for
embeddings, enough to make a 2-core client CPU-bound at 80% of a server's capacity.

For chat, chat streams and embeddings HubBackend therefore keeps everything about the request in huggingface_hub —
the provider helper builds the URL, route, auth headers and payload (provider mapping, ``response_format``
rewriting), the client's ``_inner_post`` sends it on its session with its timeout and HTTP-error mapping — and
decodes the body here with orjson, straight into the dicts that ``hub.parse_*`` turn into hfbridge's types. Every
other task goes through the client's public methods. The request half mirrors ``InferenceClient.chat_completion``
and ``feature_extraction`` of huggingface_hub 2.4 (the pinned range); the contract cassettes fail if a request
drifts.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import orjson
from huggingface_hub import AsyncInferenceClient, InferenceClient
from huggingface_hub.inference._common import RequestParameters, _parse_text_generation_error
from huggingface_hub.inference._providers import TaskProviderHelper, get_provider_helper

Client = InferenceClient | AsyncInferenceClient

__all__ = ["achat", "achat_stream", "aembed", "chat", "chat_stream", "embed"]


# ------------------------------------------------------------------------------------------------ requests
def _chat_request(client: Client, messages: list[dict[str, Any]], parameters: dict[str, Any]) -> RequestParameters:
    # As InferenceClient.chat_completion: the client's model (or URL) picks the route, the call's names the model.
    model = parameters.pop("model", None)
    model_id_or_url = client.model or model
    payload_model = model or client.model
    is_url = model_id_or_url is not None and model_id_or_url.startswith(("http://", "https://"))
    helper = get_provider_helper(
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


def _embedding_request(
    client: Client, texts: list[str], parameters: dict[str, Any]
) -> tuple[TaskProviderHelper, RequestParameters]:
    model_id = parameters.pop("model", None) or client.model
    helper = get_provider_helper(client.provider, task="feature-extraction", model=model_id)
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
        raise _parse_text_generation_error(payload["error"], payload.get("error_type"))
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


# ------------------------------------------------------------------------------------------------ calls
def chat(client: InferenceClient, messages: list[dict[str, Any]], **parameters: Any) -> Any:
    return orjson.loads(client._inner_post(_chat_request(client, messages, parameters)))


async def achat(client: AsyncInferenceClient, messages: list[dict[str, Any]], **parameters: Any) -> Any:
    return orjson.loads(await client._inner_post(_chat_request(client, messages, parameters)))


def chat_stream(client: InferenceClient, messages: list[dict[str, Any]], **parameters: Any) -> Iterator[dict[str, Any]]:
    """Send the request (status errors raise here) and return its events; the response is closed with ``client``."""
    lines = client._inner_post(_chat_request(client, messages, {**parameters, "stream": True}), stream=True)
    return _events(lines)


async def achat_stream(
    client: AsyncInferenceClient, messages: list[dict[str, Any]], **parameters: Any
) -> AsyncIterator[dict[str, Any]]:
    lines = await client._inner_post(_chat_request(client, messages, {**parameters, "stream": True}), stream=True)
    return _aevents(lines)


def embed(client: InferenceClient, texts: list[str], **parameters: Any) -> Any:
    helper, request = _embedding_request(client, texts, parameters)
    return helper.get_response(orjson.loads(client._inner_post(request)))


async def aembed(client: AsyncInferenceClient, texts: list[str], **parameters: Any) -> Any:
    helper, request = _embedding_request(client, texts, parameters)
    return helper.get_response(orjson.loads(await client._inner_post(request)))
