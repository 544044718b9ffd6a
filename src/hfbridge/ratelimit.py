"""A client-side rate limiter shared by every thread and task that uses one backend."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimit"]


@dataclass
class RateLimit:
    """Allow at most ``requests`` per ``per`` seconds, with bursts of up to ``burst`` requests.

    A token bucket: it starts full (``burst`` tokens) and refills at ``requests / per`` tokens a second. Each
    request takes one token, waiting for it if there is none. The reservation happens under a thread lock and
    the wait happens outside it (``time.sleep`` in threads, ``asyncio.sleep`` in tasks), so one instance can be
    shared by threads and event loops at once and nobody waits longer than their turn.

    >>> limit = RateLimit(300, per=3600)          # 300 requests an hour, evenly spaced
    >>> limit = RateLimit(10, per=1, burst=10)    # 10 a second, all ten at once if idle
    """

    requests: float
    per: float = 1.0
    burst: int = 1
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per <= 0:
            raise ValueError("RateLimit needs requests > 0 and per > 0")
        if self.burst < 1:
            raise ValueError("RateLimit burst must be at least 1")
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = self.clock()

    @property
    def interval(self) -> float:
        """Seconds between two requests at the steady rate."""
        return self.per / self.requests

    def reserve(self) -> float:
        """Take one token now and return how long the caller must wait before sending."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens * self.interval

    def acquire(self) -> float:
        """Block the calling thread until a request may be sent; return the time waited."""
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        return wait

    async def aacquire(self) -> float:
        """Wait (without blocking the loop) until a request may be sent; return the time waited."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
