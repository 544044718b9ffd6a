"""The time bound of the request running in this context.

The retry loop (:class:`~hfbridge.retry.Retrier`) gives each request ``RetryPolicy.deadline`` seconds, from the
moment it is dispatched: waits for a send slot, every try, every backoff and the reading of every answer, streams
included. It records the end here, in a context variable, so that the code reading an answer (the hub transport's
HTTP reads, which run in the caller's thread) can stop at it: a per-read ``timeout`` alone lets a body trickled a
few bytes at a time, or a stream of keep-alive comments, run for ever.

Times are ``time.monotonic()`` readings (the event loop's clock too), so async code can hand them to
``asyncio.timeout_at``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import InferenceTimeoutError

__all__ = ["DeadlineExceeded", "bounded", "check", "current", "left", "read_timeout"]

_END: ContextVar[float | None] = ContextVar("hfbridge_deadline", default=None)


class DeadlineExceeded(InferenceTimeoutError):
    """A request ran past its deadline (an :class:`~hfbridge.errors.InferenceTimeoutError`; never retried).

    For a stream that had yielded chunks, ``received_text`` and ``chunks_received`` say what came before it.
    """

    received_text: str = ""
    chunks_received: int = 0


def current() -> float | None:
    """When the request running in this context must be done (``None``: no bound)."""
    return _END.get()


def left(end: float | None = None) -> float | None:
    """Seconds left to ``end`` (default: this context's), ``None`` for no bound; never negative."""
    end = _END.get() if end is None else end
    return None if end is None else max(0.0, end - time.monotonic())


@contextmanager
def bounded(end: float | None) -> Iterator[float | None]:
    """Run the block with ``end`` as its deadline (an outer, earlier deadline still wins); yields the one in force."""
    outer = _END.get()
    effective = end if outer is None else outer if end is None else min(end, outer)
    token = _END.set(effective)
    try:
        yield effective
    finally:
        _END.reset(token)


def check(end: float | None, what: str = "request") -> None:
    """Raise :class:`DeadlineExceeded` if ``end`` has passed."""
    if end is not None and time.monotonic() >= end:
        raise exceeded(what)


def exceeded(what: str = "request", *, received: str = "", chunks: int = 0) -> DeadlineExceeded:
    detail = f" after {chunks} chunk(s); the partial output is in `received_text`" if chunks else ""
    error = DeadlineExceeded(
        f"{what} ran past its deadline{detail} (RetryPolicy.deadline bounds each request as a whole: waiting for a "
        "send slot, every try and the reading of the answer)"
    )
    error.received_text, error.chunks_received = received, chunks
    return error


def read_timeout(timeout: float | None, end: float | None) -> float | None:
    """The per-read timeout to use now: ``timeout``, shortened to the time left before ``end``."""
    remaining = left(end) if end is not None else None
    if remaining is None:
        return timeout
    remaining = max(remaining, 0.001)
    return remaining if timeout is None else min(timeout, remaining)
