"""LangChain adapters end to end on real objects: a create_agent agent, a retrieval chain over embedded Qdrant,
tool errors an agent can read, and the anchor failures we must not repeat."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel
from typing_extensions import TypedDict

from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.langchain import HFLLM, ChatHF, HFEmbeddings, NERTool, ZeroShotClassificationTool, hf_tools
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import langchain_agent
import langchain_rag


def test_agent_calls_ner_and_zero_shot_through_chat_tool_calling(local_backend: LocalBackend) -> None:
    messages = langchain_agent.triage(local_backend)
    calls = [call for m in messages if isinstance(m, AIMessage) for call in m.tool_calls]
    assert [call["name"] for call in calls] == ["named_entity_recognition", "zero_shot_classification"]
    assert "Maria Garcia" in calls[0]["args"]["text"]
    results = {m.name: json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)}
    entities = {(e["word"], e["entity_group"]) for e in results["named_entity_recognition"]}
    assert {("Maria Garcia", "PER"), ("Acme Corp", "ORG"), ("Madrid", "LOC")} <= entities
    assert results["zero_shot_classification"][0]["label"] == "billing"
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls and final.content


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("How do I reset my password?", "passwords.md"),
        ("How can I change my payment method?", "billing.md"),
        ("When is support open on Saturday?", "hours.md"),
        ("What happens when I exceed the API rate limit?", "api.md"),
    ],
)
def test_retrieval_chain_over_embedded_qdrant(
    local_backend: LocalBackend, tmp_path: Path, question: str, source: str
) -> None:
    store = langchain_rag.open_qdrant(HFEmbeddings(backend=local_backend), path=tmp_path / "qdrant")
    langchain_rag.ingest(store, langchain_rag.load_documents(), log=lambda _: None)
    assert store.similarity_search(question, k=1)[0].metadata["source"] == source
    answer = langchain_rag.build_chain(local_backend, store).invoke(question)
    assert isinstance(answer, str) and answer.strip()


async def test_sync_embeddings_work_inside_a_running_event_loop(local_backend: LocalBackend) -> None:
    # The LlamaIndex anchor calls asyncio.run() here and crashes (#22744); ours never starts a loop.
    embeddings = HFEmbeddings(backend=local_backend)
    assert asyncio.get_running_loop().is_running()
    assert len(embeddings.embed_documents(["one", "two"])) == 2
    assert len(await embeddings.aembed_query("three")) == 384


def test_embeddings_batch_through_the_backend() -> None:
    # 70 texts, batch_size 32 -> 3 requests, order kept (the LangChain anchor sends all texts in one request).
    backend = LocalBackend(batch_size=32)
    texts = [f"document number {i}" for i in range(70)]
    vectors = HFEmbeddings(backend=backend).embed_documents(texts)
    alone = backend.feature_extraction([texts[69]])[0]
    assert len(vectors) == 70 and sum(a * b for a, b in zip(vectors[69], alone, strict=True)) > 0.9999


def test_tool_input_errors_reach_the_agent_as_text(local_backend: LocalBackend) -> None:
    tool = ZeroShotClassificationTool(backend=local_backend)
    message = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": {"text": "hello"}})
    assert isinstance(message, ToolMessage) and message.status == "error"
    assert "'labels' missing" in str(message.content)
    bad = tool.invoke({"type": "tool_call", "id": "c2", "name": tool.name, "args": {"text": "", "labels": ["a"]}})
    assert "Invalid tool input" in str(bad.content)
    duplicate = tool.invoke({"type": "tool_call", "id": "c3", "name": tool.name,
                             "args": {"text": "x", "labels": ["a", "a"]}})  # fmt: skip
    assert "InvalidInputError" in str(duplicate.content) and "twice" in str(duplicate.content)


def test_backend_errors_reach_the_agent_as_text(local_backend: LocalBackend) -> None:
    plan = FaultPlan(script=[Fault.http_status(402, "credits exceeded")])
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        tool = NERTool(backend=HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=3)))
        message = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": {"text": "Ada in Paris"}})
    assert message.status == "error" and "QuotaExceededError" in str(message.content)
    assert plan.stats["requests"] == 1, "402 is never retried"


async def test_tools_async_and_filtered(local_backend: LocalBackend) -> None:
    ner = NERTool(backend=local_backend)
    result = json.loads(await ner.ainvoke({"text": "Angela Merkel visited Paris.", "entity_types": ["loc"]}))
    assert [entity["word"] for entity in result] == ["Paris"]


def test_hf_tools_share_one_backend() -> None:
    tools = hf_tools(labels=["a", "b"], include=("sentiment", "zero_shot", "ner", "image"))
    assert len({id(tool.client) for tool in tools}) == 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown tools"):
        hf_tools(include=("nope",))


@pytest.mark.parametrize(
    ("choice", "expect_call"),
    [("auto", None), ("none", False), ("required", True), ("any", True), (True, True), ("get_weather", True),
     ({"type": "function", "function": {"name": "get_weather"}}, True)],
)  # fmt: skip
def test_every_tool_choice_form(local_backend: LocalBackend, choice: Any, expect_call: bool | None) -> None:
    def get_weather(location: str) -> str:
        """Get the weather at a location."""
        return "sunny"

    def get_time(city: str) -> str:
        """Get the local time in a city."""
        return "noon"

    llm = ChatHF(backend=local_backend, max_tokens=40).bind_tools([get_weather, get_time], tool_choice=choice)
    message = llm.invoke("What is the weather in Paris?")
    if expect_call is not None:
        assert bool(message.tool_calls) is expect_call
    if isinstance(choice, (str, dict)) and choice not in ("auto", "none", "required", "any"):
        assert message.tool_calls[0]["name"] == "get_weather"


def test_structured_output_types(local_backend: LocalBackend) -> None:
    class Person(BaseModel):
        name: str
        age: int

    class PersonDict(TypedDict):
        name: str
        age: int

    llm = ChatHF(backend=local_backend, max_tokens=60)
    for method in ("function_calling", "json_schema"):
        person = llm.with_structured_output(Person, method=method).invoke("Ann is 31 years old.")
        assert isinstance(person, Person) and person.age == 31
        as_dict = llm.with_structured_output(PersonDict, method=method).invoke("Ann is 31 years old.")
        assert isinstance(as_dict, dict) and set(as_dict) == {"name", "age"}
    raw = llm.with_structured_output(Person, include_raw=True).invoke("Ann is 31 years old.")
    assert isinstance(raw["raw"], AIMessage) and isinstance(raw["parsed"], Person) and raw["parsing_error"] is None


def test_chat_history_is_not_mutated_and_max_tokens_honoured(local_backend: LocalBackend) -> None:
    history = [HumanMessage("Tell me a long story about a dragon.")]
    snapshot = [m.model_dump() for m in history]
    message = ChatHF(backend=local_backend, max_tokens=7).invoke(history)
    assert [m.model_dump() for m in history] == snapshot
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 7
    assert message.response_metadata["finish_reason"] == "length"


def test_streaming_usage_and_metadata_on_one_chunk(local_backend: LocalBackend) -> None:
    chunks = list(ChatHF(backend=local_backend, max_tokens=8).stream("Say hello"))
    assert sum(1 for c in chunks if c.response_metadata.get("model_name")) == 1
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert "".join(str(c.content) for c in chunks).strip()


def test_llm_batches_prompts_concurrently_through_the_backend(local_backend: LocalBackend) -> None:
    llm = HFLLM(backend=local_backend, max_new_tokens=4)
    outputs = llm.batch(["The sky is", "Water is", "Fire is"])
    assert len(outputs) == 3 and all(isinstance(text, str) and text for text in outputs)
    assert "".join(llm.stream("Once upon a time", stop=["."])).strip()


def test_no_network_or_model_load_in_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    llm = ChatHF(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto")
    assert isinstance(llm.client, HubBackend) and llm.client.transport._client is None
    local = ChatHF()
    assert isinstance(local.client, LocalBackend) and not local.client._llm.loaded
    assert "hf_" not in repr(ChatHF(base_url="http://127.0.0.1:9", api_key="hf_" + "z" * 30))
