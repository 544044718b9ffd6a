"""langchain-tests 1.1.9 unit suites for every LangChain adapter."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests, ToolsUnitTests

from hfbridge.langchain import HFEmbeddings

from ._capabilities import ChatHFCapabilities
from ._tool_suites import tool_suites

URL = "http://127.0.0.1:8765"


class TestChatHFUnit(ChatHFCapabilities, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": URL, "model": "HuggingFaceTB/SmolLM2-135M-Instruct"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"HF_TOKEN": "hf_" + "x" * 30},
            {"model": "meta-llama/Llama-3.1-8B-Instruct", "provider": "auto"},
            {"api_key": "hf_" + "x" * 30, "model": "meta-llama/Llama-3.1-8B-Instruct"},
        )


class TestHFEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[HFEmbeddings]:
        return HFEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"base_url": URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"HF_TOKEN": "hf_" + "y" * 30},
            {"model": "BAAI/bge-small-en-v1.5", "provider": "hf-inference"},
            {"api_key": "hf_" + "y" * 30, "model": "BAAI/bge-small-en-v1.5"},
        )


# One ToolsUnitTests class per tool of the registry (TestNamedEntityRecognitionToolUnit, ...).
globals().update(tool_suites("Unit", (ToolsUnitTests,), lambda spec: {"base_url": URL}))
