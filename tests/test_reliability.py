"""Reliability under faults, concurrency and bad input (issue: fault soak, bad input, secrets, concurrency)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx2
import pytest
import vcr
from bench.soak import run_soak

from hfbridge import (
    ConfigurationError,
    HubBackend,
    InvalidInputError,
    LocalBackend,
    RetryPolicy,
    UnsupportedTaskError,
)
from hfbridge.langchain import NERTool, TextClassificationTool, ZeroShotClassificationTool
from hfbridge.server import FaultPlan, ServerRateLimit, ServerThread, create_app

from .limits import FrozenRateLimit

pytestmark = pytest.mark.live_server


def test_short_soak_keeps_every_invariant(local_backend: LocalBackend) -> None:
    """The soak's counted invariants (its deadline-overrun figure is a timing: the benchmark reports it)."""
    report = run_soak(texts=400, chats=40, local=local_backend, seed=11)
    assert report.streams_failed_untyped == 0, report
    assert set(report.faults_injected) >= {"rate_limited", "loading", "drop", "stall"}
    assert report.retries_logged > 0
    assert report.embeddings_lost == 0 and report.embeddings_mismatched == 0
    assert not [kind for kind in report.failures if kind.startswith("untyped")]


def test_threads_and_tasks_share_one_backend_and_limiter(local_backend: LocalBackend) -> None:
    plan = FaultPlan()
    limit = FrozenRateLimit(250, per=1.0, burst=10)
    with ServerThread(create_app(local_backend, fault_plan=plan, task="text-classification")) as server:
        backend = HubBackend(base_url=server.url, rate_limit=limit, retry=RetryPolicy(max_attempts=3))
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

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        outcomes = asyncio.run(tasks())
        for thread in threads:
            thread.join()
    assert not errors and not [o for o in outcomes if isinstance(o, BaseException)]
    assert len(results) == 32 and all(label == "POSITIVE" for label in results)
    # Every answer is the one for its own text (no responses crossed between concurrent requests).
    expected = [local_backend.text_classification(f"I hate this, task {i}")[0] for i in range(200)]
    assert [o[0] for o in outcomes] == expected
    assert plan.stats["requests"] == 232
    # One limiter served the 32 threads and 200 tasks: 10 went at once (the burst), each other one got its own
    # turn, 4 ms after the previous one (232 requests at 250/s take 0.888 s).
    assert sorted(limit.waits) == pytest.approx(limit.turns(232))


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
def test_adapter_requests_per_second_spaces_calls_under_the_server_limit(
    local_backend: LocalBackend, adapter: str
) -> None:
    """The adapters' ``requests_per_second`` builds a shared client limiter: against a server allowing 20/s
    (burst 1), 4 threads at 16/s are refused less than the same job without it (never, unless a starved thread
    wakes a fifth of an interval late: the count is compared, not the scheduler trusted)."""
    from hfbridge.langchain import HFEmbeddings
    from hfbridge.llama_index import HFEmbedding

    texts = [f"rate limited text {i}" for i in range(12)]

    def refusals(**fields: Any) -> int:
        with ServerThread(create_app(local_backend, rate_limit=ServerRateLimit(20))) as server:
            common = {"base_url": server.url, "max_concurrency": 4, "max_retries": 30, **fields}
            if adapter == "langchain":
                vectors = HFEmbeddings(batch_size=1, **common).embed_documents(texts)
            else:
                vectors = HFEmbedding(embed_batch_size=1, **common).get_text_embedding_batch(texts)
            assert vectors == local_backend.feature_extraction(texts)  # every text, in order
            return int(httpx2.get(f"{server.url}/_hfbridge/faults", timeout=5).json()["rate_limit_refusals"])

    unlimited = refusals()
    assert unlimited > 0
    assert refusals(requests_per_second=16) < unlimited


def test_requests_per_second_with_an_explicit_backend_is_refused(local_backend: LocalBackend) -> None:
    from hfbridge.langchain import HFEmbeddings

    with pytest.raises(ValueError, match="rate_limit="):
        HFEmbeddings(backend=local_backend, requests_per_second=5)


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
        (ZeroShotClassificationTool, {"text": "hi", "labels": []}, "'labels' missing"),
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
