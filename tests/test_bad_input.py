"""Every bad argument is an ``InvalidInputError`` naming it, raised before anything is sent (issue 13).

The table runs on a ``HubBackend`` aimed at a loopback server that records requests (it must see none), sync,
async and streaming, on the ``LocalBackend`` in-process (no model may be reached: the error comes from the
task's ``validate``), and through the real LangChain / LlamaIndex objects. Each row once was a ``TypeError`` /
``AttributeError`` from deep inside, a wrong default (``batch_size=0`` meaning "the default"), or a request sent
that no server could read (a lone surrogate, an empty user message).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hfbridge import ConfigurationError, HubBackend, InvalidInputError, LocalBackend
from hfbridge.errors import APIError

from ._http_double import RecordingServer

M = [{"role": "user", "content": "Say hello."}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}

# (id, method, positional arguments, keyword arguments, what the message must say)
TABLE: list[tuple[str, str, tuple[Any, ...], dict[str, Any], str]] = [
    ("max_tokens-str", "chat_completion", (M,), {"max_tokens": "5"}, "max_tokens must be an int, got str '5'"),
    ("max_tokens-float", "chat_completion", (M,), {"max_tokens": 5.0}, "max_tokens must be an int"),
    ("max_tokens-bool", "chat_completion", (M,), {"max_tokens": True}, "max_tokens must be an int"),
    ("max_tokens-0", "chat_completion", (M,), {"max_tokens": 0}, "max_tokens must be at least 1"),
    ("stop-int", "chat_completion", (M,), {"stop": 5}, "stop must be a str or a list of str"),
    ("stop-list-int", "chat_completion", (M,), {"stop": ["ok", 5]}, "stop[1] must be a str"),
    ("stop-empty-string", "chat_completion", (M,), {"stop": ""}, "stop is an empty string"),
    ("model-int", "chat_completion", (M,), {"model": 5}, "model must be a str"),
    ("model-blank", "chat_completion", (M,), {"model": "  "}, "model is empty"),
    ("model-space", "chat_completion", (M,), {"model": "org/a model"}, "without spaces"),
    ("temperature-dict", "chat_completion", (M,), {"temperature": {}}, "temperature must be a number"),
    ("temperature-nan", "chat_completion", (M,), {"temperature": float("nan")}, "finite number"),
    ("temperature-negative", "chat_completion", (M,), {"temperature": -1}, "temperature must be at least 0"),
    ("top_p-0", "chat_completion", (M,), {"top_p": 0}, "top_p must be above 0"),
    ("top_p-2", "chat_completion", (M,), {"top_p": 2.0}, "top_p must be at most 1"),
    ("seed-negative", "chat_completion", (M,), {"seed": -1}, "seed must be at least 0"),
    ("seed-str", "chat_completion", (M,), {"seed": "7"}, "seed must be an int"),
    ("tools-dict", "chat_completion", (M,), {"tools": TOOL}, "tools must be a list"),
    ("tools-twice", "chat_completion", (M,), {"tools": [TOOL, TOOL]}, "given twice"),
    ("tools-bad-parameters", "chat_completion", (M,),
     {"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]}, "must be a JSON schema"),
    ("tool_choice-int", "chat_completion", (M,), {"tools": [TOOL], "tool_choice": 3}, "tool_choice must be a str"),
    ("response_format-unknown", "chat_completion", (M,), {"response_format": {"type": "xml"}},
     "response_format['type']"),
    ("response_format-str", "chat_completion", (M,), {"response_format": "json"}, "response_format must be a dict"),
    ("response_format-nan", "chat_completion", (M,),
     {"response_format": {"type": "json", "value": {"maximum": float("inf")}}}, "which JSON cannot carry"),
    ("messages-dict", "chat_completion", ({"role": "user", "content": "hi"},), {}, "messages must be a list"),
    ("message-empty-user", "chat_completion", ([{"role": "user", "content": ""}],), {}, "a user message needs text"),
    ("message-blank-user", "chat_completion", ([{"role": "user", "content": "  "}],), {}, "needs text"),
    ("message-content-int", "chat_completion", ([{"role": "user", "content": 5}],), {}, "must be a str or a list"),
    ("message-surrogate", "chat_completion", ([{"role": "user", "content": "hi \ud800"}],), {}, "lone surrogate"),
    ("message-tool-calls-str", "chat_completion",
     ([*M, {"role": "assistant", "content": None, "tool_calls": "get_weather"}],), {}, "must be a list of tool"),
    ("stream-max_tokens-str", "stream_chat_completion", (M,), {"max_tokens": "5"}, "max_tokens must be an int"),
    ("max_new_tokens-list", "text_generation", ("Hi",), {"max_new_tokens": [1]}, "max_new_tokens must be an int"),
    ("generation-stop-int", "text_generation", ("Hi",), {"stop": 5}, "stop must be a str or a list"),
    ("generation-model-int", "stream_text_generation", ("Hi",), {"model": 5}, "model must be a str"),
    ("generation-batch-stop", "text_generation_batch", (["Hi"],), {"stop": 5}, "stop must be a str or a list"),
    ("prompt-surrogate", "text_generation", ("\udc80",), {}, "lone surrogate"),
    ("top_k-str", "text_classification", ("I love it",), {"top_k": "3"}, "top_k must be an int, got str '3'"),
    ("top_k-0", "text_classification", ("I love it",), {"top_k": 0}, "top_k must be at least 1"),
    ("classification-model-int", "text_classification", ("I love it",), {"model": 5}, "model must be a str"),
    ("batch_size-str", "feature_extraction", (["a"],), {"batch_size": "2"}, "batch_size must be an int"),
    ("batch_size-0", "feature_extraction", (["a"],), {"batch_size": 0}, "batch_size must be at least 1"),
    ("normalize-str", "feature_extraction", (["a"],), {"normalize": "yes"}, "normalize must be True or False"),
    ("truncate-int", "feature_extraction", (["a"],), {"truncate": 1}, "truncate must be True or False"),
    ("prompt_name-blank", "feature_extraction", (["a"],), {"prompt_name": ""}, "prompt_name is empty"),
    ("texts-str", "feature_extraction", ("a string",), {}, "not a single str"),
    ("texts-surrogate", "feature_extraction", (["ok", "bad \ud800"],), {}, "texts[1] holds a lone surrogate"),
    ("ner-surrogate", "token_classification", ("Angela \ud800",), {}, "lone surrogate"),
    ("similarity-surrogate", "sentence_similarity", ("a", ["b", "\ud800"]), {}, "sentences[1] holds a lone"),
    ("labels-surrogate", "zero_shot_classification", ("text", ["ok", "\ud800"]), {}, "labels[1] holds a lone"),
    ("multi_label-str", "zero_shot_classification", ("text", ["a", "b"]), {"multi_label": "yes"},
     "multi_label must be True or False"),
    ("template-without-slot", "zero_shot_classification", ("text", ["a", "b"]),
     {"hypothesis_template": "This is a label."}, "must hold a {} slot"),
    ("image-width-str", "text_to_image", ("a cat",), {"width": "512"}, "width must be an int"),
    ("image-width-huge", "text_to_image", ("a cat",), {"width": 10**6}, "width must be at most"),
    ("image-steps-0", "text_to_image", ("a cat",), {"num_inference_steps": 0}, "at least 1"),
    ("image-guidance-inf", "text_to_image", ("a cat",), {"guidance_scale": float("inf")}, "finite number"),
    ("image-extra-list", "text_to_image", ("a cat",), {"extra": [1]}, "extra must be a dict"),
    ("image-negative-int", "text_to_image", ("a cat",), {"negative_prompt": 3}, "negative_prompt must be a str"),
]  # fmt: skip


def _outcome(result: Any) -> Any:
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isasyncgen(result):

        async def drain() -> list[Any]:
            return [chunk async for chunk in result]

        return asyncio.run(drain())
    if inspect.isgenerator(result):
        return list(result)
    return result


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[HubBackend, RecordingServer]]:
    with RecordingServer() as server:
        backend = HubBackend(base_url=server.url)
        yield backend, server
        backend.close()
    assert server.requests == []  # nothing of the whole table reached the server


@pytest.mark.parametrize(("method", "args", "kwargs", "message"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])  # fmt: skip
def test_the_hub_backend_refuses_before_sending(
    hub: tuple[HubBackend, RecordingServer], method: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    backend, server = hub
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        _outcome(getattr(backend, method)(*args, **kwargs))
    asynchronous = "a" + method if not method.startswith("stream") else "astream" + method[len("stream"):]
    if hasattr(backend, asynchronous):
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            _outcome(getattr(backend, asynchronous)(*args, **kwargs))
    assert server.requests == []


@pytest.mark.parametrize(("method", "args", "kwargs", "message"),
                         [row[1:] for row in TABLE if row[1] != "text_to_image"],
                         ids=[row[0] for row in TABLE if row[1] != "text_to_image"])  # fmt: skip
def test_the_local_backend_refuses_the_same_arguments(
    local_backend: LocalBackend, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        _outcome(getattr(local_backend, method)(*args, **kwargs))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LocalBackend(max_concurrency=0), "max_concurrency must be at least 1"),
        (lambda: LocalBackend(max_concurrency="2"), "max_concurrency must be an int"),
        (lambda: LocalBackend(n_ctx=0), "n_ctx"),
        (lambda: LocalBackend(threads=-1), "threads"),
        (lambda: LocalBackend(default_max_tokens="64"), "default_max_tokens"),
        (lambda: LocalBackend(chat_model=""), "chat_model"),
        (lambda: LocalBackend(batch_size=0), "batch_size must be at least 1"),
        (lambda: HubBackend(base_url="http://127.0.0.1:9", max_concurrency=0), "max_concurrency"),
    ],
)
def test_bad_settings_fail_at_construction(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        build()


def test_the_framework_objects_refuse_bad_call_options_before_sending() -> None:
    from langchain_core.messages import HumanMessage

    from hfbridge.langchain import ChatHF, HFEmbeddings
    from hfbridge.llama_index import HFLLM, HFEmbedding

    with RecordingServer() as server:
        chat = ChatHF(base_url=server.url)
        for call in (
            lambda: chat.invoke([HumanMessage("hi")], max_tokens="5"),
            lambda: chat.invoke([HumanMessage("hi")], stop=[5]),
            lambda: list(chat.stream([HumanMessage("hi")], temperature="hot")),
            lambda: chat.invoke([HumanMessage("")]),
            lambda: chat.invoke("hi \ud800"),
            lambda: HFEmbeddings(base_url=server.url).embed_documents(["ok", "\ud800"]),
            lambda: HFEmbeddings(base_url=server.url).embed_query(5),
            lambda: HFLLM(base_url=server.url).complete("hi", max_tokens="5"),
            lambda: HFEmbedding(base_url=server.url).get_text_embedding_batch(["ok", 3]),
        ):
            with pytest.raises(InvalidInputError):
                call()
    assert server.requests == []


def test_the_langchain_adapter_raises_typed_errors_for_bad_options() -> None:
    from langchain_core.messages import HumanMessage
    from pydantic import BaseModel

    from hfbridge.langchain import HFLLM as LangChainLLM
    from hfbridge.langchain import ChatHF

    class Answer(BaseModel):
        answer: str

    with RecordingServer() as server:
        chat = ChatHF(base_url=server.url)
        calls = {
            "unknown call option": lambda: chat.invoke([HumanMessage("hi")], frobnicate=1),
            "unknown structured method": lambda: chat.with_structured_output(Answer, method="xml"),
            "structured output without schema": lambda: chat.with_structured_output(None, method="function_calling"),
            "structured output extra argument": lambda: chat.with_structured_output(Answer, colour="red"),
            "tool_choice naming no bound tool": lambda: chat.bind_tools([Answer], tool_choice="Other"),
            "tool_choice of a wrong type": lambda: chat.bind_tools([Answer], tool_choice=3.5),
            "LLM unknown call option": lambda: LangChainLLM(base_url=server.url).invoke("hi", frobnicate=1),
        }
        for name, call in calls.items():
            with pytest.raises(InvalidInputError):
                call()
                pytest.fail(f"{name}: no error")
    assert server.requests == []


def test_a_token_of_the_wrong_type_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="token must be a string"):
        HubBackend(base_url="http://127.0.0.1:9", token=5)  # type: ignore[arg-type]


def test_a_base_url_with_a_query_keeps_it_on_the_chat_route() -> None:
    # huggingface_hub appends /v1/chat/completions to the path, not after the query (an api-version, a key).
    answer = {"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    with RecordingServer(body=answer) as server:
        backend = HubBackend(base_url=server.url + "/v1?api-version=2024-06-01")
        assert backend.chat_completion(M).message.content == "hi"
        with pytest.raises(APIError, match="not an event stream"):  # the double answers JSON; the route is the point
            list(backend.stream_chat_completion(M))
    assert server.requests[0].path == "/v1/chat/completions?api-version=2024-06-01"
    assert server.requests[1].path == "/v1/chat/completions?api-version=2024-06-01"
