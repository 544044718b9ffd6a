"""The two adapters agree where the frameworks agree: empty inputs, bad inputs refused before the backend, and an
answer cut by ``max_tokens`` inside a tool call or a structured output raised as ``OutputTruncatedError`` (what
``ChatOpenAI`` does with ``LengthFinishReasonError``), never returned as ``None`` or a half-filled object.

The cut answers are real: the local model writes tool arguments and JSON under a grammar and stops at
``max_tokens``, in-process and through the protocol server with the real InferenceClient.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from hfbridge import HubBackend, InvalidInputError, LocalBackend, OutputTruncatedError
from hfbridge.server import FaultPlan, ServerThread, create_app


class Joke(BaseModel):
    """A joke with a setup and a punchline."""

    setup: str
    punchline: str


def lookup_order(order_id: str, include_history: bool) -> str:
    """Look up an order by its id."""
    return order_id


@pytest.fixture(scope="module")
def served(local_backend: LocalBackend) -> Iterator[Any]:
    plan = FaultPlan()
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        server.plan = plan
        yield server


# ---------------------------------------------------------------------------------------------- empty and bad
def test_empty_lists_embed_to_an_empty_list_in_both_adapters(served: Any) -> None:
    from hfbridge.langchain import HFEmbeddings
    from hfbridge.llama_index import HFEmbedding

    before = served.plan.stats["requests"]
    assert HFEmbeddings(base_url=served.url).embed_documents([]) == []
    assert HFEmbedding(base_url=served.url).get_text_embedding_batch([]) == []
    assert served.plan.stats["requests"] == before, "nothing is sent for nothing"


async def test_empty_lists_embed_to_an_empty_list_async(served: Any) -> None:
    from hfbridge.langchain import HFEmbeddings
    from hfbridge.llama_index import HFEmbedding

    assert await HFEmbeddings(base_url=served.url).aembed_documents([]) == []
    assert await HFEmbedding(base_url=served.url).aget_text_embedding_batch([]) == []


def _langchain_calls(embeddings: Any) -> dict[str, Any]:
    return {
        "embed_documents('a string')": lambda: embeddings.embed_documents("a string"),
        "embed_documents([None])": lambda: embeddings.embed_documents([None]),
        "embed_documents(['ok', ''])": lambda: embeddings.embed_documents(["ok", ""]),
        "embed_documents(None)": lambda: embeddings.embed_documents(None),
        "embed_query(None)": lambda: embeddings.embed_query(None),
        "embed_query(5)": lambda: embeddings.embed_query(5),
        "embed_query('')": lambda: embeddings.embed_query(""),
    }


def _llama_index_calls(embedding: Any, llm: Any) -> dict[str, Any]:
    return {
        "get_text_embedding_batch('a string')": lambda: embedding.get_text_embedding_batch("a string"),
        "get_text_embedding_batch([3])": lambda: embedding.get_text_embedding_batch([3]),
        "get_query_embedding(None)": lambda: embedding.get_query_embedding(None),
        "get_text_embedding(None)": lambda: embedding.get_text_embedding(None),
        "complete(None)": lambda: llm.complete(None),
        "complete(5)": lambda: llm.complete(5),
        "stream_complete(None)": lambda: llm.stream_complete(None),
    }


def test_bad_inputs_are_refused_by_the_adapters_before_the_backend(served: Any) -> None:
    from hfbridge.langchain import HFEmbeddings
    from hfbridge.llama_index import HFLLM, HFEmbedding

    # With query / document instructions a prefix would otherwise turn None or "" into text worth embedding.
    embedding = HFEmbedding(base_url=served.url, text_instruction="passage: ")
    calls = {
        **_langchain_calls(HFEmbeddings(base_url=served.url, query_instruction="query: ")),
        **_llama_index_calls(embedding, HFLLM(base_url=served.url)),
    }
    before = served.plan.stats["requests"]
    for name, call in calls.items():
        with pytest.raises(InvalidInputError):
            call()
            pytest.fail(f"{name} was accepted")
    assert served.plan.stats["requests"] == before, "nothing was sent"


async def test_bad_inputs_are_refused_async(served: Any) -> None:
    from hfbridge.langchain import HFEmbeddings
    from hfbridge.llama_index import HFLLM, HFEmbedding

    with pytest.raises(InvalidInputError):
        await HFEmbeddings(base_url=served.url).aembed_documents("a string")
    with pytest.raises(InvalidInputError):
        await HFEmbeddings(base_url=served.url).aembed_query(None)
    with pytest.raises(InvalidInputError):
        await HFEmbedding(base_url=served.url).aget_query_embedding(None)
    with pytest.raises(InvalidInputError):
        await HFLLM(base_url=served.url).acomplete(None)


# ------------------------------------------------------------------------------------------------ truncation
def _chat_models(local_backend: LocalBackend, served: Any) -> dict[str, Any]:
    from hfbridge.langchain import ChatHF

    return {
        "local": ChatHF(backend=local_backend, max_tokens=6, temperature=0),
        "server": ChatHF(base_url=served.url, max_tokens=6, temperature=0),
    }


@pytest.mark.parametrize("where", ["local", "server"])
def test_a_cut_tool_call_is_reported_as_length_by_the_backends(
    local_backend: LocalBackend, served: Any, where: str
) -> None:
    tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]  # fmt: skip
    backend = local_backend if where == "local" else HubBackend(base_url=served.url)
    messages = [{"role": "user", "content": "Look up order A-12345-XYZ-98765 please."}]
    answer = backend.chat_completion(messages, tools=tools, tool_choice="lookup_order", max_tokens=4)
    assert answer.finish_reason == "length" and answer.tool_calls
    chunks = list(backend.stream_chat_completion(messages, tools=tools, tool_choice="lookup_order", max_tokens=4))
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]


@pytest.mark.parametrize("where", ["local", "server"])
@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_langchain_structured_output_cut_by_max_tokens_raises(
    local_backend: LocalBackend, served: Any, where: str, method: str
) -> None:
    llm = _chat_models(local_backend, served)[where]
    prompt = "Tell me a joke about Santa, as JSON with the keys setup and punchline."
    for include_raw in (False, True):
        structured = llm.with_structured_output(Joke, method=method, include_raw=include_raw)
        with pytest.raises(OutputTruncatedError, match="max_tokens") as caught:
            structured.invoke(prompt)
        assert caught.value.received_text, "the cut output is kept for the caller"


def test_langchain_cut_tool_call_raises_on_invoke_and_stream(local_backend: LocalBackend) -> None:
    from hfbridge.langchain import ChatHF

    bound = ChatHF(backend=local_backend, max_tokens=4).bind_tools([lookup_order], tool_choice="lookup_order")
    question = "Look up order A-12345-XYZ-98765 with its history."
    with pytest.raises(OutputTruncatedError, match="lookup_order"):
        bound.invoke(question)
    with pytest.raises(OutputTruncatedError, match="lookup_order"):
        list(bound.stream(question))
    whole = ChatHF(backend=local_backend, max_tokens=200).bind_tools([lookup_order], tool_choice="lookup_order")
    assert whole.invoke(question).tool_calls[0]["name"] == "lookup_order", "an uncut call is untouched"


async def test_langchain_cut_tool_call_raises_async(local_backend: LocalBackend) -> None:
    from hfbridge.langchain import ChatHF

    bound = ChatHF(backend=local_backend, max_tokens=4).bind_tools([lookup_order], tool_choice="lookup_order")
    with pytest.raises(OutputTruncatedError):
        await bound.ainvoke("Look up order A-12345-XYZ-98765.")
    with pytest.raises(OutputTruncatedError):
        async for _ in bound.astream("Look up order A-12345-XYZ-98765."):
            pass


@pytest.mark.parametrize("where", ["local", "server"])
def test_llama_index_structured_predict_cut_by_max_tokens_raises(
    local_backend: LocalBackend, served: Any, where: str
) -> None:
    from llama_index.core.prompts import PromptTemplate

    from hfbridge.llama_index import HFLLM

    llm = HFLLM(backend=local_backend, max_tokens=6) if where == "local" else HFLLM(base_url=served.url, max_tokens=6)
    with pytest.raises(OutputTruncatedError, match="max_tokens"):
        llm.structured_predict(Joke, PromptTemplate("Tell me a joke about {topic}."), topic="Santa")


async def test_llama_index_tool_parsing_of_a_cut_call_raises_streaming(local_backend: LocalBackend) -> None:
    from llama_index.core.tools import FunctionTool

    from hfbridge.llama_index import HFLLM

    llm = HFLLM(backend=local_backend, max_tokens=4)
    tool = FunctionTool.from_defaults(fn=lookup_order)
    responses = [
        response
        async for response in await llm.astream_chat_with_tools(
            [tool], user_msg="Look up order A-12345.", tool_required=True
        )
    ]
    last = responses[-1]
    assert last.additional_kwargs["finish_reason"] == "length"
    # While the stream runs, partial arguments are read as LlamaIndex expects (stream_structured_predict does it).
    assert llm.get_tool_calls_from_response(responses[0], error_on_no_tool_call=False)[0].tool_name == "lookup_order"
    with pytest.raises(OutputTruncatedError, match="lookup_order"):
        llm.get_tool_calls_from_response(last)
    whole = HFLLM(backend=local_backend, max_tokens=200)
    response = whole.chat_with_tools([tool], user_msg="Look up order A-12345.", tool_required=True)
    assert whole.get_tool_calls_from_response(response)[0].tool_kwargs["order_id"]
