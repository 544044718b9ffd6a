"""A LlamaIndex ReActAgent calling the tools, replayed from cassettes recorded against the protocol server backed by
a model that can write ReAct steps (Qwen2.5-0.5B GGUF; SmolLM2-135M cannot). CI replays; nothing is installed.
Re-record: HFBRIDGE_RECORD=local HFBRIDGE_QWEN_GGUF=$(bash scripts/fetch_qwen.sh) bash scripts/test.sh <this file>.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import ReActAgent, ToolCallResult

from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.llama_index import HFLLM, HFToolSpec
from hfbridge.server import ServerThread, create_app

from ..conftest import RECORD, cassette_vcr

REACT_URL = "http://127.0.0.1:8766"


@pytest.fixture(scope="module")
def react_server() -> Iterator[None]:
    if RECORD != "local":
        yield  # replay: nothing listens, the cassette answers
        return
    gguf = os.environ.get("HFBRIDGE_QWEN_GGUF")
    if not gguf:
        pytest.skip("set HFBRIDGE_QWEN_GGUF (bash scripts/fetch_qwen.sh) to re-record the ReAct cassettes")
    with ServerThread(create_app(LocalBackend(chat_model=gguf)), port=8766):
        yield


@pytest.fixture
def react_cassette(request: pytest.FixtureRequest, react_server: None) -> Iterator[Any]:
    with cassette_vcr().use_cassette(f"llama_index/{request.node.name}.yaml") as cassette:
        yield cassette


async def test_react_agent_calls_the_ner_tool(react_cassette: Any) -> None:
    remote = HubBackend(base_url=REACT_URL, retry=RetryPolicy(max_attempts=1, deadline=None), timeout=120)
    tools = HFToolSpec(remote, labels=["billing", "account", "technical support", "general"]).to_tool_list()
    agent = ReActAgent(tools=tools, llm=HFLLM(backend=remote, max_tokens=200))
    request = (
        "Find the named entities in: 'Maria Garcia from Acme Corp in Madrid.' "
        "Then classify the topic of 'I need to update my payment method.'"
    )
    handler = agent.run(request, max_iterations=8)
    events = [event async for event in handler.stream_events()]
    response = await handler
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert results and results[0].tool_name == "named_entity_recognition"
    entities = {(e["word"], e["entity_group"]) for e in json.loads(str(results[0].tool_output))}
    assert ("Maria Garcia", "PER") in entities
    assert response is not None
    await remote.aclose()
