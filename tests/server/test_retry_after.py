"""How the server's 429s say when to come back: no Retry-After (the default, as TGI, TEI and most providers),
whole seconds, or fractional seconds, for injected faults and for the server's own rate limit."""

from __future__ import annotations

import inspect
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from hfbridge import LocalBackend, RateLimitedError
from hfbridge.cli import main
from hfbridge.server import Fault, FaultPlan, ServerRateLimit, ServerThread, create_app
from hfbridge.server.faults import retry_after_header

pytestmark = pytest.mark.live_server


@pytest.mark.parametrize(
    ("seconds", "mode", "header"),
    [
        (0.3, "none", None),
        (None, "seconds", None),
        (0.3, "seconds", "1"),
        (1.0, "seconds", "1"),
        (1.2, "seconds", "2"),
        (0.3, "fractional", "0.3"),
        (2.0, "fractional", "2"),
        (0.0375, "fractional", "0.038"),
    ],
)
def test_retry_after_header_per_mode(seconds: float | None, mode: Any, header: str | None) -> None:
    assert retry_after_header(seconds, mode).get("Retry-After") == header


def test_fault_plan_defaults_to_no_retry_after_and_validates_the_mode() -> None:
    assert FaultPlan().retry_after_mode == "none"
    assert FaultPlan.from_dict({"retry_after_mode": "seconds"}).retry_after_mode == "seconds"
    with pytest.raises(ValueError, match="retry_after_mode"):
        FaultPlan(retry_after_mode="milliseconds")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry_after_mode"):
        ServerRateLimit(10, retry_after_mode="ms")  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "header"), [("none", None), ("seconds", "1"), ("fractional", "0.25")])
def test_injected_429_carries_the_plan_s_retry_after(local_backend: LocalBackend, mode: Any, header: Any) -> None:
    plan = FaultPlan(script=[Fault.rate_limited(retry_after=0.25)], retry_after_mode=mode)
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        response = httpx2.post(f"{server.url}/embed", json={"inputs": ["a"]}, timeout=30)
    assert response.status_code == 429
    assert response.headers.get("retry-after") == header


@pytest.mark.parametrize("mode", ["none", "seconds", "fractional"])
def test_server_rate_limit_refuses_with_its_mode(local_backend: LocalBackend, mode: Any) -> None:
    # One request a minute, burst 1: the second request is refused whatever the timing.
    limit = ServerRateLimit(1, per=60, retry_after_mode=mode)
    with ServerThread(create_app(local_backend, rate_limit=limit)) as server:
        first = httpx2.post(f"{server.url}/embed", json={"inputs": ["a"]}, timeout=30)
        second = httpx2.post(f"{server.url}/embed", json={"inputs": ["a"]}, timeout=30)
        refusals = httpx2.get(f"{server.url}/_hfbridge/faults", timeout=5).json()["rate_limit_refusals"]
    assert (first.status_code, second.status_code, refusals) == (200, 429, 1)
    value = second.headers.get("retry-after")
    if mode == "none":
        assert value is None
    elif mode == "seconds":
        assert value is not None and value.isdigit() and 1 <= int(value) <= 60
    else:
        assert value is not None and "." in value and 0 < float(value) <= 60


def test_client_sees_a_typed_429_without_retry_after(local_backend: LocalBackend) -> None:
    from hfbridge import HubBackend, RetryPolicy

    plan = FaultPlan(script=[Fault.rate_limited(retry_after=30)] * 2)
    # Without flow control (i14b's, where refusals the limiter adapts to are retried uncharged): each attempt counts.
    no_flow = {"flow": None} if "flow" in inspect.signature(HubBackend).parameters else {}
    with ServerThread(create_app(local_backend, fault_plan=plan)) as server:
        backend = HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
                             **no_flow)  # fmt: skip
        with pytest.raises(RateLimitedError) as caught:
            backend.feature_extraction(["a"])
    assert caught.value.retry_after is None and caught.value.attempts == 2


def test_cli_rejects_an_unknown_retry_after_mode() -> None:
    result = CliRunner().invoke(main, ["serve", "--retry-after", "ms"])
    assert result.exit_code == 2 and "--retry-after" in result.output
    result = CliRunner().invoke(main, ["serve", "--faults", '{"retry_after_mode": "ms"}'])
    assert result.exit_code == 2 and "retry_after_mode" in result.output
