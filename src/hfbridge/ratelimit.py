"""A client-side rate limiter shared by every thread and task that uses one backend."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import _settings as setting
from .errors import ConfigurationError, InferenceTimeoutError

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

    ``requests`` and ``per`` must be finite numbers above 0 and ``burst`` an int of at least 1; anything else
    raises :class:`~hfbridge.errors.ConfigurationError` here (``RateLimit(nan)`` would never hand out a token,
    ``RateLimit(inf)`` would not limit anything).
    """

    requests: float
    per: float = 1.0
    burst: int = 1
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        setting.positive(self.requests, "RateLimit requests")
        setting.positive(self.per, "RateLimit per")
        setting.count(self.burst, "RateLimit burst")
        if not 0 < self.per / self.requests < math.inf:
            raise ConfigurationError(f"RateLimit({self.requests!r}, per={self.per!r}) has no usable interval")
        if not callable(self.clock):
            raise ConfigurationError(f"RateLimit clock must be callable, got {type(self.clock).__name__}")
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = self.clock()
        self._not_before = 0.0

    @property
    def interval(self) -> float:
        """Seconds between two requests at the steady rate."""
        return self.per / self.requests

    def _refill(self) -> float:
        """Add the tokens earned since the last update (call under the lock); return the current time."""
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) / self.interval)
        self._updated = now
        return now

    def reserve(self) -> float:
        """Take one token now and return how long the caller must wait before sending."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens * self.interval

    def defer(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` from now (a server answered 429 with that ``Retry-After``).

        A server's Retry-After says when its own next token matures. Moving ours there keeps every thread and task
        of this client in step with the server, instead of arriving a hair early on each refill and losing a slot
        to a 429 every time network delay varies.
        """
        with self._lock:
            now = self._refill()
            self._tokens = min(self._tokens, 1.0 - seconds / self.interval)
            self._not_before = max(self._not_before, now + seconds)

    def _held_back(self) -> float:
        """Time left before a deferral ends (requests queued before it must not go early)."""
        with self._lock:
            return max(0.0, self._not_before - self.clock())

    def try_take(self) -> float:
        """Take a token if one is available now and return 0.0; else take nothing and return how long until one is
        (a server refusing with 429 + Retry-After uses it). One step under the lock, so two callers cannot both
        see the same last token."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) * self.interval

    def acquire(self, timeout: float | None = None) -> float:
        """Block the calling thread until a request may be sent; return the time waited. With ``timeout``, a turn
        further away than that is not waited for: the token goes back and
        :class:`~hfbridge.errors.InferenceTimeoutError` is raised at once."""
        waited = self.reserve()
        if timeout is not None and max(waited, self._held_back()) > timeout:
            with self._lock:
                self._tokens += 1.0
            raise InferenceTimeoutError(
                f"the rate limit's next turn is {max(waited, self._held_back()):.3g} s away, past the {timeout:.3g} s "
                "left to this request (RetryPolicy.deadline)"
            )
        if waited > 0:
            time.sleep(waited)
        while (extra := self._held_back()) > 0:
            time.sleep(extra)
            waited += extra
        return waited

    async def aacquire(self) -> float:
        """Wait (without blocking the loop) until a request may be sent; return the time waited."""
        waited = self.reserve()
        if waited > 0:
            await asyncio.sleep(waited)
        while (extra := self._held_back()) > 0:
            await asyncio.sleep(extra)
            waited += extra
        return waited

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
