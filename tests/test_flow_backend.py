"""Flow control as users get it: ``HubBackend()`` with its defaults (the real InferenceClient over loopback HTTP)
against servers that behave like real ones (bench/deployments.py): a gateway answering 429 with no Retry-After or
with whole seconds, as TGI/TEI and most providers do, and a TEI-like server with a few slots. The job must finish
with every answer, and the refusals it costs are counted; nothing is asserted on elapsed time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from bench.deployments import Deployment

from hfbridge import HubBackend, RetryPolicy
from hfbridge.server import ServerThread

pytestmark = pytest.mark.live_server


async def _embed(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The model behind the deployment: one vector per input, at once (the deployment adds slots and latency)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    inputs = json.loads(body)["inputs"]
    count = len(inputs) if isinstance(inputs, list) else 1
    payload = json.dumps([[float(len(str(item)))] for item in (inputs if isinstance(inputs, list) else [inputs])])
    assert count >= 1
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload.encode()})


@pytest.fixture
def deployment() -> Iterator[tuple[Deployment, str]]:
    app = Deployment(_embed)
    with ServerThread(app) as server:
        yield app, server.url


TEXTS = [f"text {i:03d}" for i in range(40)]
EXPECTED = [[float(len(text))] for text in TEXTS]


@pytest.mark.parametrize("retry_after", ["none", "seconds"])
def test_defaults_finish_a_job_under_a_rate_limit(deployment: tuple[Deployment, str], retry_after: str) -> None:
    # Before flow control, 429s without Retry-After failed this job after 5 attempts (issue 14's table).
    app, url = deployment
    app.rate, app.retry_after = 20.0, retry_after  # type: ignore[assignment]
    backend = HubBackend(base_url=url, batch_size=1)
    assert backend.feature_extraction(TEXTS) == EXPECTED
    assert app.stats.served == 40 and app.stats.refused_rate >= 1  # the limit had to be found
    assert backend.flow is not None and backend.flow.stats["charged_refusals"] == 0
    assert app.stats.refused_rate <= 20  # found, not hammered: at most one refusal per two answers


def test_threads_and_tasks_share_one_flow_control(deployment: tuple[Deployment, str]) -> None:
    app, url = deployment
    app.rate, app.retry_after = 20.0, "none"
    backend = HubBackend(base_url=url, batch_size=1)

    async def tasks() -> list[Any]:
        return list(await asyncio.gather(*(backend.afeature_extraction(TEXTS[i::4]) for i in range(4))))

    results = asyncio.run(tasks())
    assert [vector for part in results for vector in part] == [v for i in range(4) for v in EXPECTED[i::4]]
    assert app.stats.served == 40 and backend.flow is not None
    assert backend.flow.stats["charged_refusals"] == 0 and app.stats.refused_rate <= 20


def test_without_flow_control_the_same_job_spends_its_attempts(deployment: tuple[Deployment, str]) -> None:
    # The contrast that makes the tests above able to fail: refusals charged, Retry-After absent, 4 in flight.
    app, url = deployment
    app.rate, app.retry_after = 20.0, "none"
    backend = HubBackend(base_url=url, batch_size=1, flow=None, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(Exception) as caught:
        backend.feature_extraction(TEXTS)
    assert type(caught.value).__name__ == "RateLimitedError"


def test_concurrency_grows_past_the_old_fixed_four_without_overloading(deployment: tuple[Deployment, str]) -> None:
    # A TEI-like server: 8 slots of 50 ms, at most 24 requests admitted (429 Overloaded beyond).
    app, url = deployment
    app.slots, app.latency, app.max_concurrent_requests = 8, 0.05, 24
    backend = HubBackend(base_url=url, batch_size=1)
    texts = [f"t{i}" for i in range(240)]
    assert backend.feature_extraction(texts) == [[float(len(t))] for t in texts]
    assert app.stats.served == 240 and app.stats.refused_overloaded == 0
    assert app.stats.max_in_system > 4  # the old default kept 4 in flight whatever the server


@pytest.mark.parametrize("max_concurrency", [None, 2])
def test_chat_batch_leaves_concurrency_to_the_backend(max_concurrency: int | None) -> None:
    # LangChain's Runnable.batch runs at most its thread pool's default (cores + 4) calls at once; when those all wait
    # out a whole-second Retry-After the batch idles. ChatHF.batch lets the backend's flow control decide, unless the
    # config sets max_concurrency.
    import os

    from bench.doubles import InstantBackend
    from langchain_core.messages import AIMessage

    from hfbridge.langchain import ChatHF
    from hfbridge.server import create_app

    app = Deployment(create_app(InstantBackend(tokens=2)), latency=0.05)
    prompts = [f"question {i}" for i in range(60)]
    with ServerThread(app) as server:
        chat = ChatHF(base_url=server.url, max_tokens=2)
        config = None if max_concurrency is None else {"max_concurrency": max_concurrency}
        answers = chat.batch(prompts, config)  # type: ignore[arg-type]
    assert len(answers) == 60 and all(isinstance(answer, AIMessage) and answer.content for answer in answers)
    if max_concurrency is None:
        assert app.stats.max_in_system > min(32, (os.cpu_count() or 1) + 4)
    else:
        assert app.stats.max_in_system <= max_concurrency
