"""Reliability under faults, concurrency and bad input (issue: fault soak, bad input, secrets, concurrency)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import vcr
from bench.soak import run_soak

from hfbridge import (
    ConfigurationError,
    HubBackend,
    InvalidInputError,
    LocalBackend,
    RateLimit,
    RetryPolicy,
    UnsupportedTaskError,
)
from hfbridge.langchain import NERTool, TextClassificationTool, ZeroShotClassificationTool
from hfbridge.server import FaultPlan, ServerThread, create_app

pytestmark = pytest.mark.live_server


def test_short_soak_keeps_every_invariant(local_backend: LocalBackend) -> None:
    report = run_soak(texts=400, chats=40, local=local_backend, seed=11)
    assert report.ok, report
    assert set(report.faults_injected) >= {"rate_limited", "loading", "drop", "stall"}
    assert report.retries_logged > 0
    assert report.embeddings_lost == 0 and report.embeddings_mismatched == 0
    assert not [kind for kind in report.failures if kind.startswith("untyped")]


def test_threads_and_tasks_share_one_backend_and_limiter(local_backend: LocalBackend) -> None:
    plan = FaultPlan()
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        backend = HubBackend(base_url=server.url, rate_limit=RateLimit(250, per=1.0, burst=10),
                             retry=RetryPolicy(max_attempts=3))  # fmt: skip
        results: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def worker(index: int) -> None:
            try:
                label = backend.text_classification(f"I love this, thread {index}")[0].label
                with lock:
                    results.append(label)
            except BaseException as error:  # collected: a "client has been closed" error would land here
                errors.append(error)

        async def tasks() -> list[Any]:
            return await asyncio.gather(
                *(backend.atext_classification(f"I hate this, task {i}") for i in range(200)), return_exceptions=True
            )

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        outcomes = asyncio.run(tasks())
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert not errors and not [o for o in outcomes if isinstance(o, BaseException)]
    assert len(results) == 32 and all(label == "POSITIVE" for label in results)
    # Every answer is the one for its own text (no responses crossed between concurrent requests).
    expected = [local_backend.text_classification(f"I hate this, task {i}")[0] for i in range(200)]
    assert [o[0] for o in outcomes] == expected
    assert plan.stats["requests"] == 232
    assert elapsed >= (232 - 10) / 250 - 0.05, f"the shared limiter allows 250/s, took {elapsed:.2f}s"


def test_unsupported_task_for_a_provider_fails_before_sending() -> None:
    backend = HubBackend(model="meta-llama/Llama-3.1-8B-Instruct", provider="groq", token="hf_" + "t" * 30)
    with vcr.VCR(record_mode="none").use_cassette("nothing-may-be-sent.yaml"), pytest.raises(UnsupportedTaskError):
        backend.feature_extraction(["hello"])


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: HubBackend(base_url="not a url"), ConfigurationError),
        (lambda: HubBackend(base_url="http://"), ConfigurationError),
        (lambda: HubBackend(model="gpt2", provider="no-such-provider"), ConfigurationError),
        (lambda: HubBackend(base_url="http://127.0.0.1:1", provider="together"), ConfigurationError),
    ],
)
def test_bad_configuration_is_typed(make: Any, error: type) -> None:
    with pytest.raises(error):
        make()


@pytest.mark.parametrize(
    ("tool_class", "args", "message"),
    [
        (TextClassificationTool, {"text": ""}, "Invalid tool input"),
        (TextClassificationTool, {"text": "x" * 100_001}, "max_input_chars"),
        (ZeroShotClassificationTool, {"text": "hi", "labels": []}, "No candidate labels"),
        (ZeroShotClassificationTool, {"text": "hi", "labels": ["a", "a"]}, "twice"),
        (ZeroShotClassificationTool, {"text": "hi", "labels": [f"l{i}" for i in range(1000)]}, "at most"),
        (NERTool, {"text": None}, "Invalid tool input"),
        (NERTool, {}, "Invalid tool input"),
    ],
)
def test_bad_input_through_agent_tools_is_readable(
    local_backend: LocalBackend, tool_class: type, args: dict[str, Any], message: str
) -> None:
    tool = tool_class(backend=local_backend)
    result = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": args})
    assert result.status == "error" and message in str(result.content)


def test_invalid_input_sends_nothing(local_backend: LocalBackend) -> None:
    plan = FaultPlan()
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        backend = HubBackend(base_url=server.url)
        for call in (lambda: backend.feature_extraction([]), lambda: backend.zero_shot_classification("x", [])):
            with pytest.raises(InvalidInputError):
                call()
    assert plan.stats["requests"] == 0
