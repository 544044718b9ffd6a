"""How many requests may be in flight to one server, learned from what the server's latency says.

A server has a number of slots (TEI's and TGI's workers, an endpoint's replicas): below it, more requests in flight
mean more throughput at the same latency; above it, requests wait in the server's queue and only latency grows,
until the queue is full and the server refuses (429 ``Overloaded``, 503). :class:`AdaptiveConcurrency` finds that
knee the way delay-based congestion control does (TCP Vegas, BBR, Netflix's concurrency-limits), and keeps a small
queue at the server so that no slot idles while the client reads an answer.

The algorithm, per server:

* Every answer is a sample: its latency ``l`` and the requests in flight when it was sent, ``w``. The shortest
  latency seen is the server's no-load time ``base``. The answer saw the server serving ``w * base / l`` requests
  at once and queuing the rest (TCP Vegas' estimate, by Little's law): ``w`` while nothing queues, the slot count
  once requests queue.
* A *round* is one round trip: it ends when a request sent after the previous round ended comes back. The round's
  *capacity* sample is the upper quartile of its answers' views (an answer delayed by a busy client thread is one
  of many; a queue delays all of them), and the estimate is the largest sample of the last three rounds.
* **Start-up**: the limit starts at one and grows by one per answer that saw no queue (it doubles every round) until
  a round shows a queue at the server of at least ``headroom`` of the capacity (and two requests); then it is set to
  the target below.
* **Steady state**: after every round the limit is ``capacity * (1 + headroom) + 1``. While nothing queues the
  capacity sample equals the requests in flight, so the limit grows by ``headroom`` (and one) a round, as long as
  throughput grows; once requests queue, it settles a ``headroom`` fraction (and one) above the slot count. If
  latency rises because the server slowed down, the capacity samples fall and so does the limit.
* **Refusals** (429, 503) and time-outs mean the server's queue is full: the limit is cut to ``backoff`` times what
  was in flight (once per round), and it may not exceed one less than that number again until five rounds have
  passed without a refusal (then one more per five rounds). (:class:`~hfbridge.flow.FlowControl` reports a refusal
  here only while requests queue; one at no-load latency is a rate limit, for :class:`~hfbridge.flow.AdaptiveRate`.)
* **Probing the base**: in a long job the server's queue never empties, so no answer shows the no-load latency any
  more, and a server that really got slower would look congested for ever. When no answer has come within 5% of
  ``base`` for ``probe_every`` rounds, in-flight requests are held at 3/4 of the capacity for two rounds and
  ``base`` is re-measured (BBR's ProbeRTT). The first answers of all are the slowest (cold connections and caches
  on both sides) and may have set ``base`` too high, so a first probe, at half the capacity, comes three rounds
  after start-up.
* A caller that does not use its limit (fewer than half of it in flight, nothing queued) teaches nothing: the
  limit is left alone, so a quiet interactive phase does not shrink it before a batch job.

One instance serves every thread and every task of any event loop (see :mod:`hfbridge.flow._waiting`); waiting
is first come, first served. Nothing here measures time except a permit's latency (``clock``), and callers may
pass latencies themselves, so the controller can be driven by scripted signals.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._waiting import Waiter, waited_too_long

__all__ = ["AdaptiveConcurrency", "Permit"]

#: Rounds over which the capacity estimate keeps its largest sample.
_CAPACITY_ROUNDS = 3
#: An answer within this fraction of ``base`` confirms that the base is still the server's no-load latency.
_BASE_CONFIRM = 0.05
#: After a refusal, rounds without one before the ceiling it set rises by one.
_CEILING_ROUNDS = 5
#: Start-up ends when a round shows at least this many requests queued (fewer can be a busy client's noise).
_STARTUP_QUEUE = 2.0
#: Requests in flight while the base is probed, as a fraction of the capacity estimate.
_PROBE_FRACTION = 0.75


class AdaptiveConcurrency:
    """The number of requests allowed in flight to one server, adapted to its latency and refusals.

    >>> limiter = AdaptiveConcurrency()
    >>> permit = limiter.acquire()          # waits for a free slot (``await limiter.aacquire()`` in a task)
    >>> ...                                 # send the request
    >>> permit.success()                    # or permit.refused(), permit.dropped(), permit.ignore()

    Args:
        initial: the limit before anything is known. One: the second request then goes on a warm connection
            with nothing queued, so its latency is the server's no-load time (the first request of every new
            connection is slower, and with more in flight than slots from the start no answer would show it).
        min_limit: the limit never goes below this.
        max_limit: nor above this (an explicit ``max_concurrency`` is this cap).
        headroom: the queue kept at the server, as a fraction of its capacity (0.2: 10 in flight for 8 slots);
            it hides the client's own time between answers and requests. Larger is faster on a loaded client and
            harder on the server's queue.
        backoff: the limit after a refusal, as a fraction of what was in flight.
        probe_every: rounds without a no-load answer before the no-load latency is measured again.
        clock: seconds, monotonic; permits measure their latency with it.
    """

    def __init__(
        self,
        *,
        initial: int = 1,
        min_limit: int = 1,
        max_limit: int = 64,
        headroom: float = 0.2,
        backoff: float = 0.7,
        probe_every: int = 40,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError("AdaptiveConcurrency needs 1 <= min_limit <= max_limit")
        if not 0 < headroom <= 1:
            raise ValueError("AdaptiveConcurrency headroom must be in (0, 1]")
        if not 0 < backoff < 1:
            raise ValueError("AdaptiveConcurrency backoff must be in (0, 1)")
        if probe_every < 2:
            raise ValueError("AdaptiveConcurrency probe_every must be at least 2 rounds")
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.initial = min(max(initial, min_limit), max_limit)
        self.headroom = headroom
        self.backoff = backoff
        self.probe_every = probe_every
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Waiter] = deque()
        self._limit = float(self.initial)
        self._held = 0  # permits handed out and not released
        self._sending = 0  # of those, the ones whose request has been sent
        self._startup = True
        self._base: float | None = None
        self._base_round = 0
        self._delivered = 0
        self._round = 0
        self._round_end = 0
        self._round_samples: list[tuple[int, float]] = []
        self._capacities: deque[float] = deque(maxlen=_CAPACITY_ROUNDS)
        self._queued = 0.0  # the queue estimate of the last round
        self._ceiling = float(self.max_limit)
        self._ceiling_round = 0
        self._cut_round = -1
        self._probe_end: int | None = None
        self._probe_at = math.inf  # a probe due at this round whatever the base's age
        self._probe_fraction = _PROBE_FRACTION
        self._probe_min = math.inf
        self.stats = {"successes": 0, "refusals": 0, "drops": 0, "cuts": 0, "probes": 0, "max_in_flight": 0}

    # ---------------------------------------------------------------------------------------------- reading
    @property
    def limit(self) -> int:
        """The learned limit: requests allowed in flight (fewer for two rounds while the base is probed)."""
        with self._lock:
            return max(self.min_limit, int(self._limit))

    @property
    def probing(self) -> bool:
        """Whether the no-load latency is being measured again (in flight held at a fraction of the capacity)."""
        with self._lock:
            return self._probe_end is not None

    @property
    def in_flight(self) -> int:
        """Permits handed out and not yet released."""
        with self._lock:
            return self._held

    @property
    def capacity(self) -> float | None:
        """The server's estimated slot count (requests it serves at once), ``None`` before the first round."""
        with self._lock:
            return max(self._capacities) if self._capacities else None

    @property
    def congested(self) -> bool:
        """Whether the last round showed requests queued at the server (at least one)."""
        with self._lock:
            return self._queued >= 1.0

    def blames(self, permit: Permit) -> bool:
        """Whether a refusal of ``permit``'s request is about concurrency (too many in flight) rather than rate:
        requests were queuing at the server, or this one was sent with more in flight than the server was known to
        serve. A refusal at no-load latency with no more in flight than before is a rate limit."""
        with self._lock:
            known = max(self._capacities) if self._capacities else 0.0
            return self._queued >= 1.0 or permit.in_flight_at_start > known + 1.0

    def __repr__(self) -> str:
        with self._lock:
            capacity = f"{max(self._capacities):.1f}" if self._capacities else "?"
            base = f"{self._base * 1000:.1f} ms" if self._base is not None else "?"
            phase = "probing" if self._probe_end is not None else "start-up" if self._startup else "steady"
            return (f"AdaptiveConcurrency(limit={int(self._limit)}, in_flight={self._held}, capacity={capacity}, "
                    f"base={base}, {phase})")  # fmt: skip

    # ---------------------------------------------------------------------------------------------- acquiring
    def try_acquire(self, *, start: bool = True) -> Permit | None:
        """A permit if a slot is free now and nobody is waiting for one, else ``None`` (never waits)."""
        with self._lock:
            if not self._enter():
                return None
        return self._permit(start)

    def acquire(self, timeout: float | None = None, *, start: bool = True) -> Permit:
        """Block the calling thread until a request may be sent; ``InferenceTimeoutError`` after ``timeout``.

        ``start=False`` leaves the latency clock stopped until :meth:`Permit.start` (when something else, such
        as a rate limiter, is waited for between the slot and the send)."""
        with self._lock:
            entered = self._enter()
            if not entered:
                waiter = Waiter()
                self._queue.append(waiter)
        if entered:
            return self._permit(start)
        if not waiter.wait(timeout):
            with self._lock:
                if not waiter.granted:
                    self._queue.remove(waiter)
                    raise waited_too_long("concurrency slot", timeout)
        return self._permit(start)

    async def aacquire(self, timeout: float | None = None, *, start: bool = True) -> Permit:
        """Wait without blocking the event loop until a request may be sent; see :meth:`acquire`."""
        with self._lock:
            entered = self._enter()
            if not entered:
                waiter = Waiter(asyncio.get_running_loop())
                self._queue.append(waiter)
        if entered:
            return self._permit(start)
        try:
            await waiter.await_wake(timeout)
        except BaseException as error:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._queue.remove(waiter)
                elif not isinstance(error, TimeoutError):  # cancelled after the slot was handed over: pass it on
                    self._held -= 1
                    self._grant()
            if granted and isinstance(error, TimeoutError):  # the slot came as the time ran out: take it
                return self._permit(start)
            if isinstance(error, TimeoutError):
                raise waited_too_long("concurrency slot", timeout) from None
            raise
        return self._permit(start)

    def _allowed(self) -> int:
        limit = self._limit
        if self._probe_end is not None and self._capacities:
            limit = min(limit, self._probe_fraction * max(self._capacities))
        return max(self.min_limit, int(limit))

    def _enter(self) -> bool:
        if self._queue or self._held >= self._allowed():
            return False
        self._held += 1
        return True

    def _grant(self) -> None:
        """Hand free slots to waiters, first come first served (call under the lock)."""
        while self._queue and self._held < self._allowed():
            waiter = self._queue.popleft()
            waiter.granted = True
            self._held += 1
            if not waiter.wake():
                waiter.granted = False
                self._held -= 1

    def _permit(self, start: bool) -> Permit:
        permit = Permit(self)
        if start:
            permit.start()
        return permit

    # ---------------------------------------------------------------------------------------------- signals
    def _started(self, permit: Permit) -> None:
        with self._lock:
            self._sending += 1
            permit.in_flight_at_start = self._sending
            permit.delivered_at_start = self._delivered
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self._sending)

    def _finished(self, permit: Permit, outcome: str, latency: float | None) -> None:
        with self._lock:
            self._held -= 1
            if permit.started_at is not None:
                self._sending -= 1
            if outcome == "success":
                self.stats["successes"] += 1
                if latency is not None and latency > 0 and permit.started_at is not None:
                    self._observe(latency, permit)
            elif outcome in ("refused", "dropped"):
                self.stats["refusals" if outcome == "refused" else "drops"] += 1
                self._cut(permit)
            self._grant()

    def _observe(self, latency: float, permit: Permit) -> None:
        self._delivered += 1
        inflight = permit.in_flight_at_start
        if self._probe_end is not None:
            self._probe_min = min(self._probe_min, latency)
        if self._base is None or latency <= self._base:
            self._base, self._base_round = latency, self._round
        elif latency <= self._base * (1 + _BASE_CONFIRM):
            self._base_round = self._round
        self._round_samples.append((inflight, latency))
        # Start-up grows on answers that saw no queue: once requests queue, more in flight buys nothing.
        if self._startup and 2 * inflight >= self._limit and inflight * (1.0 - self._base / latency) < 1.0:
            self._limit = min(self._limit + 1, self._ceiling, self.max_limit)
        if permit.delivered_at_start >= self._round_end:
            self._end_round()

    def _end_round(self) -> None:
        self._round += 1
        self._round_end = self._delivered
        samples, self._round_samples = self._round_samples, []
        if self._ceiling < self.max_limit and self._round - self._ceiling_round >= _CEILING_ROUNDS:
            self._ceiling, self._ceiling_round = self._ceiling + 1, self._round
        if not samples or self._base is None:
            return
        base = self._base
        # Each answer's view of the server (Little's law): it was serving w * base / l requests, the rest queued.
        # The round's upper quartile view: an answer delayed by the client (a thread waiting for the GIL) or by a
        # slow response is one of many, a queue delays all of them.
        capacity = _upper_quartile([w * base / latency for w, latency in samples])
        self._queued = -_upper_quartile([w * (base / latency - 1.0) for w, latency in samples])
        inflight = max(w for w, _ in samples)
        self._capacities.append(capacity)
        if self._probe_end is not None:
            if self._round >= self._probe_end:
                self._base, self._base_round = self._probe_min, self._round
                self._probe_end, self._probe_min, self._probe_fraction = None, math.inf, _PROBE_FRACTION
            return
        if self._startup:
            if self._queued >= max(_STARTUP_QUEUE, self.headroom * capacity):
                self._startup = False
                self._limit = self._target(max(self._capacities))
                # The first answers are the slowest (cold connections and caches on both sides), so the base they
                # gave may hold queueing: measure it again soon, in flight halved.
                self._probe_at, self._probe_fraction = self._round + 3, 0.5
            return
        if 2 * inflight < self._limit and self._queued < 1.0:
            return  # the caller did not use its limit: nothing learned about the server
        self._limit = self._target(max(self._capacities))
        if self._round >= self._probe_at or self._round - self._base_round > self.probe_every:
            self._probe_end, self._probe_at = self._round + 2, math.inf
            self.stats["probes"] += 1

    def _target(self, capacity: float) -> float:
        target = capacity * (1.0 + self.headroom) + 1.0
        return max(float(self.min_limit), min(target, self._ceiling, float(self.max_limit)))

    def _cut(self, permit: Permit) -> None:
        if self._round <= self._cut_round:
            return  # one cut per round: the refusals of one burst are one signal
        inflight = max(permit.in_flight_at_start, 1)
        self._cut_round = self._round
        self._startup = False
        self._limit = max(float(self.min_limit), self.backoff * min(self._limit, inflight))
        self._ceiling, self._ceiling_round = max(float(self.min_limit), inflight - 1.0), self._round
        self._capacities.clear()
        self.stats["cuts"] += 1

    # ---------------------------------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        keep = ("min_limit", "max_limit", "initial", "headroom", "backoff", "probe_every", "clock")
        return {name: getattr(self, name) for name in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()


def _upper_quartile(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=4, method="inclusive")[2]


class Permit:
    """One request's slot. Release it exactly once, with what happened:

    * :meth:`success` — an answer came; its latency (from :meth:`start`, or as given) is a sample;
    * :meth:`refused` — the server refused for load (429, 503 overloaded);
    * :meth:`dropped` — no answer in time (the request timed out);
    * :meth:`ignore` — anything else (a bad request, a loading model, a connection error): no signal.

    Releasing twice does nothing. Used as a context manager, a permit not released inside is ignored on exit.
    """

    __slots__ = ("_owner", "delivered_at_start", "in_flight_at_start", "released", "started_at")

    def __init__(self, owner: AdaptiveConcurrency) -> None:
        self._owner = owner
        self.started_at: float | None = None
        self.in_flight_at_start = 0
        self.delivered_at_start = 0
        self.released = False

    def start(self) -> None:
        """The request is being sent now: start its latency clock (once)."""
        if self.started_at is None and not self.released:
            self.started_at = self._owner.clock()
            self._owner._started(self)

    def success(self, latency: float | None = None) -> None:
        if latency is None and self.started_at is not None:
            latency = self._owner.clock() - self.started_at
        self._release("success", latency)

    def refused(self) -> None:
        self._release("refused", None)

    def dropped(self) -> None:
        self._release("dropped", None)

    def ignore(self) -> None:
        self._release("ignore", None)

    def _release(self, outcome: str, latency: float | None) -> None:
        if self.released:
            return
        self.released = True
        self._owner._finished(self, outcome, latency)

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ignore()
