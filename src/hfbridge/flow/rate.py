"""How many requests per second one server accepts, learned from its refusals.

Inference Providers and gateways limit requests per second per client and answer 429 beyond it, with a
``Retry-After`` in seconds, in fractions of a second, or none at all. :class:`AdaptiveRate` paces requests (evenly
spaced, first come first served) at a rate it learns from those refusals:

* Until the first refusal nothing is paced, unless ``requests_per_second`` caps the rate (a limit the user knows).
* A refusal lowers the learned rate, once per burst (requests sent before the previous cut do not cut again): to
  ``backoff`` times the pace the refused request was sent at; to half of it when nothing got through since the
  previous cut (still far above the limit) or when nothing was paced yet (then of the recent sending rate); to
  ``margin`` times the cap when it came at the cap the user set (most likely one late request: the rate comes back
  up to the cap, and only a second refusal below it cuts by ``backoff``).
  (Measuring the rate the server accepted does not work: a server that refuses every other request of a client
  sending 1.4 times too fast accepts only 0.7 times its limit.)
* The refusal restarts the pacing clock: the server's bucket is empty at that moment, so the next request goes one
  new interval later. ``Retry-After`` is the refused request's own business (the retry waits for it), not a pause
  for every request: a ``Retry-After: 1`` that only means "within the next second" does not idle the job.
* Every answer raises the learned rate, in three speeds around the pace that was last refused (as TCP CUBIC does
  around its last loss): quickly (``fast_recovery`` per answer) back up to ``margin`` times it, slowly
  (``approach``) up to halfway between that and the refused pace, and very slowly (``recovery``) beyond. A refusal
  caused by a late request (a cold connection, a busy client) costs a few percent for a few dozen answers; a limit
  that was raised is found again; a limit that holds is probed about once every hundred answers.
* Nor below a quarter of the best rate the server *accepted* from this client over any five seconds of the last
  ten minutes: a server that accepted that rate limits at no less (a limiter that counts refused requests accepts a
  little less than its limit; a burst allowance, a little more), so pacing far below it is no longer about its
  limit. Without this floor refusals that do not depend on the pace (a shared gateway refusing every fifth request
  whatever this client sends, the fault soak's 20%) cut the rate again and again while answers can only bring it
  back to just below the last refused pace: the rate fell to ``min_rate`` and calls ran out of their deadline
  waiting for a turn. Such refusals still cost a quarter to a half of the rate that could get through; a server
  that lowers its limit more than fourfold is refused into the floor's pace until ten minutes have passed.
* The learned rate never goes below ``min_rate``; the effective rate is the lower of the learned rate and the cap.

One instance serves every thread and every task of any event loop: a request takes a ticket under a thread lock and
sleeps outside it (``time.sleep`` in threads, ``asyncio.sleep`` in tasks) until its turn. Retries may ask to go first.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ._waiting import waited_too_long

__all__ = ["AdaptiveRate", "RateGrant"]

#: Sends kept to measure the sending rate before anything is paced.
_WINDOW = 16
#: Sends older than this many seconds are not part of the measurement.
_MEASURE_HORIZON = 10.0
#: Sends closer together than this count as this far apart (a clock's resolution).
_SHORTEST_SPAN = 0.001
#: The rate (requests/s) after a refusal when nothing could be measured (a single request, refused).
_FIRST_GUESS = 1.0
#: The accepted-rate floor: this fraction of the most answers in any ``_FLOOR_WINDOW`` seconds of the last
#: ``_FLOOR_HORIZON`` seconds (per second); at most ``_FLOOR_ANSWERS`` answers are kept for it.
_FLOOR_FRACTION = 0.25
_FLOOR_WINDOW = 5.0
_FLOOR_HORIZON = 600.0
_FLOOR_ANSWERS = 4096


@dataclass
class RateGrant:
    """Permission to send one request now. Tell the limiter how it went with :meth:`AdaptiveRate.success` /
    :meth:`AdaptiveRate.refused`, or through the grant's own methods."""

    limiter: AdaptiveRate
    #: The limiter's cut count when the request was sent: refusals of requests sent before a cut do not cut again.
    epoch: int
    #: The pace (requests/s) the request was sent at, ``None`` when unpaced.
    pace: float | None

    def success(self) -> None:
        self.limiter.success(self)

    def refused(self, retry_after: float | None = None) -> bool:
        return self.limiter.refused(self, retry_after)


class AdaptiveRate:
    """Pace requests to one server at a rate learned from its 429s, at most ``requests_per_second``.

    >>> rate = AdaptiveRate()                         # learn the rate; nothing paced until the first 429
    >>> rate = AdaptiveRate(requests_per_second=9.5)  # never faster than 9.5/s, slower if the server says so
    >>> grant = rate.acquire()                        # ``await rate.aacquire()`` in a task
    >>> ...                                           # send; then grant.success() or grant.refused(retry_after)

    Args:
        requests_per_second: a cap the pace never exceeds (``None``: no cap).
        min_rate: the learned rate never falls below this (requests/s).
        backoff: after a refusal, the pace as a fraction of the refused request's pace.
        margin: the learned rate grows quickly back up to this fraction of the last refused pace...
        fast_recovery: ...by this fraction per answer;
        approach: then by this fraction per answer, up to halfway between that and the refused pace;
        recovery: and beyond it by this fraction per answer (0.0005: 5% per 100 answers).
        clock: seconds, monotonic.
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        *,
        min_rate: float = 0.1,
        backoff: float = 0.85,
        margin: float = 0.95,
        fast_recovery: float = 0.05,
        approach: float = 0.002,
        recovery: float = 0.0005,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ConfigurationError("requests_per_second must be positive or None")
        if min_rate <= 0:
            raise ConfigurationError("min_rate must be positive")
        if not 0 < backoff < 1 or not 0 < margin <= 1:
            raise ConfigurationError("need 0 < backoff < 1 and 0 < margin <= 1")
        if not 0 <= recovery <= approach <= fast_recovery:
            raise ConfigurationError("need 0 <= recovery <= approach <= fast_recovery")
        self.requests_per_second = requests_per_second
        self.min_rate = min_rate
        self.backoff = backoff
        self.margin = margin
        self.fast_recovery = fast_recovery
        self.approach = approach
        self.recovery = recovery
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._learned: float | None = None
        self._refused_pace: float | None = None
        self._epoch = 0
        self._next = 0.0  # no grant before this time
        self._tickets: deque[int] = deque()
        self._issued = 0
        self._answered_since_cut = 0  # answers to requests sent since the last cut
        self._trust_refused = False  # the last refusal came at the cap: come back to it
        self._sends: deque[float] = deque(maxlen=_WINDOW)
        self._answers: deque[float] = deque(maxlen=_FLOOR_ANSWERS)  # when answers came, for the accepted-rate floor
        self.stats = {"granted": 0, "successes": 0, "refusals": 0, "cuts": 0}

    # ---------------------------------------------------------------------------------------------- reading
    @property
    def rate(self) -> float | None:
        """The pace now, requests per second (``None``: unpaced)."""
        with self._lock:
            return self._pace()

    @property
    def learned(self) -> float | None:
        """The rate learned from refusals, before the cap (``None`` until the first refusal)."""
        with self._lock:
            return self._learned

    def __repr__(self) -> str:
        with self._lock:
            pace = f"{self._pace():.3g}/s" if self._pace() is not None else "unpaced"
            return f"AdaptiveRate(pace={pace}, cap={self.requests_per_second}, waiting={len(self._tickets)})"

    def _pace(self) -> float | None:
        rates = [r for r in (self._learned, self.requests_per_second) if r is not None]
        return min(rates) if rates else None

    # ---------------------------------------------------------------------------------------------- acquiring
    def try_acquire(self) -> RateGrant | None:
        """A grant if a request may be sent now and nobody is waiting for a turn, else ``None`` (never waits)."""
        with self._lock:
            now = self.clock()
            if self._tickets or now < self._next:
                return None
            return self._grant(now)

    def acquire(self, timeout: float | None = None, *, first: bool = False) -> RateGrant:
        """Block the calling thread until this request's turn; ``InferenceTimeoutError`` after ``timeout``.
        ``first`` puts it ahead of the requests waiting for their first try (a retry has waited already)."""
        ticket, limit = self._take_ticket(first, timeout)
        try:
            while True:
                grant, wait = self._poll(ticket, limit)
                if grant is not None:
                    return grant
                time.sleep(wait)
        except BaseException:  # interrupted while waiting (KeyboardInterrupt): leave the line
            self._drop(ticket)
            raise

    async def aacquire(self, timeout: float | None = None, *, first: bool = False) -> RateGrant:
        """Wait without blocking the event loop until this request's turn; see :meth:`acquire`."""
        ticket, limit = self._take_ticket(first, timeout)
        try:
            while True:
                grant, wait = self._poll(ticket, limit)
                if grant is not None:
                    return grant
                await asyncio.sleep(wait)
        except BaseException:  # cancelled while waiting: leave the line
            self._drop(ticket)
            raise

    def _take_ticket(self, first: bool, timeout: float | None) -> tuple[int, float | None]:
        with self._lock:
            self._issued += 1
            ticket = self._issued
            if first:
                # Behind the other retries, ahead of every first try.
                position = next((i for i, t in enumerate(self._tickets) if t > 0), len(self._tickets))
                self._tickets.insert(position, -ticket)
                ticket = -ticket
            else:
                self._tickets.append(ticket)
            limit = None if timeout is None else self.clock() + timeout
            return ticket, limit

    def _poll(self, ticket: int, limit: float | None) -> tuple[RateGrant | None, float]:
        """Grant ``ticket`` if it is its turn, else say how long to sleep before asking again."""
        with self._lock:
            now = self.clock()
            pace = self._pace()
            interval = 1.0 / pace if pace is not None else 0.0
            position = self._tickets.index(ticket)
            if now >= self._next and (position == 0 or interval == 0.0):
                del self._tickets[position]
                return self._grant(now), 0.0
            wait = max(self._next - now, 0.0) + position * interval
            if limit is not None and now + wait > limit:
                del self._tickets[position]
                raise waited_too_long("send slot", limit - now + 0.0)
            # Ahead of us in the line a request may give up; wake at least once per interval to move up.
            return None, max(min(wait, max(self._next - now, 0.0) + interval), 0.0005)

    def _grant(self, now: float) -> RateGrant:
        """Hand out the send slot at ``now`` (call under the lock)."""
        pace = self._pace()
        interval = 1.0 / pace if pace is not None else 0.0
        if now - self._next >= interval:  # idle for a while: start a new schedule
            self._next = now + interval
        else:  # a turn taken a little late (a thread woke late) keeps the schedule, so lateness does not add up
            self._next = max(self._next + interval, now + interval / 2)
        self._sends.append(now)
        self.stats["granted"] += 1
        return RateGrant(self, self._epoch, pace)

    def _drop(self, ticket: int) -> None:
        with self._lock:
            if ticket in self._tickets:
                self._tickets.remove(ticket)

    # ---------------------------------------------------------------------------------------------- signals
    def success(self, grant: RateGrant) -> None:
        """The request was answered (any answer but a refusal for rate)."""
        with self._lock:
            self.stats["successes"] += 1
            self._answers.append(self.clock())
            if grant.epoch == self._epoch:
                self._answered_since_cut += 1
            if self._learned is None:
                return
            refused = self._refused_pace
            near = 0.0 if refused is None else refused if self._trust_refused else (1.0 + self.margin) / 2 * refused
            if refused is None or self._learned >= near:
                self._learned *= 1.0 + self.recovery  # near or beyond the last refused pace: probe, slowly
            elif self._learned < self.margin * refused:
                self._learned = min(self._learned * (1.0 + self.fast_recovery), self.margin * refused)
            else:
                self._learned = min(self._learned * (1.0 + self.approach), near)

    def refused(self, grant: RateGrant, retry_after: float | None = None) -> bool:
        """The server refused the request for rate (429). Returns whether the rate was lowered by it (``False``
        when a cut already answered the burst this request was sent in). ``retry_after`` is accepted for the
        record; the retry honours it, the pace does not (see the module's docstring)."""
        with self._lock:
            now = self.clock()
            self.stats["refusals"] += 1
            if grant.epoch < self._epoch:
                return False
            sent_at = grant.pace if grant.pace is not None else self._sending_rate(now)
            if sent_at is None:  # one lone request refused: nothing to go by, start from one a second
                lowered = _FIRST_GUESS
            elif grant.pace is None or (self._epoch > 0 and self._answered_since_cut == 0):
                lowered = 0.5 * sent_at  # unpaced, or the last cut let nothing through: far above the limit
            elif self._at_cap(grant.pace):
                lowered = self.margin * sent_at  # the user's own limit: most likely a late request, step aside
            else:
                lowered = self.backoff * sent_at
            self._trust_refused = grant.pace is not None and self._at_cap(grant.pace)
            self._learned = max(self.min_rate, lowered, _FLOOR_FRACTION * self._best_accepted(now))
            self._refused_pace = sent_at
            self._epoch += 1
            self._answered_since_cut = 0
            self.stats["cuts"] += 1
            self._next = max(self._next, now + 1.0 / self._learned)
            return True

    def _best_accepted(self, now: float) -> float:
        """The most answers per second over any ``_FLOOR_WINDOW`` seconds of the last ``_FLOOR_HORIZON``."""
        answers = self._answers
        while answers and now - answers[0] > _FLOOR_HORIZON:
            answers.popleft()
        times = list(answers)  # a deque is slow to index in the middle
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] > _FLOOR_WINDOW:
                first += 1
            best = max(best, last - first + 1)
        return best / _FLOOR_WINDOW

    def _at_cap(self, pace: float) -> bool:
        return self.requests_per_second is not None and pace >= 0.999 * self.requests_per_second

    def _sending_rate(self, now: float) -> float | None:
        recent = [t for t in self._sends if now - t <= _MEASURE_HORIZON]
        if len(recent) < 2:
            return None
        return (len(recent) - 1) / max(recent[-1] - recent[0], _SHORTEST_SPAN)

    # ---------------------------------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        keep = ("requests_per_second", "min_rate", "backoff", "margin", "fast_recovery", "approach", "recovery",
                "clock")  # fmt: skip
        return {name: getattr(self, name) for name in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()
