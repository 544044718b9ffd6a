"""The retry policy, Retry-After parsing and the rate limiter, with a fake clock."""

from __future__ import annotations

import email.utils
import pickle
import time

import pytest

from hfbridge import RateLimit, RetryPolicy
from hfbridge.backends._hub_errors import parse_retry_after
from hfbridge.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ModelLoadingError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)


def test_retry_after_wins_and_is_jittered_upwards() -> None:
    policy = RetryPolicy(seed=1)
    wait = policy.wait_for(RateLimitedError("x", retry_after=4), attempt=1)
    assert wait is not None and 4.0 <= wait <= 5.0


def test_server_wait_spread_narrows_with_each_refusal() -> None:
    """Calls refused more often come back sooner after the same Retry-After: the oldest wins, nobody starves."""
    policy = RetryPolicy(seed=2, max_attempts=20)
    first = [policy.wait_for(RateLimitedError("x", retry_after=1.0), attempt=1) for _ in range(300)]
    tenth = [policy.wait_for(RateLimitedError("x", retry_after=1.0), attempt=10) for _ in range(300)]
    assert all(w is not None and 1.0 <= w <= 1.25 for w in first) and max(w for w in first if w) > 1.2
    assert all(w is not None and 1.0 <= w <= 1.025 for w in tenth)


def test_estimated_time_used_for_loading() -> None:
    policy = RetryPolicy(jitter=False)
    assert policy.wait_for(ModelLoadingError("x", estimated_time=7.5), attempt=1) == 7.5


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(jitter=False, base_delay=0.5, max_delay=3, max_attempts=10)
    assert [policy.wait_for(ServerError("x"), n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3, 3]
    jittered = RetryPolicy(seed=3, base_delay=1, max_delay=8, max_attempts=10)
    waits = [jittered.wait_for(BackendUnavailableError("x"), 4) for _ in range(200)]
    assert all(w is not None and 0 <= w <= 8 for w in waits) and len(set(waits)) > 100


@pytest.mark.parametrize("error", [AuthenticationError("x", status_code=401), QuotaExceededError("x", status_code=402)])
def test_permanent_errors_have_no_wait(error: Exception) -> None:
    assert RetryPolicy().wait_for(error, 1) is None  # type: ignore[arg-type]


def test_last_attempt_has_no_wait() -> None:
    assert RetryPolicy(max_attempts=3).wait_for(ServerError("x"), 3) is None


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("0.25") == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after("not a date") is None and parse_retry_after(None) is None


def test_rate_limit_token_bucket_with_fake_clock() -> None:
    now = [0.0]
    limit = RateLimit(10, per=1.0, burst=2, clock=lambda: now[0])
    assert [limit.reserve() for _ in range(2)] == [0.0, 0.0]
    assert limit.reserve() == pytest.approx(0.1)
    assert limit.reserve() == pytest.approx(0.2)
    now[0] = 10.0
    assert limit.reserve() == 0.0


def test_rate_limit_defers_to_the_server() -> None:
    now = [0.0]
    limit = RateLimit(20, per=1.0, clock=lambda: now[0])
    assert limit.reserve() == 0.0
    now[0] = 0.05
    limit.defer(0.2)  # a 429 said: next token in 0.2 s
    assert limit.reserve() == pytest.approx(0.2)
    assert limit.reserve() == pytest.approx(0.25)


def test_rate_limit_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(1, burst=0)


def test_errors_pickle_with_their_details() -> None:
    error = RateLimitedError("slow down", retry_after=3.0, status_code=429, request_id="r1", attempts=2)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.retry_after, copy.status_code, copy.request_id, copy.attempts) == (3.0, 429, "r1", 2)
    partial = pickle.loads(pickle.dumps(StreamInterruptedError("cut", received_text="abc", chunks_received=2)))
    assert partial.received_text == "abc"
