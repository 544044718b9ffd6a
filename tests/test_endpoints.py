"""Dedicated Inference Endpoints through huggingface_hub's real InferenceEndpoint and endpoints API client, against
the protocol server's emulation of that API (and InferenceEndpoint objects built from its documented raw shape)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from huggingface_hub import InferenceEndpoint, get_inference_endpoint

from hfbridge import (
    BackendUnavailableError,
    HubBackend,
    InferenceTimeoutError,
    LocalBackend,
    NotFoundError,
    RetryPolicy,
)
from hfbridge.server import ServerThread, create_app
from hfbridge.server.hub_emulation import HubEmulation

TOKEN = "hf_" + "e" * 34


@pytest.fixture
def api(local_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import huggingface_hub.constants as constants

    app = create_app(local_backend, task="text-classification")  # the one ambiguous body here is classification
    HubEmulation.mount(app)  # the Inference Endpoints API, emulated for these tests only
    with ServerThread(app) as server:
        monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{server.url}/v2")

        def register(name: str, **state: Any) -> None:
            httpx2.put(f"{server.url}/_hfbridge/endpoints/acme/{name}", json=state, timeout=5).raise_for_status()

        server.register = register
        yield server


def test_running_endpoint_by_name(api: Any) -> None:
    api.register("embedder")
    backend = HubBackend.from_endpoint("embedder", namespace="acme", token=TOKEN, show_progress=False)
    assert backend.base_url == f"{api.url}/endpoints/embedder"
    assert backend.token is not None and backend.transport.send_token  # dedicated endpoints get the token
    assert len(backend.feature_extraction(["hello", "world"])) == 2


def test_waits_for_running_with_progress(api: Any, capsys: Any) -> None:
    api.register("starting", status="initializing", startup_fetches=2)
    backend = HubBackend.from_endpoint("starting", namespace="acme", token=TOKEN, refresh_every=0.01)
    assert "endpoint starting" in capsys.readouterr().err
    assert backend.text_classification("I love it")[0].label == "POSITIVE"


def test_paused_endpoint_is_resumed(api: Any) -> None:
    api.register("paused-one", status="paused", startup_fetches=1)
    backend = HubBackend.from_endpoint("paused-one", namespace="acme", token=TOKEN, refresh_every=0.01,
                                       show_progress=False)  # fmt: skip
    assert get_inference_endpoint("paused-one", namespace="acme", token=TOKEN).status == "running"
    assert backend.feature_extraction(["resumed"])


def test_scaled_to_zero_wake_up_is_waited_out_as_loading(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    api.register("sleepy", status="scaledToZero", wake_requests=3)
    backend = HubBackend.from_endpoint(
        "sleepy", namespace="acme", token=TOKEN, show_progress=False,
        retry=RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        vectors = backend.feature_extraction(["wake up"])
    assert len(vectors) == 1
    assert caplog.text.count("ModelLoadingError 503") == 3


def test_scale_to_zero_through_the_real_client(api: Any) -> None:
    api.register("scaler")
    endpoint = get_inference_endpoint("scaler", namespace="acme", token=TOKEN)
    assert endpoint.scale_to_zero().status == "scaledToZero"
    backend = HubBackend.from_endpoint(endpoint, show_progress=False,
                                       retry=RetryPolicy(max_attempts=5, base_delay=0.01))  # fmt: skip
    assert backend.zero_shot_classification("refund me", ["billing", "weather"])[0].label == "billing"


def test_endpoint_object_from_documented_raw_payload(api: Any) -> None:
    raw = {
        "name": "from-raw",
        "type": "protected",
        "model": {
            "repository": "sentence-transformers/all-MiniLM-L6-v2",
            "revision": "main",
            "task": "feature-extraction",
            "framework": "pytorch",
        },
        "status": {
            "state": "running",
            "url": f"{api.url}/endpoints/from-raw",
            "createdAt": "2026-11-25T00:00:00Z",
            "updatedAt": "2026-11-25T00:00:00Z",
        },
        "healthRoute": "/health",
    }
    api.register("from-raw")
    endpoint = InferenceEndpoint.from_raw(raw, namespace="acme", token=TOKEN)
    backend = HubBackend.from_endpoint(endpoint, show_progress=False)
    assert backend.token is not None and backend.token.get_secret_value() == TOKEN  # taken from the endpoint
    assert backend.feature_extraction(["from a raw payload"])


def test_failed_and_timed_out_endpoints_are_typed(api: Any) -> None:
    api.register("broken", status="failed")
    with pytest.raises(BackendUnavailableError, match="failed"):
        HubBackend.from_endpoint("broken", namespace="acme", token=TOKEN, show_progress=False)
    api.register("forever", status="initializing", startup_fetches=10_000)
    with pytest.raises(InferenceTimeoutError, match="not running"):
        HubBackend.from_endpoint("forever", namespace="acme", token=TOKEN, timeout=0.2, refresh_every=0.02,
                                 show_progress=False)  # fmt: skip
    with pytest.raises(NotFoundError, match="404"):
        HubBackend.from_endpoint("missing", namespace="acme", token=TOKEN, show_progress=False)
