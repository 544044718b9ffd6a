"""Work stops when its consumer goes away: closing or dropping a LocalBackend stream, sync or async, and a client
disconnecting from a streamed HTTP answer. Counted in chunks llama.cpp produced after the consumer left, never
in seconds."""

from __future__ import annotations

import asyncio
import gc
import json
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


async def _until_generating(engine: Any, mark: int) -> int:
    """Wait (a poll, not a measurement) until llama.cpp has produced a chunk past ``mark``; return the count."""
    for _ in range(12_000):  # bounds a broken run only
        if engine.chunks_generated > mark:
            return int(engine.chunks_generated)
        await asyncio.sleep(0.01)
    raise AssertionError("the generation never started")


async def test_cancelling_a_non_streamed_generation_stops_it(local_backend: LocalBackend) -> None:
    engine = _engine(local_backend)
    task = asyncio.create_task(local_backend.atext_generation("Once upon a time,", max_new_tokens=300))
    started = await _until_generating(engine, engine.chunks_generated)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(_generated_after_release, engine, started) <= SLACK


async def test_async_non_streamed_generations_are_the_sync_ones(local_backend: LocalBackend) -> None:
    """Async text generation runs through the stoppable stream and assembles the answer: the same text, token count
    and finish reason as the blocking call."""
    sync_text = local_backend.text_generation("The capital of France is", max_new_tokens=8, temperature=0.0, seed=1)
    async_text = await local_backend.atext_generation("The capital of France is", max_new_tokens=8, temperature=0.0,
                                                      seed=1)  # fmt: skip
    assert async_text.model_dump() == sync_text.model_dump()
    assert async_text.generated_tokens == 8


@pytest.mark.live_server
@pytest.mark.parametrize("route", ["generate", "completions"])
async def test_a_client_disconnecting_before_a_non_streamed_answer_stops_generation(local_backend: LocalBackend,
                                                                                    route: str) -> None:  # fmt: skip
    engine = _engine(local_backend)
    path, body = {
        "generate": ("/generate", {"inputs": "Once upon a time,", "parameters": {"max_new_tokens": 300}}),
        "completions": ("/v1/completions", {"prompt": "Once upon a time,", "max_tokens": 300}),
    }[route]
    with ServerThread(create_app(local_backend)) as server:
        payload = json.dumps(body).encode()
        _reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(payload), payload))  # fmt: skip
        await writer.drain()
        started = await _until_generating(engine, engine.chunks_generated)
        writer.close()  # the client goes away before the answer
        await writer.wait_closed()
        generated = await asyncio.to_thread(_generated_after_release, engine, started)
        tiny = await asyncio.to_thread(httpx2.post, server.url + "/v1/chat/completions", timeout=120,
                                       json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    assert generated <= SLACK + 2, f"{generated} chunks generated after the client left"
    assert tiny.status_code == 200


def test_a_streamed_completion_assembles_into_the_non_streamed_shape() -> None:
    """What ``LlamaEngine.complete`` gives async callers, from llama.cpp's OpenAI-style stream chunks."""
    import threading

    from hfbridge.backends.local._llm import CallerGone, _completed

    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    text = [{"id": "t", "created": 1, "model": "m", "choices": [{"index": 0, "text": "Once", "finish_reason": None}]},
            {"id": "t", "choices": [{"index": 0, "text": " upon", "finish_reason": "length"}]},
            {"id": "t", "choices": [], "usage": usage}]  # fmt: skip
    answer = _completed(iter(text), threading.Event())
    assert answer["choices"] == [{"index": 0, "text": "Once upon", "finish_reason": "length"}]
    assert (answer["id"], answer["usage"]["completion_tokens"]) == ("t", 2)

    closed = []

    def endless() -> Any:
        try:
            while True:
                yield {"choices": [{"index": 0, "text": "x"}]}
        finally:
            closed.append(True)

    gone = threading.Event()
    gone.set()
    with pytest.raises(CallerGone):
        _completed(endless(), gone)
    assert closed == [True]  # the stream was closed: llama.cpp is told to stop
