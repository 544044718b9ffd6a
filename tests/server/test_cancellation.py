"""Work stops when its consumer goes away: closing or dropping a LocalBackend stream, sync or async, and a client
disconnecting from a streamed HTTP answer. Counted in chunks llama.cpp produced after the consumer left, never
in seconds."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import httpx2
import pytest

from hfbridge import LocalBackend
from hfbridge.server import ServerThread, create_app

STORY = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]
# After the consumer leaves, llama.cpp may finish the token it is computing and ask for one more callback.
SLACK = 3


def _engine(backend: LocalBackend) -> Any:
    return backend._llm.get()


def _generated_after_release(engine: Any, mark: int) -> int:
    """Chunks produced since ``mark``, counted once the generation thread has let go of the model."""
    with engine._lock:
        return int(engine.chunks_generated) - mark


def test_closing_a_sync_stream_stops_generation(local_backend: LocalBackend) -> None:
    engine = _engine(local_backend)
    stream = local_backend.stream_chat_completion(STORY, max_tokens=300)
    assert [next(stream) for _ in range(2)]
    mark = engine.chunks_generated
    stream.close()  # type: ignore[attr-defined]
    assert _generated_after_release(engine, mark) <= SLACK


def test_dropping_a_sync_stream_stops_generation(local_backend: LocalBackend) -> None:
    engine = _engine(local_backend)
    stream = local_backend.stream_text_generation("Once upon a time, in a land far away,", max_new_tokens=300)
    next(stream)
    mark = engine.chunks_generated
    del stream
    gc.collect()
    assert _generated_after_release(engine, mark) <= SLACK


async def test_closing_an_async_stream_stops_generation(local_backend: LocalBackend) -> None:
    engine = _engine(local_backend)
    stream = local_backend.astream_chat_completion(STORY, max_tokens=300)
    await stream.__anext__()
    await stream.__anext__()
    mark = engine.chunks_generated
    await stream.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(_generated_after_release, engine, mark) <= SLACK


async def test_cancelling_the_consuming_task_stops_generation(local_backend: LocalBackend) -> None:
    engine = _engine(local_backend)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in local_backend.astream_chat_completion(STORY, max_tokens=300):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    mark = engine.chunks_generated
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(_generated_after_release, engine, mark) <= SLACK


@pytest.mark.live_server
@pytest.mark.parametrize("route", ["chat", "generate_stream", "completions"])
def test_a_client_disconnecting_from_a_stream_stops_generation(local_backend: LocalBackend, route: str) -> None:
    engine = _engine(local_backend)
    path, body = {
        "chat": ("/v1/chat/completions", {"messages": STORY, "max_tokens": 300, "stream": True}),
        "generate_stream": ("/generate_stream", {"inputs": "Once upon a time,", "parameters": {"max_new_tokens": 300}}),
        "completions": ("/v1/completions", {"prompt": "Once upon a time,", "max_tokens": 300, "stream": True}),
    }[route]
    with ServerThread(create_app(local_backend)) as server:
        with httpx2.stream("POST", server.url + path, json=body, timeout=120) as response:
            assert response.status_code == 200
            events = response.iter_lines()
            received = [line for line, _ in zip(events, range(4), strict=False)]
            assert any(line.startswith("data:") for line in received)
            mark = engine.chunks_generated
        generated = _generated_after_release(engine, mark)
        # the model is free again: a tiny request is served at once
        tiny = httpx2.post(server.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                                      "max_tokens": 2}, timeout=120)  # fmt: skip
    assert generated <= SLACK + 2, f"{generated} chunks generated after the client left"
    assert tiny.status_code == 200
