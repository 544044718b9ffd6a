"""A real :class:`~hfbridge.RateLimit` on a clock that never moves, for counting rather than timing."""

from __future__ import annotations

import threading

from hfbridge import RateLimit


class FrozenRateLimit(RateLimit):
    """With the clock frozen, the bucket never refills, so the turns it hands out are exact: after the burst, the
    k-th caller of one shared instance is told to wait k intervals (and really sleeps that long). ``waits`` records
    every wait handed out; sorted, it shows whether the callers shared one instance, which no timing can show
    reliably on a loaded machine."""

    def __init__(self, requests: float, per: float = 1.0, burst: int = 1) -> None:
        super().__init__(requests, per=per, burst=burst, clock=lambda: 0.0)
        self.waits: list[float] = []
        self._record_lock = threading.Lock()

    def reserve(self) -> float:
        wait = super().reserve()
        with self._record_lock:
            self.waits.append(wait)
        return wait

    def turns(self, callers: int) -> list[float]:
        """The waits ``callers`` callers of one instance get: the burst at once, then one interval apart."""
        return [max(0, k - self.burst + 1) * self.interval for k in range(callers)]
