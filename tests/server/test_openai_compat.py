"""The OpenAI-compatible routes through the clients people use on them: the official ``openai`` SDK, and
langchain-openai's ``ChatOpenAI`` and ``OpenAIEmbeddings`` — chat, streaming, tools, embeddings (texts or the served
model's token ids, as TEI takes them), completions and model listing, plus errors in the OpenAI shape (the SDK shows
their message) and refusals of what is not supported."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import openai
import pytest
from tokenizers import Tokenizer

from hfbridge import LocalBackend
from hfbridge.backends.local._embedder import TOKENIZER_FILE
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


def test_langchain_openai_embeddings_defaults_get_the_typed_422(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With its defaults (check_embedding_ctx_length=True) OpenAIEmbeddings sends OpenAI's tiktoken (cl100k) ids.
    Most texts have ids beyond MiniLM's 30,522; a short text's may all fall inside ("hello" is [15339], BERT's
    "denise") and would embed unrelated words, as they do on TEI. Both are a 422 that says what to do."""
    import llama_index.core
    from langchain_openai import OpenAIEmbeddings

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"  # tiktoken downloads otherwise
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    embeddings = OpenAIEmbeddings(base_url=f"{url}/v1", api_key="unused", model="all-MiniLM-L6-v2")  # type: ignore[arg-type]
    with pytest.raises(openai.UnprocessableEntityError) as beyond:
        embeddings.embed_documents(["Angela Merkel visited Paris.", "reset my password"])
    assert "`input[0]`: token ids outside the vocabulary" in beyond.value.message
    with pytest.raises(openai.UnprocessableEntityError) as inside:
        embeddings.embed_query("hello")
    assert "must be a whole tokenization" in inside.value.message and "'denise'" in inside.value.message
    for caught in (beyond, inside):
        assert "check_embedding_ctx_length=False" in caught.value.message
        assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]


def test_token_ids_of_the_served_model_embed_as_their_text(client: openai.OpenAI, local_backend: LocalBackend) -> None:
    """Ids made with the model's own tokenizer.json (padded to 128, as the file says) embed to the text's vector:
    a batch of ids, one text's ids, and a batch of texts and ids mixed (TEI's Input allows it)."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    texts = ["reset my password", "The café opens at 9.", "opening hours"]
    ids = [tokenizer.encode(text).ids for text in texts]
    by_text = np.array(local_backend.feature_extraction(texts))
    batch = client.embeddings.create(input=ids, model="m", encoding_format="float")
    assert np.allclose([item.embedding for item in batch.data], by_text, atol=1e-6)
    assert batch.usage.prompt_tokens == 3 * 128  # ids count as their length
    single = client.embeddings.create(input=ids[1], model="m", encoding_format="float")
    assert np.allclose(single.data[0].embedding, by_text[1], atol=1e-6)
    mixed = client.embeddings.create(input=[texts[0], ids[1]], model="m", encoding_format="float")  # type: ignore[list-item]
    assert np.allclose([item.embedding for item in mixed.data], by_text[:2], atol=1e-6)
    assert mixed.usage.prompt_tokens == 3 + 128


def test_foreign_token_ids_and_oversized_batches_are_refused_in_openai_shape(client: openai.OpenAI) -> None:
    for ids, where, reason in (([[101, 2023, 30522, 102]], "input", "outside the vocabulary"),
                               ([[101, 2023, 102], [-1]], "input[1]", "outside the vocabulary"),
                               ([[101, 2023]], "input", "must be a whole tokenization")):  # fmt: skip
        with pytest.raises(openai.UnprocessableEntityError) as caught:
            client.embeddings.create(input=ids, model="m")
        error: dict[str, Any] = caught.value.body  # type: ignore[assignment]
        assert error["message"].startswith(f"`{where}`: ") and reason in error["message"]
        assert "sentence-transformers/all-MiniLM-L6-v2" in error["message"]
        assert "send the text instead" in error["message"] and "check_embedding_ctx_length=False" in error["message"]
        assert error["type"] == "invalid_request_error" and error["param"] == "input"
    with pytest.raises(openai.APIStatusError) as too_many:
        client.embeddings.create(input=[f"t{i}" for i in range(9)], model="m")
    assert too_many.value.status_code == 413 and "maximum allowed batch size 8" in too_many.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        client.embeddings.create(input=[], model="m")
    assert "cannot be empty" in empty.value.message


def test_token_ids_behind_a_backend_without_a_tokenizer_are_refused_before_anything_is_sent() -> None:
    """A HubBackend has no tokenizer of its remote model: ids are a 422 on both routes, the upstream never asked."""
    from hfbridge import HubBackend

    from .._http_double import RecordingServer

    with RecordingServer(body=[[0.5, 0.5]]) as upstream:
        with ServerThread(create_app(HubBackend(base_url=upstream.url))) as server:
            sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.UnprocessableEntityError) as caught:
                sdk.embeddings.create(input=[[101, 7592, 102]], model="m")
            tei = httpx2.post(f"{server.url}/embed", json={"inputs": [101, 7592, 102]}, timeout=30)
            assert sdk.embeddings.create(input=["hello"], model="m").data[0].embedding == [0.5, 0.5]  # text goes on
        assert len(upstream.requests) == 1
    message: str = caught.value.body["message"]  # type: ignore[index]
    assert message.startswith("`input` as token ids is not supported by this server (HubBackend")
    assert "check_embedding_ctx_length=False" in message
    assert tei.status_code == 422 and tei.json()["error_type"] == "Validation"
    assert tei.json()["error"].startswith("`inputs` as token ids is not supported by this server (HubBackend")


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
