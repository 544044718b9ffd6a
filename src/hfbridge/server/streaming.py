"""Server-sent events: TGI writes ``data:{json}``, OpenAI-compatible routes ``data: {json}`` and end with
``data: [DONE]``. A stream's first item is awaited before the 200 goes out, so a failure before the first token is
an HTTP error; a failure after it travels as an error event. When the client goes away the backend stream is closed
(``aclose``), which stops the generation behind it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import orjson
from starlette.responses import StreamingResponse

__all__ = ["first", "sse", "tgi_event", "openai_event", "DONE"]

Item = TypeVar("Item")
DONE = b"data: [DONE]\n\n"


async def first(stream: AsyncIterator[Item]) -> Item | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


def sse(events: AsyncIterator[bytes], *backend_streams: AsyncIterator[Any]) -> StreamingResponse:
    """Stream ``events``; close ``backend_streams`` however the response ends (done, failed, client gone)."""

    async def guarded() -> AsyncIterator[bytes]:
        try:
            async for event in events:
                yield event
        finally:
            for stream in backend_streams:
                closer = getattr(stream, "aclose", None)
                if closer is not None:
                    with contextlib.suppress(Exception):  # best effort: a dropped stream stops by itself too
                        await closer()

    return StreamingResponse(guarded(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def tgi_event(payload: dict[str, Any]) -> bytes:
    return b"data:" + orjson.dumps(payload) + b"\n\n"


def openai_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
