"""The OpenAI-compatible routes through the clients people use on them: the official ``openai`` SDK, and
langchain-openai's ``ChatOpenAI`` and ``OpenAIEmbeddings`` — chat, streaming, tools, embeddings, completions and
model listing, plus errors in the OpenAI shape (the SDK shows their message) and refusals of what is not supported."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import numpy as np
import openai
import pytest

from hfbridge import LocalBackend
from hfbridge.server import ServerThread, create_app

pytestmark = pytest.mark.live_server
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def url(local_backend: LocalBackend) -> Iterator[str]:
    with ServerThread(create_app(local_backend, max_batch_size=8)) as server:
        yield server.url


@pytest.fixture(scope="module")
def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models_list_names_every_served_model(client: openai.OpenAI, local_backend: LocalBackend) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids[0] == local_backend.model_id
    assert local_backend.models["feature-extraction"] in ids


@pytest.mark.parametrize("encoding_format", ["float", "base64", None])
def test_embeddings_match_the_backend(client: openai.OpenAI, local_backend: LocalBackend, encoding_format: Any) -> None:
    texts = ["reset my password", "opening hours", "reset my password"]
    kwargs = {"encoding_format": encoding_format} if encoding_format else {}  # the SDK asks for base64 by default
    response = client.embeddings.create(input=texts, model="any-name", **kwargs)
    if encoding_format == "base64":  # asked for explicitly, the SDK hands the strings over as they came
        got = np.array([np.frombuffer(base64.b64decode(item.embedding), "<f4") for item in response.data])  # type: ignore[arg-type]
    else:
        got = np.array([item.embedding for item in response.data])
    assert [item.index for item in response.data] == [0, 1, 2]
    assert np.allclose(got, np.array(local_backend.feature_extraction(texts)), atol=1e-6)
    assert response.model == local_backend.models["feature-extraction"]
    assert response.usage.prompt_tokens == 8  # words: the backend interface has no tokenizer


def test_langchain_openai_embeddings(url: str, local_backend: LocalBackend) -> None:
    from langchain_openai import OpenAIEmbeddings

    texts = [f"support ticket {i}" for i in range(20)]
    embeddings = OpenAIEmbeddings(base_url=f"{url}/v1", api_key="unused", model="all-MiniLM-L6-v2",  # type: ignore[arg-type]
                                  check_embedding_ctx_length=False, chunk_size=8, max_retries=0)  # fmt: skip
    vectors = embeddings.embed_documents(texts)
    assert np.allclose(np.array(vectors), np.array(local_backend.feature_extraction(texts)), atol=1e-6)
    assert np.allclose(embeddings.embed_query("hello"), local_backend.feature_extraction(["hello"])[0], atol=1e-6)


def test_token_id_inputs_and_oversized_batches_are_refused_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.embeddings.create(input=[[101, 2023]], model="m")
    assert "check_embedding_ctx_length=False" in caught.value.message
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(openai.APIStatusError) as too_many:
        client.embeddings.create(input=[f"t{i}" for i in range(9)], model="m")
    assert too_many.value.status_code == 413 and "maximum allowed batch size 8" in too_many.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        client.embeddings.create(input=[], model="m")
    assert "cannot be empty" in empty.value.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "x", "dimensions": "a"}, "dimensions"),
        ({"input": 5}, "input"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({}, "input"),
    ],
)
def test_wrong_embedding_bodies_are_422_with_the_field(url: str, body: dict[str, Any], field: str) -> None:
    response = httpx2.post(f"{url}/v1/embeddings", json=body, timeout=30)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"].startswith(field) and field in error["message"] and error["type"] == "invalid_request_error"


def test_completions_plain_batched_and_streamed(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="m", prompt="The capital of France is", max_tokens=4)
    (choice,) = completion.choices
    assert choice.text and choice.finish_reason in ("stop", "length")
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 4
    batch = client.completions.create(model="m", prompt=["One, two,", "Red, green,"], max_tokens=3)
    assert [c.index for c in batch.choices] == [0, 1] and all(c.text for c in batch.choices)
    chunks = list(client.completions.create(model="m", prompt="Once upon a time", max_tokens=5, stream=True,
                                            stream_options={"include_usage": True}))  # fmt: skip
    pieces = [c.choices[0].text for c in chunks if c.choices]
    assert len(pieces) == 5 and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n": 2}, "n"), ({"echo": True}, "echo"), ({"logprobs": 2}, "logprobs"), ({"suffix": "!"}, "suffix"),
     ({"best_of": 3}, "best_of")],
)  # fmt: skip
def test_unsupported_completion_options_are_refused(client: openai.OpenAI, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.completions.create(model="m", prompt="hi", max_tokens=2, **kwargs)
    assert f"{field}=" in caught.value.message and "not supported" in caught.value.message


def test_chat_n_greater_than_one_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], n=2, max_tokens=2)
    assert "n=2" in caught.value.message


def test_openai_sdk_chat_stream_and_tools(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hello."}],
                                            max_tokens=6)  # fmt: skip
    assert answer.choices[0].message.content and answer.usage is not None
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hello."}],
                                            max_tokens=6, stream=True)  # fmt: skip
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices).strip()
    called = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Weather in Paris?"}],
                                            tools=[WEATHER], tool_choice="required", max_tokens=40)  # type: ignore[list-item]  # fmt: skip
    (call,) = called.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)


def test_chat_openai_invoke_stream_and_tools(url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{url}/v1", api_key="unused", model="m", max_tokens=6, max_retries=0)  # type: ignore[arg-type]
    assert llm.invoke("Say hello.").content
    assert "".join(str(chunk.content) for chunk in llm.stream("Say hello.")).strip()
    tooled = llm.model_copy(update={"max_tokens": 60}).bind_tools([WEATHER], tool_choice="get_weather")
    message = tooled.invoke("What is the weather in Paris?")
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"  # type: ignore[attr-defined]
