"""FallbackBackend over real backends: protocol servers on loopback with injected faults, and the local backend."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from PIL import Image

from hfbridge import (
    BadRequestError,
    FallbackBackend,
    HubBackend,
    InvalidInputError,
    LocalBackend,
    NotFoundError,
    RetryPolicy,
    StreamInterruptedError,
)
from hfbridge.server import Fault, FaultPlan, ServerThread, create_app
from hfbridge.tasks import ImageRequest
from hfbridge.types import response_meta

pytestmark = pytest.mark.live_server

QUICK = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, jitter=False)
HELLO = [{"role": "user", "content": "Say hello."}]


class _PictureBackend(LocalBackend):
    """A local backend with a text-to-image hook (no packaged model has one): a picture of the prompt's length."""

    def _text_to_image(self, request: ImageRequest) -> Any:
        return Image.new("RGB", (request.width or 16, request.height or 8), (len(request.prompt), 0, 0))


@pytest.fixture
def servers(local_backend: LocalBackend) -> Iterator[Any]:
    """``serve(plan)``: a protocol server over the local backend with that fault plan; a hub backend on it."""
    with ExitStack() as stack:

        def serve(plan: FaultPlan | None = None, backend: LocalBackend | None = None) -> tuple[HubBackend, FaultPlan]:
            plan = plan if plan is not None else FaultPlan()
            # The served model is a sentiment classifier: POST / runs text classification, as on hf-inference.
            app = create_app(backend or local_backend, fault_plan=plan, task="text-classification")
            server = stack.enter_context(ServerThread(app))
            return HubBackend(base_url=server.url, retry=QUICK), plan

        yield serve


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_5xx_after_retries_moves_to_the_next_backend(servers: Any) -> None:
    failing, failing_plan = servers(FaultPlan(rates={"server_error": 1.0}))
    healthy, healthy_plan = servers()
    labels = FallbackBackend([failing, healthy]).text_classification("I love this, it works wonderfully!")
    assert labels[0].label == "POSITIVE"
    assert labels.meta is not None and labels.meta.backend == healthy.label
    assert labels.meta.fallbacks == (f"{failing.label}: ServerError 500",)
    assert failing_plan.stats["requests"] == 2  # its own retries were spent first
    assert healthy_plan.stats["requests"] == 1


def test_402_moves_on_at_once_and_the_local_backend_answers(servers: Any, local_backend: LocalBackend) -> None:
    broke, plan = servers(FaultPlan(script=[Fault.http_status(402)]))
    labels = FallbackBackend([broke, local_backend]).zero_shot_classification(
        "I need to update my payment method.", ["billing", "weather"]
    )
    assert labels[0].label == "billing"
    assert labels.meta is not None and labels.meta.backend == local_backend.label
    assert labels.meta.fallbacks == (f"{broke.label}: QuotaExceededError 402",)
    assert plan.stats["requests"] == 1  # 402 is never retried


def test_the_callers_bad_input_is_never_failed_over(servers: Any, local_backend: LocalBackend) -> None:
    first, first_plan = servers(FaultPlan(script=[Fault.http_status(422, "inputs must not be empty")]))
    second, second_plan = servers()
    backend = FallbackBackend([first, second, local_backend])
    with pytest.raises(InvalidInputError):
        backend.text_classification("   ")
    assert first_plan.stats["requests"] == 0 and second_plan.stats["requests"] == 0
    with pytest.raises(BadRequestError, match="inputs must not be empty"):
        backend.text_classification("a text the first server refuses")
    assert first_plan.stats["requests"] == 1 and second_plan.stats["requests"] == 0


def test_an_unsupported_task_moves_on_from_the_local_backend_and_a_501(
    servers: Any, local_backend: LocalBackend
) -> None:
    no_images, _ = servers()  # a server over the local backend answers text-to-image with 501
    painter, _ = servers(backend=_PictureBackend())
    image = FallbackBackend([local_backend, no_images, painter]).text_to_image("a red fox", width=24, height=12)
    assert image.size == (24, 12) and image.getpixel((0, 0)) == (len("a red fox"), 0, 0)
    meta = response_meta(image)
    assert meta is not None and meta.backend == painter.label
    assert meta.fallbacks == (
        f"{local_backend.label}: UnsupportedTaskError", f"{no_images.label}: UnsupportedTaskError")  # fmt: skip


def test_no_connection_and_a_404_move_on(servers: Any, local_backend: LocalBackend) -> None:
    unreachable = HubBackend(base_url=f"http://127.0.0.1:{_closed_port()}", retry=QUICK)
    not_served, _ = servers(FaultPlan(script=[Fault.http_status(404)]))
    entities = FallbackBackend([unreachable, not_served, local_backend]).token_classification(
        "Angela Merkel visited Paris."
    )
    assert {entity.entity_group for entity in entities} >= {"PER", "LOC"}
    assert entities.meta is not None and entities.meta.fallbacks == (
        f"{unreachable.label}: BackendUnavailableError", f"{not_served.label}: NotFoundError 404")  # fmt: skip


def test_when_every_backend_fails_the_last_error_is_raised_with_the_others_noted(servers: Any) -> None:
    broke, _ = servers(FaultPlan(script=[Fault.http_status(402)]))
    missing, _ = servers(FaultPlan(script=[Fault.http_status(404)]))
    with pytest.raises(NotFoundError) as raised:
        FallbackBackend([broke, missing]).feature_extraction(["one text"])
    assert any(broke.label in note and "QuotaExceededError" in note for note in raised.value.__notes__)


def test_a_stream_fails_over_before_its_first_chunk_only(servers: Any, local_backend: LocalBackend) -> None:
    failing, _ = servers(FaultPlan(rates={"server_error": 1.0}))
    chunks = list(FallbackBackend([failing, local_backend]).stream_chat_completion(HELLO, max_tokens=8))
    assert "".join(chunk.content for chunk in chunks).strip()
    assert all(chunk.meta is not None and chunk.meta.backend == local_backend.label for chunk in chunks)
    assert chunks[0].meta is not None and chunks[0].meta.fallbacks == (f"{failing.label}: ServerError 500",)

    breaking, _ = servers(FaultPlan(script=[Fault.midstream_error(after_chunks=2)]))
    spare, spare_plan = servers()
    received = []
    with pytest.raises(StreamInterruptedError):
        for chunk in FallbackBackend([breaking, spare]).stream_chat_completion(HELLO, max_tokens=12):
            received.append(chunk.content)
    assert len(received) == 2 and spare_plan.stats["requests"] == 0  # chunks were out: no second backend


async def test_async_calls_and_streams_fail_over_too(servers: Any, local_backend: LocalBackend) -> None:
    failing, _ = servers(FaultPlan(rates={"server_error": 1.0}))
    healthy, _ = servers()
    backend = FallbackBackend([failing, healthy])
    labels = await backend.atext_classification("This is terrible and broken, I hate it.")
    assert labels[0].label == "NEGATIVE" and labels.meta is not None and labels.meta.backend == healthy.label
    chunks = [chunk async for chunk in backend.astream_text_generation("Once upon a time", max_new_tokens=4)]
    assert chunks[-1].generated_text is not None
    assert chunks[0].meta is not None and chunks[0].meta.backend == healthy.label
    assert chunks[0].meta.fallbacks == (f"{failing.label}: ServerError 500",)
