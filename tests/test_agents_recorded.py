"""The agent examples with the opt-in Qwen2.5-Coder-1.5B and no guardrails: 10 prompts, each with one right tool.

LangChain ``create_agent``, LlamaIndex ``FunctionAgent`` and ``ReActAgent`` run over HTTP against the protocol
server backed by ``LocalBackend(chat_model="qwen2.5-coder-1.5b")`` (tool calls parsed from its replies, no forced
tool, no ``initial_tool_choice``). CI replays the cassettes in ``cassettes/agents/``; nothing is downloaded.
Record (needs ``hfbridge models install qwen2.5-coder-1.5b``; slow: two or three generations a prompt)::

    HFBRIDGE_RECORD=local flock /work/coord/port-8766.lock bash scripts/test.sh tests/test_agents_recorded.py

Each agent must pick the right tool first on at least 8 of the 10 prompts (docs/local-models.md has the scores).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from llama_index.core.agent.workflow import ToolCall, ToolCallResult

from hfbridge import HubBackend, LocalBackend, RetryPolicy
from hfbridge.backends.local._install import QWEN_CODER_1_5B, installed_path
from hfbridge.server import ServerThread, create_app

from .conftest import CASSETTES, RECORD, cassette_vcr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import langchain_agent
import llamaindex_agent

URL = "http://127.0.0.1:8766"
NER, TOPIC, SENTIMENT = "named_entity_recognition", "zero_shot_classification", "text_classification"
PROMPTS = [
    ("Who and which companies are mentioned in: 'Maria Garcia from Acme Corp in Madrid wrote to us.'", NER),
    ("Is this review positive or negative: 'The new dashboard is fantastic, thank you!'", SENTIMENT),
    ("What is this customer message about: 'I was charged twice for my subscription this month.'", TOPIC),
    ("List the people and places in: 'Tom Becker flew from Berlin to Lisbon to meet Ana Silva.'", NER),
    ("How does this customer feel: 'Support never answered and the app keeps crashing.'", SENTIMENT),
    ("Route this ticket to the right team: 'I cannot log in since I changed my email address.'", TOPIC),
    ("Extract the organisations from: 'Globex signed a contract with Initech in Chicago.'", NER),
    ("Tell me the sentiment of: 'I love how quickly my refund arrived.'", SENTIMENT),
    ("Which topic fits this ticket: 'The mobile app shows an error 500 when I upload a photo.'", TOPIC),
    ("Find the named entities in: 'Elon Musk founded SpaceX in Hawthorne, California in 2002.'", NER),
]
REQUIRED = 8


@pytest.fixture(scope="module")
def qwen_server() -> Iterator[None]:
    if RECORD != "local":
        yield  # replay: nothing listens, the cassettes answer
        return
    if installed_path(QWEN_CODER_1_5B) is None:
        pytest.skip(f"re-recording needs the opt-in model: hfbridge models install {QWEN_CODER_1_5B}")
    with ServerThread(create_app(LocalBackend(chat_model=QWEN_CODER_1_5B)), port=8766):
        yield


@pytest.fixture
def remote(qwen_server: None) -> Iterator[HubBackend]:
    backend = HubBackend(base_url=URL, retry=RetryPolicy(max_attempts=1, deadline=None), timeout=600)
    yield backend
    backend.close()


def _replayed(agent: str, index: int) -> Any:
    # Recording keeps the cassettes already recorded ("once"): at ~1-3 min a prompt on a busy 2-core machine, a
    # recording can resume where it stopped. Delete cassettes/agents/ to record everything again.
    return cassette_vcr().use_cassette(f"agents/{agent}-{index:02d}.yaml", record_mode="once" if RECORD else "none")


def _require_cassettes(agent: str) -> None:
    """Replay needs all ten; until they are recorded the test says so instead of failing on a missing file."""
    missing = [i for i in range(len(PROMPTS)) if not (CASSETTES / "agents" / f"{agent}-{i:02d}.yaml").is_file()]
    if RECORD != "local" and missing:
        pytest.skip(f"cassettes/agents/{agent}-*.yaml not recorded yet ({len(missing)} of {len(PROMPTS)} missing); "
                    "record them with the opt-in model (see the module docstring)")  # fmt: skip


def _score(first_tools: list[str | None]) -> int:
    return sum(tool == expected for tool, (_, expected) in zip(first_tools, PROMPTS, strict=True))


def test_langchain_create_agent_picks_the_tool(remote: HubBackend) -> None:
    _require_cassettes("langchain")
    assert not langchain_agent.uses_guardrails(remote)
    agent = langchain_agent.build_agent(remote, include=("ner", "zero_shot", "sentiment"), max_tokens=96)
    first_tools: list[str | None] = []
    for index, (prompt, _) in enumerate(PROMPTS):
        with _replayed("langchain", index):
            messages = langchain_agent.ask(agent, prompt)
        calls = [call["name"] for m in messages if isinstance(m, AIMessage) for call in m.tool_calls]
        first_tools.append(calls[0] if calls else None)
        assert isinstance(messages[-1], AIMessage) and messages[-1].content, "the agent ended with an answer"
    assert _score(first_tools) >= REQUIRED, first_tools


@pytest.mark.parametrize("kind", ["function", "react"])
async def test_llamaindex_agents_pick_the_tool(remote: HubBackend, kind: str) -> None:
    _require_cassettes(f"llamaindex-{kind}")
    assert not llamaindex_agent.uses_guardrails(remote)
    first_tools: list[str | None] = []
    for index, (prompt, _) in enumerate(PROMPTS):
        agent = llamaindex_agent.build_agent(remote, kind=kind, max_tokens=96)
        with _replayed(f"llamaindex-{kind}", index):
            events = await llamaindex_agent.ask(agent, prompt)
        calls = [e.tool_name for e in events if isinstance(e, ToolCall) and not isinstance(e, ToolCallResult)]
        first_tools.append(calls[0] if calls else None)
    assert _score(first_tools) >= REQUIRED, first_tools
