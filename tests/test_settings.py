"""Settings that cannot work raise ConfigurationError when the object is built; the retry policy's timeout and
server-suggested-wait rules."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from hfbridge import ConfigurationError, HubBackend, RateLimit, RetryPolicy
from hfbridge.backends._hub_errors import from_response, parse_retry_after, translate
from hfbridge.cache import MemoryCache, SQLiteCache
from hfbridge.errors import InferenceTimeoutError, ModelLoadingError, RateLimitedError, ServerError

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(max_attempts=2.5),
        lambda: RetryPolicy(max_attempts=True),
        lambda: RetryPolicy(max_attempts="3"),
        lambda: RetryPolicy(deadline=0),
        lambda: RetryPolicy(deadline=-1),
        lambda: RetryPolicy(deadline=NAN),
        lambda: RetryPolicy(deadline=INF),
        lambda: RetryPolicy(base_delay=-1),
        lambda: RetryPolicy(base_delay=NAN),
        lambda: RetryPolicy(base_delay=INF),
        lambda: RetryPolicy(base_delay="0.5"),
        lambda: RetryPolicy(max_delay=-0.1),
        lambda: RetryPolicy(max_delay=NAN),
        lambda: RetryPolicy(max_retry_after=-5),
        lambda: RetryPolicy(max_retry_after=INF),
        lambda: RetryPolicy(jitter="yes"),
        lambda: RetryPolicy(jitter_fraction=-0.1),
        lambda: RetryPolicy(jitter_fraction=1.5),
        lambda: RetryPolicy(jitter_fraction=NAN),
        lambda: RetryPolicy(seed=1.5),
        lambda: RetryPolicy(seed="abc"),
        lambda: RetryPolicy(retry_on_timeout=None),
        lambda: RateLimit(NAN),
        lambda: RateLimit(INF),
        lambda: RateLimit(0),
        lambda: RateLimit(-1),
        lambda: RateLimit("10"),
        lambda: RateLimit(10, per=0),
        lambda: RateLimit(10, per=NAN),
        lambda: RateLimit(10, per=INF),
        lambda: RateLimit(10, per=-1),
        lambda: RateLimit(10, burst=0),
        lambda: RateLimit(10, burst=2.5),
        lambda: RateLimit(10, burst=True),
        lambda: RateLimit(1e-320),  # the interval overflows to inf
        lambda: RateLimit(10, clock="now"),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout=INF),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout=NAN),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout=0),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout=-3),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout=None),
        lambda: HubBackend(base_url="http://127.0.0.1:9", timeout="30"),
        lambda: HubBackend(base_url="http://127.0.0.1:9", batch_size=0),
        lambda: HubBackend(base_url="http://127.0.0.1:9", batch_size="2"),
        lambda: HubBackend(base_url="http://127.0.0.1:9", batch_size=2.0),
        lambda: HubBackend(base_url="http://127.0.0.1:9", max_concurrency=0),
        lambda: HubBackend(base_url="http://127.0.0.1:9", max_concurrency="4"),
        lambda: HubBackend(base_url="http://127.0.0.1:9", max_input_chars=0),
        lambda: HubBackend(base_url="http://127.0.0.1:9", max_labels=None),
        lambda: HubBackend(base_url="http://127.0.0.1:9", retry={"max_attempts": 3}),
        lambda: HubBackend(base_url="http://127.0.0.1:9", rate_limit=10),
        lambda: HubBackend(base_url="http://127.0.0.1:9", cache="~/.cache/x.sqlite"),
        lambda: MemoryCache(max_entries=0),
        lambda: SQLiteCache("/tmp/never-created.sqlite", timeout=NAN),
    ],
)
def test_nonsensical_settings_raise_configuration_error(make: Callable[[], Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make()
    assert isinstance(caught.value, ValueError), "existing `except ValueError` callers keep working"


def test_sensible_edges_are_accepted() -> None:
    RetryPolicy(base_delay=0, max_delay=0, max_retry_after=0, jitter_fraction=0, deadline=None, seed=-7)
    RetryPolicy(max_attempts=1, jitter_fraction=1, retry_on_timeout=False)
    RateLimit(0.001, per=3600, burst=1)
    HubBackend(base_url="http://127.0.0.1:9", timeout=0.5, batch_size=1, max_concurrency=1)


def _timeout(request_sent: bool) -> InferenceTimeoutError:
    return InferenceTimeoutError("slow", request_sent=request_sent)


def test_retry_on_timeout_false_never_resends_a_request_that_was_sent() -> None:
    policy = RetryPolicy(retry_on_timeout=False, jitter=False)
    assert policy.wait_for(_timeout(request_sent=True), attempt=1) is None
    assert policy.wait_for(_timeout(request_sent=False), attempt=1) == 0.5, "nothing was sent: safe to retry"
    assert policy.wait_for(ServerError("x"), attempt=1) == 0.5, "other errors are unaffected"
    assert RetryPolicy(jitter=False).wait_for(_timeout(request_sent=True), attempt=1) == 0.5, "the default retries"


def test_translated_timeouts_say_whether_the_request_was_sent() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:9/")
    connect = translate(httpx2.ConnectTimeout("connect", request=request), None)
    read = translate(httpx2.ReadTimeout("read", request=request), None)
    assert isinstance(connect, InferenceTimeoutError) and connect.request_sent is False
    assert isinstance(read, InferenceTimeoutError) and read.request_sent is True


def test_retry_on_timeout_false_through_a_backend_sends_once() -> None:
    """A server that answers after the read timeout: with retry_on_timeout=False the request is sent exactly once."""
    from tests._http_double import RecordingServer

    with RecordingServer(delay=1.0) as server:
        backend = HubBackend(
            base_url=server.url, timeout=0.2, retry=RetryPolicy(max_attempts=3, retry_on_timeout=False, base_delay=0)
        )
        with pytest.raises(InferenceTimeoutError) as caught:
            backend.text_classification("hello")
        assert len(server.requests) == 1 and caught.value.attempts == 1
        retried = HubBackend(base_url=server.url, timeout=0.2, retry=RetryPolicy(max_attempts=3, base_delay=0))
        with pytest.raises(InferenceTimeoutError):
            retried.text_classification("hello")
        assert len(server.requests) == 1 + 3


def _loading(body: Any) -> Any:
    request = httpx2.Request("POST", "http://127.0.0.1:9/")
    content = json.dumps(body).encode()  # NaN and Infinity as Python writes them (httpx2 refuses them in json=)
    response = httpx2.Response(503, content=content, headers={"content-type": "application/json"}, request=request)
    return from_response(response, None, None)


@pytest.mark.parametrize("estimated", ["soon", NAN, -5, INF, None, [1], True])
def test_unusable_estimated_time_neither_crashes_nor_means_retry_now(estimated: Any) -> None:
    error = _loading({"error": "Model x is currently loading", "estimated_time": estimated})
    assert isinstance(error, ModelLoadingError) and error.estimated_time is None
    wait = RetryPolicy(jitter=False, base_delay=0.5).wait_for(error, attempt=1)
    assert wait == 0.5, "the backoff applies, not 0"


def test_usable_estimated_time_is_kept() -> None:
    assert _loading({"error": "loading", "estimated_time": "12.5"}).estimated_time == 12.5
    assert _loading({"error": "loading", "estimated_time": 3}).estimated_time == 3.0


def test_waits_set_on_errors_by_hand_are_checked_too() -> None:
    """The policy does not trust an error's numbers either (errors can be built by anyone)."""
    error = RateLimitedError("x", retry_after=2.0)
    error.retry_after = NAN
    assert RetryPolicy(jitter=False).wait_for(error, 1) == 0.5
    assert ModelLoadingError("x", estimated_time=-1).estimated_time is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_retry_after_that_is_not_a_wait_is_ignored(value: str) -> None:
    assert parse_retry_after(value) is None
