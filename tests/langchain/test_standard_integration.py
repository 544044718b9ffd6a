"""langchain-tests 1.1.9 integration suites, replayed from cassettes of the real InferenceClient talking to the
protocol server backed by the local models (re-recordable against the real API: see README)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
    ToolsIntegrationTests,
)

from hfbridge import OutputTruncatedError
from hfbridge.langchain import HFEmbeddings
from hfbridge.tools import TOOLS

from ..conftest import CASSETTES, RECORD, _target, cassette_vcr
from ._capabilities import ChatHFCapabilities
from ._tool_suites import suite_name, tool_suites


def _backend_params(task: str) -> dict[str, Any]:
    target = _target()
    if target["kind"] == "local":
        return {"base_url": target["base_url"], "max_retries": 0, "timeout": 120}
    return {"model": target["task_models"].get(task), "provider": target["provider"], "max_retries": 0}


class _Cassettes:
    @pytest.fixture(autouse=True)
    def _cassette(self, request: pytest.FixtureRequest, hub_target: dict[str, Any]) -> Iterator[None]:
        name = f"{type(self).__name__}/{request.node.name}".replace("[", "-").replace("]", "").replace("'", "")
        with cassette_vcr().use_cassette(f"langchain/{name}.yaml"):
            yield


class TestChatHFIntegration(ChatHFCapabilities, _Cassettes, ChatModelIntegrationTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _backend_params("chat")

    @property
    def supports_image_inputs(self) -> bool:
        return False  # the local SmolLM2 has no vision; hub vision models work through the same code

    @property
    def enable_vcr_tests(self) -> bool:
        return False  # every test here already runs on our own cassettes

    @pytest.mark.xfail(
        reason="limit of SmolLM2-135M, the local model the cassettes are recorded with: in json_mode no schema is "
        "sent and it loops until max_tokens cuts its JSON (json_schema and function_calling pass); the cut answer "
        "raises OutputTruncatedError instead of being parsed into a half-filled object",
        raises=OutputTruncatedError,
        strict=True,
    )
    def test_json_mode(self, model: Any) -> None:
        super().test_json_mode(model)


class TestHFEmbeddingsIntegration(_Cassettes, EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[HFEmbeddings]:
        return HFEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return _backend_params("feature-extraction")


# One ToolsIntegrationTests class per tool of the registry, each replaying cassettes/langchain/<class name>/ (record a
# new tool's: HFBRIDGE_RECORD=local bash scripts/test.sh tests/langchain/test_standard_integration.py -k <class name>).
# A tool whose task no offline model runs (``local=None``: summarization, translation...) can only be recorded against
# the Hub (HFBRIDGE_RECORD=hub with HF_TOKEN): until its cassettes exist its suite is skipped, saying so.
_SUITES = tool_suites(
    "Integration", (_Cassettes, ToolsIntegrationTests), lambda spec: _backend_params(spec.task.pipeline_tag)
)
for _spec in TOOLS:
    _name = suite_name(_spec, "Integration")
    if _name in _SUITES and _spec.task.local is None and not RECORD and not (CASSETTES / "langchain" / _name).is_dir():
        _SUITES[_name] = pytest.mark.skip(
            reason=f"no offline model runs {_spec.task.pipeline_tag}: record cassettes/langchain/{_name} with "
            "HFBRIDGE_RECORD=hub and HF_TOKEN"
        )(_SUITES[_name])
globals().update(_SUITES)
