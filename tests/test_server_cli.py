"""`hfbridge serve` as a real process, the TGI/TEI info routes, rerank, and text-to-image through the real client."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from huggingface_hub import InferenceClient
from PIL import Image

from hfbridge import HFBridgeError, HubBackend, LocalBackend, RetryPolicy, UnsupportedTaskError
from hfbridge.server import ServerThread, create_app, free_port, wait_until_healthy
from hfbridge.tasks import ImageRequest

pytestmark = pytest.mark.live_server


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hfbridge.cli", "serve", "--port", str(port), "--task", "feature-extraction"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, timeout=60, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_serve_answers_the_real_client(served: str) -> None:
    client = InferenceClient(base_url=served, timeout=30)
    assert client.feature_extraction(["hello", "world"]).shape == (2, 384)
    answer = client.chat_completion([{"role": "user", "content": "Say hi"}], max_tokens=5)
    assert answer.choices[0].message.content
    assert HubBackend(base_url=served).zero_shot_classification("refund please", ["billing", "weather"])[0].label == (
        "billing"
    )


def test_info_health_and_rerank(served: str) -> None:
    client = InferenceClient(model=served, provider="hf-inference", timeout=30)
    assert client.health_check()
    info = client.get_endpoint_info()
    assert info["model_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and info["backend"] == "local"
    ranked = httpx2.post(f"{served}/rerank", json={"query": "reset my password", "texts": ["opening hours",
                         "I forgot my password"], "return_text": True}, timeout=30).json()  # fmt: skip
    assert ranked[0]["index"] == 1 and ranked[0]["text"] == "I forgot my password"


def test_bad_requests_get_tei_error_bodies(served: str) -> None:
    response = httpx2.post(f"{served}/embed", json={"inputs": []}, timeout=30)
    assert response.status_code == 400  # TEI: an empty batch is error_type "Empty", 400
    assert response.json() == {"error": "`inputs` cannot be empty", "error_type": "Empty"}
    malformed = httpx2.post(f"{served}/embed", content=b"{not json", headers={"content-type": "application/json"},
                            timeout=30)  # fmt: skip
    assert malformed.status_code == 422 and malformed.json()["error_type"] == "Validation"
    untyped = httpx2.post(f"{served}/embed", content=b'{"inputs": "x"}', timeout=30)
    assert untyped.status_code == 415


class _PictureBackend(LocalBackend):
    """A test double for the one task no packaged model can run: draws a deterministic picture of the prompt."""

    def _text_to_image(self, request: ImageRequest) -> Any:
        seed = sum(map(ord, request.prompt)) % 256
        return Image.new("RGB", (request.width or 64, request.height or 32), (seed, 255 - seed, 128))


def test_text_to_image_round_trips_through_the_real_client() -> None:
    with ServerThread(create_app(_PictureBackend())) as server:
        image = HubBackend(base_url=server.url).text_to_image("a red fox", width=48, height=24)
        assert image.size == (48, 24)
        assert image.getpixel((0, 0)) == (sum(map(ord, "a red fox")) % 256, 255 - sum(map(ord, "a red fox")) % 256,
                                          128)  # fmt: skip
        raw = httpx2.post(server.url, json={"inputs": "x"}, headers={"Accept": "image/png"}, timeout=30)
        assert Image.open(io.BytesIO(raw.content)).format == "PNG"


def test_text_to_image_is_unsupported_locally_and_refused_over_http(local_backend: LocalBackend) -> None:
    with pytest.raises(UnsupportedTaskError):
        local_backend.text_to_image("a red fox")
    with ServerThread(create_app(local_backend)) as server:
        response = httpx2.post(server.url, json={"inputs": "a red fox"}, headers={"accept": "image/png"}, timeout=30)
        with pytest.raises(HFBridgeError) as caught:
            HubBackend(base_url=server.url, retry=RetryPolicy(max_attempts=1)).text_to_image("a red fox")
    # The backend cannot run the task: 501 Not Implemented, {"error": ...} with no error_type (hf-inference's shape)
    assert response.status_code == 501 and set(response.json()) == {"error"}
    assert "text-to-image" in str(caught.value) or "image" in str(caught.value)
