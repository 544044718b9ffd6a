"""One path for every task request: read and check the body, apply the rate limit and the fault plan, wait for a
free slot, run the handler, and turn any failure into an error in the route's dialect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .context import ServerContext
from .errors import Dialect, Kind, Refusal, error_response, refusal_from
from .faults import Fault, retry_after_header

__all__ = ["Call", "Handler", "read_body", "read_json", "streams", "task_endpoint"]


@dataclass
class Call:
    """One request as a handler sees it. A handler may change ``dialect`` once it knows the task (``POST /``)."""

    ctx: ServerContext
    request: Request
    #: The parsed JSON body (None for a file: see ``is_binary``).
    body: Any
    fault: Fault | None
    dialect: Dialect
    #: The body's bytes and its media type (None when the client sent no ``Content-Type``).
    raw: bytes = b""
    content_type: str | None = None
    #: The body is a file (an image, audio...) rather than JSON (``binary`` routes only).
    is_binary: bool = False

    @property
    def accept(self) -> str:
        return self.request.headers.get("accept", "")


Handler = Callable[[Call], Awaitable[Response]]


def streams(handler: Handler) -> Handler:
    """Mark a handler that can answer with a stream: it acts on a mid-stream fault itself (others answer a
    mid-stream fault with a 500)."""
    handler.streams = True  # type: ignore[attr-defined]
    return handler


def task_endpoint(
    ctx: ServerContext, handler: Handler, dialect: Dialect, *, binary: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint running ``handler``. ``binary`` routes (hf-inference's) also take a raw file as the body."""

    async def endpoint(request: Request) -> Response:
        call = Call(ctx, request, None, None, dialect)
        try:
            call.raw, call.content_type, call.body = await read_body(request, ctx, binary=binary)
            call.is_binary = not _is_json(call.content_type)
            if ctx.rate_limit is not None and (wait := ctx.rate_limit.take()) > 0:
                raise Refusal("overloaded", "Rate limit reached. Please retry later.", 429,
                              ctx.rate_limit.headers(wait))  # fmt: skip
            replacement = await _apply_fault(call)
            if replacement is not None:
                return replacement
            if ctx.capacity is None:
                return await _run(handler, call)
            async with ctx.capacity:
                return await _run(handler, call)
        except Exception as exc:  # every failure becomes an error body in the route's shape
            return error_response(refusal_from(exc), call.dialect)

    return endpoint


async def _run(handler: Handler, call: Call) -> Response:
    """Run the handler, cancelled if the client goes away before it answers (a stream's own disconnect is noticed
    by the streaming response): cancelling stops a stream's generation before its first token too."""
    if call.fault is not None and not getattr(handler, "streams", False):
        raise Refusal("internal", "injected error")  # a mid-stream fault on a route that never streams
    work = asyncio.ensure_future(_answer(handler, call))
    gone = asyncio.ensure_future(_disconnected(call.request))
    try:
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if work.done():
        return work.result()
    work.cancel()
    return Response(status_code=499)  # nobody is listening; the status is for the access log


async def _answer(handler: Handler, call: Call) -> Response:
    if call.ctx.latency > 0:
        await asyncio.sleep(call.ctx.latency)
    return await handler(call)


async def _disconnected(request: Request) -> None:
    # The body has been read: the next message the server sends is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


# Media types a browser cannot send cross-site without a preflight (refused by ``guard.HostGuard``), or that name a
# file: what InferenceClient sends for a binary input (``image/png``, ``audio/flac``..., or no content type at all
# for raw bytes). ``text/plain`` and the form types stay refused: a page can post them with a plain HTML form.
_FILE_TYPES = ("image/", "audio/", "video/", "application/octet-stream", "application/pdf")


async def read_body(request: Request, ctx: ServerContext, *, binary: bool = False) -> tuple[bytes, str | None, Any]:
    """The request body: ``(bytes, content type, parsed JSON)``. JSON needs a JSON content type (415); on a
    ``binary`` route a file body (a file's media type, or none) is taken as it is and its parsed JSON is None. At
    most ``max_body_bytes`` (413), received within ``body_timeout`` (408), well-formed JSON (422). orjson refuses
    lone surrogates and nesting deeper than 1,024 levels."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower() or None
    is_json = _is_json(content_type)
    is_file = binary and (content_type is None or content_type.startswith(_FILE_TYPES))
    if not is_json and not is_file:
        raise Refusal("media_type", "Expected request with `Content-Type: application/json`" + (
            " or a file (an image or audio media type, `application/octet-stream`, or no content type)"
            if binary else ""))  # fmt: skip
    limit = ctx.limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal("too_large", f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    try:
        raw = await asyncio.wait_for(_read_body(request, limit), ctx.limits.body_timeout)
    except TimeoutError:
        raise Refusal("request_timeout", f"the request body was not received within {ctx.limits.body_timeout:g} s",
                      headers={"Connection": "close"}) from None  # fmt: skip
    if not is_json:
        if not raw:
            raise Refusal("validation", "the request body is empty: send the file's bytes, or a JSON body")
        return raw, content_type, None
    try:
        return raw, content_type, orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refusal("validation", f"Failed to parse the request body as JSON: {exc}") from None


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and (content_type == "application/json" or content_type.endswith("+json"))


async def read_json(request: Request, ctx: ServerContext) -> Any:
    """A JSON request body (see :func:`read_body`)."""
    return (await read_body(request, ctx))[2]


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refusal("too_large", f"request body exceeds the limit of {limit} bytes",
                              headers={"Connection": "close"})  # fmt: skip
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refusal("validation", "the client disconnected before sending the whole body") from None
    return b"".join(chunks)


async def _apply_fault(call: Call) -> Response | None:
    """Act on the fault plan: raise the refusal it injects, hold a stall, answer a drop; a mid-stream fault is
    left on ``call.fault`` for the handler."""
    plan = call.ctx.faults
    if plan is None or not plan.applies_to(call.request.url.path):
        return None
    fault = plan.next_fault()
    if fault is None:
        return None
    if fault.kind == "rate_limited":
        headers = retry_after_header(fault.retry_after, plan.retry_after_mode)
        raise Refusal("overloaded", fault.message or "Model is overloaded", 429, headers)
    if fault.kind == "loading":
        estimated = fault.estimated_time if fault.estimated_time is not None else 1.0
        raise Refusal("loading", fault.message or f"Model {call.ctx.model_id} is currently loading", 503,
                      estimated_time=estimated)  # fmt: skip
    if fault.kind == "server_error":
        raise Refusal("internal", fault.message or "Internal server error", fault.status)
    if fault.kind == "status":
        raise Refusal(_kind_of(fault.status), fault.message or f"injected HTTP {fault.status}", fault.status)
    if fault.kind == "stall":
        # Hold the request, but let go once the client gives up (nothing is gained by keeping a task per
        # abandoned request until shutdown).
        deadline = time.monotonic() + fault.stall_seconds
        while time.monotonic() < deadline:
            if await call.request.is_disconnected():
                return Response(status_code=499)
            await asyncio.sleep(0.05)
        return None
    if fault.kind == "drop":
        return _Dropped()
    call.fault = fault  # midstream_error: the handler decides where it lands
    return None


def _kind_of(status: int) -> Kind:
    if status == 429:
        return "overloaded"
    if status >= 500:
        return "internal"
    return {404: "not_found", 413: "too_large", 401: "forbidden", 402: "forbidden", 403: "forbidden"}.get(
        status, "validation"
    )  # type: ignore[return-value]


class _Dropped(Response):
    """Announce a body, send part of it, then break the connection: what a crashed proxy looks like."""

    def __init__(self) -> None:
        super().__init__(content=b"", status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise ConnectionAbortedError("hfbridge fault injection: connection dropped")
