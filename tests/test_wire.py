"""HubBackend's hot paths (``backends/_wire.py``: chat, chat streams, embeddings) send exactly the request that
huggingface_hub's own ``InferenceClient.chat_completion`` / ``feature_extraction`` send for the same arguments, and
decode to the same results, for every kind of target: Inference Providers (with the Hub's provider mapping), the
auto-router, hf-inference model ids, and URLs.

URL targets are also covered end to end by the contract cassettes. Provider routes (``router.huggingface.co``) and
the Hub's model API cannot be reached here, so the real clients' HTTP is captured at the transport, through
huggingface_hub's own ``set_client_factory`` hook, and answered with the payloads those routes return.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import numpy as np
import pytest
from huggingface_hub import AsyncInferenceClient, InferenceClient

from hfbridge.backends import _wire
from hfbridge.tasks import EmbeddingRequest
from hfbridge.tasks.generation import parse_chat_chunk, parse_chat_output
from hfbridge.tasks.text import as_vectors

from ._http_double import hub_clients_answered_by


def _as_vectors(raw: object, count: int) -> list[list[float]]:
    return as_vectors(raw, EmbeddingRequest(texts=["text"] * count))

TOKEN = "hf_" + "w" * 34
CHAT_MODEL = "hfbridge-wire/chat-model"
EMBED_MODEL = "hfbridge-wire/embed-model"
MODELS = {
    CHAT_MODEL: {"pipeline_tag": "text-generation", "tags": ["text-generation", "conversational"],
                 "inferenceProviderMapping": {
                     "together": {"status": "live", "providerId": "wire/chat-together", "task": "conversational"},
                     "hf-inference": {"status": "live", "providerId": CHAT_MODEL, "task": "conversational"}}},
    EMBED_MODEL: {"pipeline_tag": "feature-extraction", "tags": ["feature-extraction"],
                  "inferenceProviderMapping": {
                      "together": {"status": "live", "providerId": "wire/embed-together", "task": "feature-extraction"},
                      "hf-inference": {"status": "live", "providerId": EMBED_MODEL, "task": "feature-extraction"}}},
}  # fmt: skip
CHAT = {
    "id": "chatcmpl-wire", "object": "chat.completion", "created": 1, "model": "wire/chat-together",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Looking it up.",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "lookup", "arguments": "{\"word\": \"wire\"}"}}]}}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
}  # fmt: skip
STREAM = [
    {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
    {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
     "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                        "function": {"name": "lookup", "arguments": "{\"w"}}]},
                  "finish_reason": None}]},
    {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
     "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
     "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
]  # fmt: skip
VECTORS = [[0.25, -0.5, 0.125], [1.0, 0.0, -0.75]]

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Define 'wire'."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up.",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
        },
    }
]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}}  # fmt: skip

CLIENTS = {
    "together": {"model": CHAT_MODEL, "provider": "together", "token": TOKEN},
    "auto": {"model": CHAT_MODEL, "provider": "auto", "token": TOKEN},
    "hf-inference": {"model": CHAT_MODEL, "provider": "hf-inference", "token": TOKEN},
    "url": {"base_url": "https://tgi.example.com", "headers": {"authorization": None}},
    "url-with-token": {"base_url": "https://xyz.endpoints.huggingface.cloud", "token": TOKEN, "bill_to": "acme"},
}
CALLS = {
    "plain": {"max_tokens": 16, "temperature": 0.2, "top_p": 0.9, "stop": ["\n\n"], "seed": 7},
    "tools": {"tools": TOOLS, "tool_choice": "required", "max_tokens": 32},
    "json_schema": {"response_format": SCHEMA, "max_tokens": 32},
    "nones": {"model": None, "tools": None, "tool_choice": None, "response_format": None, "max_tokens": None},
    "extra_body": {"max_tokens": 8, "extra_body": {"repetition_penalty": 1.1, "top_k": 20}},
}


class Wire:
    """Answers like the Hub's model API and the inference routes; keeps every inference request it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "GET" and path.startswith("/api/models/"):
            model = path.removeprefix("/api/models/")
            return httpx2.Response(200, json={"id": model, **MODELS[model]})
        self.requests.append(request)
        body = json.loads(request.content)
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                events = "".join(f"data: {json.dumps(event)}\n\n" for event in STREAM) + "data: [DONE]\n\n"
                return httpx2.Response(200, content=events.encode(), headers={"content-type": "text/event-stream"})
            return httpx2.Response(200, json=CHAT)
        if path.endswith("/embeddings"):  # OpenAI-style providers
            return httpx2.Response(
                200, json={"data": [{"embedding": vector} for vector in VECTORS[: len(body["input"])]]}
            )
        return httpx2.Response(200, json=VECTORS[: len(body["inputs"])])

    def pop_two(self) -> tuple[httpx2.Request, httpx2.Request]:
        assert len(self.requests) == 2, [str(r.url) for r in self.requests]
        first, second = self.requests
        self.requests.clear()
        return first, second


@pytest.fixture
def wire() -> Iterator[Wire]:
    handler = Wire()
    with hub_clients_answered_by(handler):
        yield handler


def assert_same_request(theirs: httpx2.Request, ours: httpx2.Request) -> None:
    assert (ours.method, str(ours.url)) == (theirs.method, str(theirs.url))
    assert json.loads(ours.content) == json.loads(theirs.content)
    assert dict(ours.headers) == dict(theirs.headers)


@pytest.mark.parametrize("target", sorted(CLIENTS))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_chat_request_and_result_match_the_client(wire: Wire, target: str, call: str) -> None:
    client = InferenceClient(**CLIENTS[target])
    theirs = client.chat_completion(MESSAGES, **CALLS[call])
    ours = _wire.chat(client, MESSAGES, **CALLS[call])
    assert_same_request(*wire.pop_two())
    assert parse_chat_output(ours) == parse_chat_output(theirs)
    assert parse_chat_output(ours).tool_calls[0].parsed_arguments() == {"word": "wire"}


def test_chat_model_override_names_the_model_in_the_body(wire: Wire) -> None:
    client = InferenceClient(**CLIENTS["url"])
    client.chat_completion(MESSAGES, model="served-name", max_tokens=4)
    _wire.chat(client, MESSAGES, model="served-name", max_tokens=4)
    theirs, ours = wire.pop_two()
    assert_same_request(theirs, ours)
    assert json.loads(ours.content)["model"] == "served-name"


@pytest.mark.parametrize("target", ["together", "hf-inference", "url"])
def test_chat_stream_request_and_chunks_match_the_client(wire: Wire, target: str) -> None:
    client = InferenceClient(**CLIENTS[target])
    options = {"max_tokens": 8, "stream_options": {"include_usage": True}, "tools": TOOLS}
    theirs = [parse_chat_chunk(chunk) for chunk in client.chat_completion(MESSAGES, stream=True, **options)]
    ours = [parse_chat_chunk(event) for event in _wire.chat_stream(client, MESSAGES, **options)]
    assert_same_request(*wire.pop_two())
    assert ours == theirs
    assert "".join(chunk.content for chunk in ours) == "Hello" and ours[-1].usage is not None


@pytest.mark.parametrize("provider", ["together", "hf-inference", "auto"])
def test_embedding_request_and_vectors_match_the_client(wire: Wire, provider: str) -> None:
    client = InferenceClient(model=EMBED_MODEL, provider=provider, token=TOKEN)
    texts = ["first text", "second text"]
    options = {"normalize": True, "truncate": True, "prompt_name": None}
    if provider == "together":  # OpenAI-style embedding routes take no TEI options
        options = {}
    theirs = client.feature_extraction(texts, **options)
    ours = _wire.embed(client, texts, **options)
    assert_same_request(*wire.pop_two())
    assert np.array_equal(np.asarray(_as_vectors(ours, 2)), theirs)


async def test_async_twins_match_the_client(wire: Wire) -> None:
    client = AsyncInferenceClient(**CLIENTS["together"])
    theirs = await client.chat_completion(MESSAGES, **CALLS["tools"])
    ours = await _wire.chat(client, MESSAGES, **CALLS["tools"])
    assert_same_request(*wire.pop_two())
    assert parse_chat_output(ours) == parse_chat_output(theirs)

    stream = await client.chat_completion(MESSAGES, stream=True, max_tokens=8)
    theirs_chunks = [parse_chat_chunk(chunk) async for chunk in stream]
    ours_chunks = [parse_chat_chunk(event) async for event in await _wire.chat_stream(client, MESSAGES, max_tokens=8)]
    assert_same_request(*wire.pop_two())
    assert ours_chunks == theirs_chunks

    embedder = AsyncInferenceClient(model=EMBED_MODEL, provider="hf-inference", token=TOKEN)
    vectors = await embedder.feature_extraction(["a", "b"], normalize=True)
    decoded = await _wire.embed(embedder, ["a", "b"], normalize=True)
    assert_same_request(*wire.pop_two())
    assert np.array_equal(np.asarray(_as_vectors(decoded, 2)), vectors)
    await client.close()
    await embedder.close()


def test_a_stream_error_event_raises_the_clients_typed_error(wire: Wire) -> None:
    """An error event in a 200 stream becomes the same huggingface_hub error the client raises (which hfbridge
    then translates and, after the first chunk, reports as StreamInterruptedError)."""
    from huggingface_hub.errors import GenerationError

    def failing(request: httpx2.Request) -> httpx2.Response:
        error = {"error": "CUDA OOM", "error_type": "generation"}
        events = f"data: {json.dumps(STREAM[0])}\n\ndata: {json.dumps(error)}\n\n"
        return httpx2.Response(200, content=events.encode(), headers={"content-type": "text/event-stream"})

    client = InferenceClient(**CLIENTS["url"])
    with hub_clients_answered_by(failing):
        for stream in (client.chat_completion(MESSAGES, stream=True), _wire.chat_stream(client, MESSAGES)):
            received = []
            with pytest.raises(GenerationError, match="CUDA OOM"):
                for item in stream:
                    received.append(parse_chat_chunk(item).content)
            assert received == ["Hel"]


def test_the_fence_notices_a_changed_internal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A huggingface_hub release whose ``_inner_post`` lost its ``stream`` parameter is caught at import: no internal
    is used then (the contract tests run that public path: ``hub-public`` in tests/test_contract.py)."""

    def changed(self: InferenceClient, request_parameters: object, *, streaming: bool = False) -> None: ...

    assert _wire._check()[1] is None
    monkeypatch.setattr(InferenceClient, "_inner_post", changed)
    internals, reason = _wire._check()
    assert internals == {} and reason is not None and "InferenceClient._inner_post" in reason
