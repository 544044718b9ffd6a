"""Retry, deadline, stream and rate-limit behaviour, proven against the fault-injecting protocol server over real
loopback HTTP with the real InferenceClient (no cassette, no mock). Waits are short real waits, but nothing here
asserts on elapsed time (a loaded 2-core CI stretches every timing): the tests count requests, faults and retries,
read the wait each retry chose from its log line, and the turns a shared rate limiter handed out."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hfbridge import (
    AuthenticationError,
    BackendUnavailableError,
    BadRequestError,
    HubBackend,
    InferenceTimeoutError,
    LocalBackend,
    ModelLoadingError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    StreamInterruptedError,
)
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app

from .limits import FrozenRateLimit

pytestmark = pytest.mark.live_server
# The deadline bounds each request as a whole, streams of the local chat model included: generous, for loaded CI.
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, deadline=60, seed=1)
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def server(local_backend: LocalBackend) -> Iterator[Any]:
    # POST / runs text classification when the body does not say (it is the one ambiguous body here); batches
    # of 40 texts are allowed.
    app = create_app(local_backend, task="text-classification", max_batch_size=40)
    # Load the chat model now: these tests time retries with short timeouts, not the model's first load.
    local_backend.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=1)
    with ServerThread(app) as running:
        running.app = app
        yield running


@pytest.fixture
def faults(server: Any) -> Iterator[Any]:
    def install(*script: Fault | None, **kwargs: Any) -> FaultPlan:
        # These tests check that the client honours Retry-After, so the server sends it (as decimal seconds, for
        # short waits); the realistic default sends none.
        kwargs.setdefault("retry_after_mode", "fractional")
        plan = FaultPlan(script=list(script), **kwargs)
        server.app.state.context.faults = plan
        return plan

    yield install
    server.app.state.context.faults = None


def hub(server: Any, **kwargs: Any) -> HubBackend:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 10)
    return HubBackend(base_url=server.url, **kwargs)


def retries(caplog: Any) -> list[str]:
    """The retry lines hfbridge logged: "retrying <what> in <wait>s (attempt n of m failed: <error>)"."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("hfbridge") and "retrying" in r.getMessage()]


def wait_in(message: str) -> float:
    """The wait a retry line announces (the retrier sleeps exactly that long)."""
    found = re.search(r" in ([0-9.]+)s \(attempt", message)
    assert found, message
    return float(found.group(1))


def test_429_waits_for_retry_after_then_succeeds(server: Any, faults: Any, caplog: Any) -> None:
    plan = faults(Fault.rate_limited(retry_after=0.3))
    with caplog.at_level(logging.INFO, logger="hfbridge"):
        vectors = hub(server).feature_extraction(["hello"])
    assert len(vectors) == 1
    assert plan.stats["requests"] == 2 and plan.stats["rate_limited"] == 1
    # With the default flow control a refusal the limiters adapt to is not a failed attempt (logged at INFO).
    (record,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "RateLimitedError 429" in record.getMessage() and "not counted against max_attempts" in record.getMessage()


def test_429_without_flow_control_counts_as_an_attempt(server: Any, faults: Any, caplog: Any) -> None:
    plan = faults(Fault.rate_limited(retry_after=0.05))
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        vectors = hub(server, flow=None).feature_extraction(["hello"])
    assert len(vectors) == 1
    assert plan.stats["requests"] == 2 and plan.stats["rate_limited"] == 1
    (message,) = retries(caplog)
    # The server's Retry-After plus the policy's jitter (at most a quarter more), not its backoff.
    assert 0.05 <= wait_in(message) <= 0.05 * 1.25 + 0.01, message
    assert "RateLimitedError 429" in message and "attempt 1 of 4" in message


def test_503_loading_waits_estimated_time(server: Any, faults: Any, caplog: Any) -> None:
    plan = faults(Fault.loading(estimated_time=0.4))
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        assert hub(server).text_classification("I love it")[0].label == "POSITIVE"
    assert plan.stats["loading"] == 1 and plan.stats["requests"] == 2
    (message,) = retries(caplog)
    assert "ModelLoadingError 503" in message and 0.4 <= wait_in(message) <= 0.4 * 1.25 + 0.01, message


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_transient_statuses_are_retried(server: Any, faults: Any, status: int) -> None:
    plan = faults(Fault.server_error(status), Fault.server_error(status))
    assert hub(server).feature_extraction(["a", "b"]) and plan.stats["requests"] == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, QuotaExceededError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (413, PayloadTooLargeError),
        (422, BadRequestError),
    ],
)
def test_permanent_statuses_are_never_retried(server: Any, faults: Any, status: int, error: type) -> None:
    plan = faults(Fault.http_status(status, f"injected {status}"))
    with pytest.raises(error) as caught:
        hub(server).feature_extraction(["a"])
    assert plan.stats["requests"] == 1
    assert caught.value.status_code == status
    assert caught.value.server_message == f"injected {status}"
    assert caught.value.attempts == 1


def test_402_message_says_it_is_not_retried(server: Any, faults: Any) -> None:
    faults(Fault.http_status(402, "You have exceeded your monthly included credits"))
    with pytest.raises(QuotaExceededError, match="never retried"):
        hub(server).chat_completion(HELLO, max_tokens=3)


def test_dropped_connection_is_retried(server: Any, faults: Any) -> None:
    plan = faults(Fault.drop())
    assert len(hub(server).feature_extraction(["a", "b", "c"])) == 3
    assert plan.stats["drop"] == 1 and plan.stats["requests"] == 2


def test_stall_beyond_timeout_is_retried(server: Any, faults: Any, caplog: Any) -> None:
    plan = faults(Fault.stall(seconds=1.5))
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        assert hub(server, timeout=0.5).feature_extraction(["a"])
    assert plan.stats["stall"] == 1 and plan.stats["requests"] == 2
    (message,) = retries(caplog)
    assert "InferenceTimeoutError" in message, "the client gave up on the stalled request after its timeout"


def test_timeout_when_every_attempt_stalls(server: Any, faults: Any) -> None:
    faults(Fault.stall(1.0), Fault.stall(1.0))
    with pytest.raises(InferenceTimeoutError) as caught:
        hub(server, timeout=0.3, retry=RetryPolicy(max_attempts=2, base_delay=0.01)).feature_extraction(["a"])
    assert caught.value.attempts == 2


def test_attempts_are_bounded(server: Any, faults: Any) -> None:
    plan = faults(*[Fault.rate_limited(retry_after=0.01)] * 10)
    with pytest.raises(RateLimitedError) as caught:
        hub(server, flow=None).feature_extraction(["a"])
    assert caught.value.attempts == 4 and plan.stats["requests"] == 4
    assert "after 4 attempts" in str(caught.value)


def test_a_server_refusing_everything_ends_the_call_with_a_typed_error(server: Any, faults: Any) -> None:
    # With flow control the refusals are not charged while the limiter adapts; the pace halves with each, so the
    # next turn soon lies past the deadline and the call ends: a typed error, a handful of requests, not a spin.
    plan = faults(*[Fault.rate_limited(retry_after=0.01)] * 50)
    with pytest.raises((RateLimitedError, InferenceTimeoutError)) as caught:
        hub(server, retry=RetryPolicy(max_attempts=4, base_delay=0.01, deadline=5, seed=1)).feature_extraction(["a"])
    assert 2 <= plan.stats["requests"] <= 12 and plan.stats["rate_limited"] == plan.stats["requests"]
    assert caught.value.attempts >= 2


def test_wait_past_the_deadline_raises_at_once(server: Any, faults: Any, caplog: Any) -> None:
    plan = faults(Fault.rate_limited(retry_after=5))
    with caplog.at_level(logging.WARNING, logger="hfbridge"), pytest.raises(RateLimitedError) as caught:
        hub(server, retry=RetryPolicy(max_attempts=5, deadline=1.0)).feature_extraction(["a"])
    assert caught.value.retry_after == 5 and caught.value.attempts == 1
    assert plan.stats["requests"] == 1
    assert retries(caplog) == [], "a wait that would end past the deadline is not started"


def test_retry_after_longer_than_policy_allows_raises(server: Any, faults: Any) -> None:
    faults(Fault.rate_limited(retry_after=120))
    with pytest.raises(RateLimitedError):
        hub(server, retry=RetryPolicy(max_attempts=5, deadline=None, max_retry_after=60)).feature_extraction(["a"])


def test_connection_refused_is_typed() -> None:
    from hfbridge.server import free_port

    backend = HubBackend(base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(max_attempts=2, base_delay=0))
    with pytest.raises(BackendUnavailableError) as caught:
        backend.feature_extraction(["a"])
    assert caught.value.attempts == 2


def test_stream_retried_before_first_chunk(server: Any, faults: Any) -> None:
    plan = faults(Fault.rate_limited(retry_after=0.05), Fault.loading(estimated_time=0.05))
    chunks = list(hub(server).stream_chat_completion(HELLO, max_tokens=8))
    assert "".join(chunk.content for chunk in chunks).strip()
    assert plan.stats["requests"] == 3


def test_stream_error_after_first_chunk_is_not_retried(server: Any, faults: Any) -> None:
    plan = faults(Fault.midstream_error(after_chunks=3))
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in hub(server).stream_chat_completion(HELLO, max_tokens=20):
            received.append(chunk.content)
    assert plan.stats["requests"] == 1, "a stream that yielded tokens is never re-sent"
    assert caught.value.chunks_received == 3
    assert caught.value.received_text == "".join(received) and received
    assert caught.value.__cause__ is not None


def test_generation_stream_error_after_first_token(server: Any, faults: Any) -> None:
    faults(Fault.midstream_error(after_chunks=2))
    with pytest.raises(StreamInterruptedError) as caught:
        list(hub(server).stream_text_generation("Once upon a time", max_new_tokens=10))
    assert caught.value.chunks_received == 2 and caught.value.received_text


async def test_async_retries_and_stream_interruption(server: Any, faults: Any) -> None:
    backend = hub(server)
    plan = faults(Fault.rate_limited(retry_after=0.05), Fault.drop())
    assert len(await backend.afeature_extraction(["x", "y"])) == 2
    assert plan.stats["requests"] == 3
    faults(Fault.midstream_error(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        async for _ in backend.astream_chat_completion(HELLO, max_tokens=20):
            pass
    faults(Fault.loading(estimated_time=0.05))
    pieces = [chunk.content async for chunk in backend.astream_chat_completion(HELLO, max_tokens=6)]
    assert "".join(pieces).strip()
    await backend.aclose()


def test_embedding_batches_retry_independently_and_keep_order(server: Any, faults: Any) -> None:
    texts = [f"text number {i}" for i in range(40)]
    expected = hub(server, batch_size=40).feature_extraction(texts)
    plan = faults(rates={"rate_limited": 0.3, "loading": 0.1, "drop": 0.1}, seed=3,
                  defaults={"rate_limited": {"retry_after": 0.01}, "loading": {"estimated_time": 0.01}})  # fmt: skip
    got = hub(server, batch_size=4, max_concurrency=3, retry=RetryPolicy(max_attempts=10, base_delay=0.01,
                                                                         seed=2)).feature_extraction(texts)  # fmt: skip
    assert plan.stats["requests"] > 10, "every batch is a request, plus the retries"
    assert plan.stats["rate_limited"] + plan.stats["loading"] + plan.stats["drop"] > 0
    assert len(got) == 40
    for a, b in zip(got, expected, strict=True):
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999


def test_rate_limit_is_shared_by_threads(server: Any, faults: Any) -> None:
    limit = FrozenRateLimit(20, per=1.0)
    backend = hub(server, rate_limit=limit)
    plan = faults()
    threads = [threading.Thread(target=lambda: backend.text_classification("fine")) for _ in range(11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert plan.stats["requests"] == 11
    # One limiter gave the 11 threads 11 distinct turns, 50 ms apart (0.5 s for the last one).
    assert sorted(limit.waits) == pytest.approx(limit.turns(11))


async def test_rate_limit_is_shared_by_tasks_and_threads(server: Any, faults: Any) -> None:
    limit = FrozenRateLimit(25, per=1.0)
    backend = hub(server, rate_limit=limit)
    plan = faults()
    worker = threading.Thread(target=lambda: [backend.text_classification("ok") for _ in range(5)])
    worker.start()
    await asyncio.gather(*(backend.atext_classification("ok") for _ in range(6)))
    await asyncio.to_thread(worker.join)
    assert plan.stats["requests"] == 11
    assert sorted(limit.waits) == pytest.approx(limit.turns(11)), "the thread and the tasks share the turns"
    await backend.aclose()


def test_server_errors_keep_request_details(server: Any, faults: Any) -> None:
    faults(Fault.server_error(500), Fault.server_error(500))
    with pytest.raises(ServerError) as caught:
        hub(server, retry=RetryPolicy(max_attempts=2, base_delay=0.01)).feature_extraction(["a"])
    assert caught.value.status_code == 500 and caught.value.url and caught.value.url.startswith(server.url)


def test_loading_error_carries_estimated_time(server: Any, faults: Any) -> None:
    faults(Fault.loading(estimated_time=30.0))
    with pytest.raises(ModelLoadingError) as caught:
        hub(server, retry=RetryPolicy(max_attempts=3, max_retry_after=10)).feature_extraction(["a"])
    assert caught.value.estimated_time == 30.0


# --------------------------------------------------------------------------- many-input calls that fail part-way
TEXTS = [f"partial job text {i}" for i in range(10)]


def test_failed_embedding_job_keeps_what_was_finished(server: Any, faults: Any, local_backend: LocalBackend) -> None:
    """Batches 0-1 succeed, batch 2 gets a 402 (never retried): the typed error carries the 4 finished vectors at
    their positions, None for the rest, and no batch is started after the failure."""
    expected = local_backend.feature_extraction(TEXTS)
    plan = faults(None, None, Fault.http_status(402))
    with pytest.raises(QuotaExceededError) as caught:
        hub(server, batch_size=2, max_concurrency=1).feature_extraction(TEXTS)
    assert plan.stats["requests"] == 3, "nothing is sent after a batch failed for good"
    partial = caught.value.partial
    assert partial is not None and len(partial) == len(TEXTS)
    assert partial[:4] == expected[:4] and partial[4:] == [None] * 6


async def test_failed_async_embedding_job_keeps_what_was_finished(
    server: Any, faults: Any, local_backend: LocalBackend
) -> None:
    expected = local_backend.feature_extraction(TEXTS)
    plan = faults(None, Fault.http_status(401))
    backend = hub(server, batch_size=3, max_concurrency=1)
    with pytest.raises(AuthenticationError) as caught:
        await backend.afeature_extraction(TEXTS)
    assert plan.stats["requests"] == 2
    assert caught.value.partial == expected[:3] + [None] * 7
    await backend.aclose()


def test_concurrent_job_finishes_what_is_in_flight(server: Any, faults: Any, local_backend: LocalBackend) -> None:
    """With batches in flight when one fails, those finish and are kept; unstarted ones are not sent."""
    expected = local_backend.feature_extraction(TEXTS)
    plan = faults(Fault.http_status(402))
    with pytest.raises(QuotaExceededError) as caught:
        hub(server, batch_size=1, max_concurrency=3).feature_extraction(TEXTS)
    partial = caught.value.partial
    assert partial is not None and len(partial) == len(TEXTS)
    kept = [i for i, vector in enumerate(partial) if vector is not None]
    assert all(partial[i] == expected[i] for i in kept)
    assert plan.stats["requests"] < len(TEXTS), "texts not yet started when the failure came are not sent"
    assert len(kept) == plan.stats["requests"] - 1, "every request sent, but the failed one, is kept"


def test_a_cached_job_resumes_where_it_failed(server: Any, faults: Any, local_backend: LocalBackend) -> None:
    from hfbridge.cache import MemoryCache

    expected = local_backend.feature_extraction(TEXTS)
    backend = hub(server, batch_size=2, max_concurrency=1, cache=MemoryCache())
    backend.feature_extraction(TEXTS[:2])  # two texts are in the cache before the job
    faults(None, None, Fault.http_status(402))
    with pytest.raises(QuotaExceededError) as caught:
        backend.feature_extraction(TEXTS)
    assert caught.value.partial == expected[:6] + [None] * 4, "cache hits and finished batches, in place"
    plan = faults()
    assert backend.feature_extraction(TEXTS) == expected
    assert plan.stats["requests"] == 2, "the re-run sends only the 4 texts that were never embedded"


def test_generation_batch_failure_keeps_finished_generations(server: Any, faults: Any) -> None:
    prompts = ["Once upon a time", "The weather today", "In the beginning"]
    faults(None, Fault.http_status(400, "bad prompt"))
    with pytest.raises(BadRequestError) as caught:
        hub(server, max_concurrency=1).text_generation_batch(prompts, max_new_tokens=4)
    partial = caught.value.partial
    assert partial is not None and partial[0] is not None and partial[0].generated_text
    assert partial[1:] == [None, None]
