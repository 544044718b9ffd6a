"""Flow control for one backend: adaptive concurrency and adaptive rate around every request, and what a refusal
costs the call that got it.

The retry wrapper calls it around each try::

    flow = FlowControl()                                   # one per backend (per server)
    ticket = flow.acquire(timeout=seconds_left, retry=attempt > 1)   # await flow.aacquire(...) in a task
    try:
        result = send()
    except HFBridgeError as error:
        verdict = ticket.failed(error)
        # verdict.charged: whether this try counts against max_attempts
        # verdict.wait: seconds before the retry (None: the retry policy's own backoff)
    else:
        ticket.succeeded()

A *refusal* (429, 503 that is not a loading model) lowers the rate when the server's latency was flat and the
concurrency when requests were queuing there (:meth:`AdaptiveConcurrency.congested`): a server that refuses at
no-load latency is limiting the rate, one whose queue is full is limiting the concurrency. A time-out lowers the
concurrency. Anything else (a bad request, a loading model, a dropped connection) teaches nothing.

**What a refusal costs.** A refusal that the limiters adapted to is the client finding the server's limit, not the
server failing, so it does not count against the caller's ``max_attempts``; the retry waits for the server's
``Retry-After`` (or goes at its next paced turn) and every wait stays inside the call's deadline, which is what
bounds it. So that a server that refuses everything cannot keep calls spinning until their deadline, free refusals
come from an allowance shared by the backend: ``free_refusals`` to start with, refilled by ``earn_per_success`` per
answer. While refusals are rare next to answers (a client probing a limit), the allowance never runs out; once they
are not (a saturated or broken server), refusals count as failed attempts like any other error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InferenceTimeoutError, ModelLoadingError, RateLimitedError, ServerError
from .concurrency import AdaptiveConcurrency, Permit
from .rate import AdaptiveRate, RateGrant

__all__ = ["FlowControl", "Ticket", "Verdict", "signal_of"]

Signal = Literal["refused", "dropped", "failed"]


def signal_of(error: BaseException) -> tuple[Signal, float | None]:
    """What a failed try says about load: ``("refused", retry_after)`` for 429 and for a 503 that is not a loading
    model, ``("dropped", None)`` for a time-out, ``("failed", None)`` for anything else."""
    if isinstance(error, RateLimitedError):
        return "refused", error.retry_after
    if isinstance(error, ServerError) and not isinstance(error, ModelLoadingError) and error.status_code == 503:
        return "refused", error.retry_after
    if isinstance(error, InferenceTimeoutError):
        return "dropped", None
    return "failed", None


@dataclass(frozen=True)
class Verdict:
    """What the flow control made of a failed try."""

    signal: Signal
    #: Whether the try counts against the caller's ``max_attempts``.
    charged: bool
    #: Seconds to wait before retrying; ``None``: the retry policy's own backoff decides.
    wait: float | None = None


class FlowControl:
    """Adaptive concurrency and rate for one backend, shared by its threads and tasks.

    Args:
        concurrency: the :class:`AdaptiveConcurrency` (``None``: no concurrency control here).
        rate: the :class:`AdaptiveRate` (``None``: no pacing).
        free_refusals: refusals the limiters adapted to that may go uncharged before any answer came.
        earn_per_success: free refusals earned back per answer (up to ``free_refusals``).
    """

    def __init__(
        self,
        concurrency: AdaptiveConcurrency | None = None,
        rate: AdaptiveRate | None = None,
        *,
        free_refusals: float = 20.0,
        earn_per_success: float = 0.1,
    ) -> None:
        if free_refusals < 0 or earn_per_success < 0:
            raise ValueError("free_refusals and earn_per_success must not be negative")
        self.concurrency = concurrency
        self.rate = rate
        self.free_refusals = free_refusals
        self.earn_per_success = earn_per_success
        self._reset()

    @classmethod
    def adaptive(cls, *, max_concurrency: int | None = None, requests_per_second: float | None = None) -> FlowControl:
        """The defaults: concurrency learned up to ``max_concurrency`` (64 when ``None``), from 4 in flight (what a
        backend allowed before it learned anything: concurrent chats do not wait for one another while the first
        answers come), rate learned from 429s and never above ``requests_per_second``."""
        ceiling = max_concurrency or 64
        concurrency = AdaptiveConcurrency(initial=min(4, ceiling), max_limit=ceiling)
        return cls(concurrency, AdaptiveRate(requests_per_second))

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._allowance = self.free_refusals
        self.stats = {"free_refusals": 0, "charged_refusals": 0}

    def __repr__(self) -> str:
        return f"FlowControl({self.concurrency!r}, {self.rate!r})"

    # ---------------------------------------------------------------------------------------------- acquiring
    def acquire(self, timeout: float | None = None, *, retry: bool = False) -> Ticket:
        """Wait (blocking the thread) for a concurrency slot, then for a paced turn; raise
        :class:`~hfbridge.errors.InferenceTimeoutError` if that takes longer than ``timeout``. ``retry`` puts the
        request ahead of first tries in the pacing line."""
        clock = self._clock()
        started = clock()
        permit = self.concurrency.acquire(timeout, start=False) if self.concurrency is not None else None
        grant = None
        if self.rate is not None:
            try:
                grant = self.rate.acquire(_left(timeout, clock() - started), first=retry)
            except BaseException:
                if permit is not None:
                    permit.ignore()
                raise
        return self._ticket(permit, grant)

    async def aacquire(self, timeout: float | None = None, *, retry: bool = False) -> Ticket:
        """:meth:`acquire` for tasks: waits without blocking the event loop."""
        clock = self._clock()
        started = clock()
        permit = await self.concurrency.aacquire(timeout, start=False) if self.concurrency is not None else None
        grant = None
        if self.rate is not None:
            try:
                grant = await self.rate.aacquire(_left(timeout, clock() - started), first=retry)
            except BaseException:
                if permit is not None:
                    permit.ignore()
                raise
        return self._ticket(permit, grant)

    def _clock(self) -> Callable[[], float]:
        if self.concurrency is not None:
            return self.concurrency.clock
        if self.rate is not None:
            return self.rate.clock
        return time.monotonic

    def _ticket(self, permit: Permit | None, grant: RateGrant | None) -> Ticket:
        if permit is not None:
            permit.start()
        return Ticket(self, permit, grant)

    # ---------------------------------------------------------------------------------------------- outcomes
    def _succeeded(self) -> None:
        with self._lock:
            self._allowance = min(self.free_refusals, self._allowance + self.earn_per_success)

    def _charge(self, adapted: bool) -> bool:
        """Whether a refusal counts against the caller's attempts (spends the allowance when it does not)."""
        with self._lock:
            if adapted and self._allowance >= 1.0:
                self._allowance -= 1.0
                self.stats["free_refusals"] += 1
                return False
            self.stats["charged_refusals"] += 1
            return True

    def __getstate__(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "rate": self.rate, "free_refusals": self.free_refusals,
                "earn_per_success": self.earn_per_success}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()


class Ticket:
    """One try's place in the flow: report its outcome exactly once with :meth:`succeeded` or :meth:`failed`
    (:meth:`abandon` when the try was given up without an answer, e.g. cancelled)."""

    __slots__ = ("_flow", "done", "grant", "permit")

    def __init__(self, flow: FlowControl, permit: Permit | None, grant: RateGrant | None) -> None:
        self._flow = flow
        self.permit = permit
        self.grant = grant
        self.done = False

    def succeeded(self, latency: float | None = None) -> None:
        """The server answered. ``latency`` overrides the measured one (a stream passes its time to first
        chunk, since its length says nothing about load)."""
        if self._finish():
            if self.permit is not None:
                self.permit.success(latency)
            if self.grant is not None:
                self.grant.success()
            self._flow._succeeded()

    def failed(self, error: BaseException) -> Verdict:
        """The try failed with ``error``: adapt to it and say what it costs the call."""
        signal, retry_after = signal_of(error)
        if not self._finish():
            return Verdict(signal, charged=True)
        permit, grant = self.permit, self.grant
        if signal == "refused":
            blamed = permit is not None and self._flow.concurrency is not None and self._flow.concurrency.congested
            adapted = blamed
            if permit is not None:
                permit.refused() if blamed else permit.ignore()
            if grant is not None and not blamed:
                grant.refused(retry_after)
                adapted = True
            charged = self._flow._charge(adapted)
            # Paced (or concurrency-limited) retries need no backoff of their own: the limiters space them.
            wait = retry_after if retry_after is not None else (0.0 if adapted and not charged else None)
            return Verdict(signal, charged=charged, wait=wait)
        if permit is not None:
            permit.dropped() if signal == "dropped" else permit.ignore()
        return Verdict(signal, charged=True)

    def abandon(self) -> None:
        """The try ended without an answer that says anything (cancelled, or an error raised before sending)."""
        if self._finish() and self.permit is not None:
            self.permit.ignore()

    def _finish(self) -> bool:
        if self.done:
            return False
        self.done = True
        return True


def _left(timeout: float | None, spent: float) -> float | None:
    if timeout is None:
        return None
    left = timeout - spent
    if left <= 0:
        raise InferenceTimeoutError(f"no send slot within the {timeout:.3g} s left to this call")
    return left
