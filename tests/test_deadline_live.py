"""One time bound per request (``RetryPolicy.deadline``), proven with the real InferenceClient against loopback
servers that never finish: a body trickled a byte at a time, a stream of ``: ping`` comments only, a stream that
never ends. A per-read ``timeout`` stops none of them (every read gets its byte in time). Each server counts what
it sent and gives up after far more than the deadline allows, so a missing bound fails the assertions instead of
hanging the suite. Also: async clients are not kept for event loops that are gone (50 ``asyncio.run`` calls).
Assertions count bytes, events, clients and file descriptors; none is on elapsed time."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hfbridge import HubBackend, InferenceTimeoutError, RateLimit, RetryPolicy
from hfbridge.server import ServerThread

pytestmark = pytest.mark.live_server

STEP = 0.02  # seconds between two pieces the server sends
PIECES = 500  # the server gives up after PIECES pieces (10 s); the deadline below allows about 20
DEADLINE = RetryPolicy(max_attempts=3, base_delay=0.01, deadline=0.4, seed=1)
CHUNK = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ab"}, "finish_reason": None}]}  # fmt: skip


@dataclass
class Endless:
    """An ASGI app: POST /embed trickles a JSON body, POST /v1/chat/completions streams ``mode`` pieces."""

    mode: str = "ping"  # "ping": comments only; "content": chunks of content; "quick": the whole body at once
    requests: int = 0
    sent: int = 0  # pieces sent, over all requests

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        while (await receive()).get("more_body"):
            pass
        streaming = scope["path"].endswith("/chat/completions")
        kind = b"text/event-stream" if streaming else b"application/json"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
        if streaming:
            piece = b": ping\n\n" if self.mode == "ping" else b"data: " + json.dumps(CHUNK).encode() + b"\n\n"
            pieces = [piece] * PIECES + [b"data: [DONE]\n\n"]
        elif self.mode == "quick":
            await send({"type": "http.response.body", "body": b"[[0.5, 0.25]]"})
            return
        else:
            pieces = [bytes([byte]) for byte in b"[[0.5, 0.25]]"]
            pieces = [b" "] * (PIECES - len(pieces)) + pieces  # JSON allows leading white space
        for piece in pieces:
            try:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            except OSError:  # the client went away
                return
            self.sent += 1
            await asyncio.sleep(STEP)
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def endless() -> Iterator[tuple[Endless, str]]:
    app = Endless()
    with ServerThread(app) as server:
        yield app, server.url


@pytest.fixture
def server(endless: tuple[Endless, str]) -> tuple[Endless, str]:
    app, url = endless
    app.requests = app.sent = 0
    app.mode = "ping"
    return app, url


def hub(url: str) -> HubBackend:
    # timeout: each read gets a piece every STEP seconds, far inside it
    return HubBackend(base_url=url, retry=DEADLINE, timeout=30)


def _left_early(app: Endless) -> bool:
    return app.requests == 1 and 0 < app.sent < PIECES // 2


def test_sync_trickled_body_stops_at_the_deadline(server: tuple[Endless, str]) -> None:
    app, url = server
    with pytest.raises(InferenceTimeoutError, match="deadline"):
        hub(url).feature_extraction(["a"])
    assert _left_early(app), (app.requests, app.sent)


def test_async_trickled_body_stops_at_the_deadline(server: tuple[Endless, str]) -> None:
    app, url = server
    with pytest.raises(InferenceTimeoutError, match="deadline"):
        asyncio.run(hub(url).afeature_extraction(["a"]))
    assert _left_early(app), (app.requests, app.sent)


def test_sync_stream_of_pings_only_stops_at_the_deadline(server: tuple[Endless, str]) -> None:
    app, url = server
    with pytest.raises(InferenceTimeoutError, match="deadline"):
        list(hub(url).stream_chat_completion([{"role": "user", "content": "hi"}]))
    assert _left_early(app), (app.requests, app.sent)


def test_async_stream_of_pings_only_stops_at_the_deadline(server: tuple[Endless, str]) -> None:
    app, url = server

    async def consume() -> None:
        async for _ in hub(url).astream_chat_completion([{"role": "user", "content": "hi"}]):
            pass

    with pytest.raises(InferenceTimeoutError, match="deadline"):
        asyncio.run(consume())
    assert _left_early(app), (app.requests, app.sent)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_endless_stream_stops_at_the_deadline_with_what_it_received(server: tuple[Endless, str], flavour: str) -> None:
    app, url = server
    app.mode = "content"
    received: list[str] = []
    messages = [{"role": "user", "content": "hi"}]

    async def consume() -> None:
        async for chunk in hub(url).astream_chat_completion(messages):
            received.append(chunk.content)

    with pytest.raises(InferenceTimeoutError, match="deadline") as caught:
        if flavour == "sync":
            for chunk in hub(url).stream_chat_completion(messages):
                received.append(chunk.content)
        else:
            asyncio.run(consume())
    assert _left_early(app), (app.requests, app.sent)
    assert received and getattr(caught.value, "received_text", None) == "".join(received)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors in /proc")
def test_asyncio_run_per_call_leaves_no_client_behind(server: tuple[Endless, str]) -> None:
    # Each asyncio.run makes and closes a loop; the backend's client of that loop must go with it.
    app, url = server
    app.mode = "quick"
    backend = HubBackend(base_url=url, retry=DEADLINE, timeout=30)
    transport: Any = backend.transport

    async def call() -> None:
        assert await backend.afeature_extraction(["a"]) == [[0.5, 0.25]]

    for _ in range(3):
        asyncio.run(call())
    before = _open_fds()
    for _ in range(50):
        asyncio.run(call())
    assert len(transport._async_clients) == 0, "a client kept for a closed loop"
    assert _open_fds() - before <= 2
    assert app.requests == 53


def test_aclose_closes_the_running_loops_client(server: tuple[Endless, str]) -> None:
    app, url = server
    app.mode = "quick"
    backend = HubBackend(base_url=url, retry=DEADLINE, timeout=30)
    transport: Any = backend.transport

    async def main() -> tuple[int, int]:
        await backend.afeature_extraction(["a"])
        cached = len(transport._async_clients)
        await backend.aclose()
        return cached, len(transport._async_clients)

    assert asyncio.run(main()) == (1, 0)


@pytest.mark.parametrize("flow", [None, "adaptive"])
def test_a_rate_limit_turn_past_the_deadline_is_not_waited_for(server: tuple[Endless, str], flow: Any) -> None:
    # One request per 100 s: the second call's turn lies far past its 0.4 s deadline. It fails at once, typed,
    # without sending anything (the sync wait would otherwise sleep 100 s; async waits are cancelled).
    app, url = server
    app.mode = "quick"
    backend = HubBackend(base_url=url, retry=DEADLINE, timeout=30, rate_limit=RateLimit(1, per=100), flow=flow)
    assert backend.feature_extraction(["a"]) == [[0.5, 0.25]]
    with pytest.raises(InferenceTimeoutError, match="deadline"):
        backend.feature_extraction(["b"])
    with pytest.raises(InferenceTimeoutError, match="deadline"):
        asyncio.run(backend.afeature_extraction(["c"]))
    assert app.requests == 1
