"""The server's own rate limit: refuse requests beyond it with 429, as a provider's gateway does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .faults import RetryAfterMode, check_retry_after_mode, retry_after_header

__all__ = ["ServerRateLimit"]


@dataclass
class ServerRateLimit:
    """At most ``requests`` per ``per`` seconds with bursts of ``burst``; beyond that a request is refused.

    A token bucket that never waits: a request either takes a token at once or is refused, and the refusal says
    when the next token matures in the way ``retry_after_mode`` asks (``none``, the realistic default, says
    nothing). ``refused`` counts refusals (``GET /_hfbridge/faults`` reports it).

    >>> ServerRateLimit(20)                                        # 20 requests a second, no Retry-After
    >>> ServerRateLimit(300, per=60, retry_after_mode="seconds")   # 300 a minute, Retry-After in whole seconds
    """

    requests: float
    per: float = 1.0
    burst: int = 1
    retry_after_mode: RetryAfterMode = "none"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per <= 0:
            raise ValueError("ServerRateLimit needs requests > 0 and per > 0")
        if self.burst < 1:
            raise ValueError("ServerRateLimit burst must be at least 1")
        check_retry_after_mode(self.retry_after_mode)
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = self.clock()
        self.refused = 0

    @property
    def interval(self) -> float:
        return self.per / self.requests

    def take(self) -> float:
        """Take a token and return 0.0, or take nothing, count a refusal and return the seconds until one matures.

        One step under the lock, so two requests cannot both see the last token."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            self.refused += 1
            return (1.0 - self._tokens) * self.interval

    def headers(self, wait: float) -> dict[str, str]:
        """The headers of a refusal that asks for ``wait`` seconds."""
        return retry_after_header(wait, self.retry_after_mode)
