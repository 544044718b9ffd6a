"""Provider awareness: binding tools or a response format fails early, with a clear message, when the Hub's
provider mapping says the chosen provider cannot serve it (the Hub model API emulated by the protocol server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from hfbridge import HubBackend, LocalBackend, UnsupportedTaskError
from hfbridge.langchain import ChatHF
from hfbridge.llama_index import HFLLM, HFToolSpec
from hfbridge.server import ServerThread, create_app
from hfbridge.server.hub_emulation import HubEmulation

MODEL = "acme/chat-model"
MAPPING = {
    "together": {"status": "live", "providerId": "acme/chat", "task": "conversational",
                 "features": {"toolCalling": True, "structuredOutput": True}},
    "novita": {"status": "live", "providerId": "acme-chat", "task": "conversational",
               "features": {"toolCalling": False, "structuredOutput": False}},
    "hf-inference": {"status": "live", "providerId": MODEL, "task": "text-generation"},
    "groq": {"status": "error", "providerId": "acme", "task": "conversational"},
}  # fmt: skip


@pytest.fixture
def hub(local_backend: LocalBackend) -> Iterator[Any]:
    app = create_app(local_backend)
    HubEmulation.mount(app)  # the Hub's model API, emulated for these tests only
    with ServerThread(app) as server:
        httpx2.put(f"{server.url}/_hfbridge/models/{MODEL}", json=MAPPING, timeout=5).raise_for_status()
        yield server


def backend(hub: Any, provider: str) -> HubBackend:
    return HubBackend(MODEL, provider=provider, hub_endpoint=hub.url, token="hf_" + "p" * 34)


def test_supported_provider_passes(hub: Any) -> None:
    backend(hub, "together").check_chat_support(tools=True, response_format=True)
    backend(hub, "auto").check_chat_support(tools=True)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("hf-inference", "not served for chat by provider 'hf-inference'"),
        ("groq", "not served for chat by provider 'groq'"),
        ("cerebras", r"chat providers for it: \[.novita., .together.\]"),
    ],
)
def test_provider_that_does_not_serve_chat_fails_early(hub: Any, provider: str, message: str) -> None:
    with pytest.raises(UnsupportedTaskError, match=message):
        backend(hub, provider).check_chat_support()


def test_feature_flags_when_the_hub_returns_them(hub: Any) -> None:
    with pytest.raises(UnsupportedTaskError, match=r"does not support toolCalling.*providers that do: \[.together.\]"):
        backend(hub, "novita").check_chat_support(tools=True)
    backend(hub, "novita").check_chat_support()  # plain chat is fine


def test_adapters_check_at_bind_time_and_cache_the_lookup(hub: Any) -> None:
    def lookup(word: str) -> str:
        """Look a word up."""
        return word

    chat = ChatHF(backend=backend(hub, "novita"))
    with pytest.raises(UnsupportedTaskError, match="toolCalling"):
        chat.bind_tools([lookup])
    with pytest.raises(UnsupportedTaskError, match="structuredOutput"):
        chat.with_structured_output({"title": "X", "type": "object", "properties": {}}, method="json_schema")
    llm = HFLLM(backend=backend(hub, "novita"))
    with pytest.raises(UnsupportedTaskError, match="toolCalling"):
        llm.chat_with_tools(HFToolSpec(LocalBackend(), labels=["a"]).to_tool_list(), user_msg="hi")
    assert ChatHF(backend=backend(hub, "together")).bind_tools([lookup]) is not None


def test_unknown_model_and_unreachable_hub(hub: Any) -> None:
    with pytest.raises(UnsupportedTaskError, match="not found"):
        HubBackend("acme/missing", provider="together", hub_endpoint=hub.url).check_chat_support()
    # No Hub reachable: nothing is known, so nothing is refused.
    HubBackend(MODEL, provider="together", hub_endpoint="http://127.0.0.1:1").check_chat_support(tools=True)
    HubBackend(base_url=hub.url).check_chat_support(tools=True)  # a URL: nothing to look up
