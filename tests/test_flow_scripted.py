"""Flow control driven by scripted signals on a virtual clock: deterministic, no sleeping, no timing.

A virtual server (slots served first come first served, a fixed service time, a token bucket) answers the requests
the controllers let through; the tests count what happened: requests in flight, queued, refused, per 100.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import pickle
import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from hfbridge.errors import (
    BadRequestError,
    ConfigurationError,
    InferenceTimeoutError,
    ModelLoadingError,
    RateLimitedError,
    ServerError,
)
from hfbridge.flow import AdaptiveConcurrency, AdaptiveRate, FlowControl, Permit, signal_of


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ============================================================================================== concurrency
@dataclass
class SlotServer:
    """``slots`` requests served at once for ``service`` seconds each (give or take 10%, seeded); the rest wait,
    first come first served."""

    clock: Clock
    slots: int
    service: float = 1.0
    serving: int = 0
    _random: random.Random = field(default_factory=lambda: random.Random(3))
    queue: deque[Permit] = field(default_factory=deque)
    finishing: list[tuple[float, int, Permit]] = field(default_factory=list)
    max_queued: int = 0
    answered: int = 0
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def submit(self, permit: Permit) -> None:
        if self.serving < self.slots:
            self._serve(permit)
        else:
            self.queue.append(permit)
            self.max_queued = max(self.max_queued, len(self.queue))

    def _serve(self, permit: Permit) -> None:
        self.serving += 1
        took = self.service * self._random.uniform(0.9, 1.1)
        heapq.heappush(self.finishing, (self.clock.now + took, next(self._order), permit))

    def answer_next(self) -> None:
        """Advance the clock to the next answer and deliver it."""
        finish, _, permit = heapq.heappop(self.finishing)
        self.clock.now = finish
        self.serving -= 1
        while self.queue and self.serving < self.slots:
            self._serve(self.queue.popleft())
        self.answered += 1
        permit.success()

    def drain(self) -> None:
        while self.finishing:
            self.answer_next()


def drive(limiter: AdaptiveConcurrency, server: SlotServer, answers: int) -> list[int]:
    """A caller with endless work: keeps every allowed slot busy for ``answers`` answers; returns the limit after
    each answer."""
    limits = []
    for _ in range(answers):
        while (permit := limiter.try_acquire()) is not None:
            server.submit(permit)
        server.answer_next()
        limits.append(limiter.limit)
    return limits


@pytest.mark.parametrize("slots", [1, 2, 8, 32])
def test_concurrency_grows_to_the_slot_count_and_keeps_a_small_queue(slots: int) -> None:
    clock = Clock()
    limiter = AdaptiveConcurrency(clock=clock)
    server = SlotServer(clock, slots)
    limits = drive(limiter, server, 60 * slots)
    assert limits[0] == 2  # it started at one
    # Settled a little above the slots: every slot busy and a short queue behind them (the shortest answer of a
    # round cannot see a queue of one or two when service times vary by 10%).
    assert slots + 1 <= limiter.limit <= 1.25 * slots + 3
    assert limiter.stats["max_in_flight"] <= 2 * slots + 2  # start-up overshoot is bounded
    server.max_queued = 0
    # In the second half every slot stayed busy: answers came at the server's full rate.
    steady = server.answered
    started = clock.now
    drive(limiter, server, 20 * slots)
    # (a probe of the no-load latency may fall in the window: two rounds at 3/4 of the slots)
    assert server.answered - steady >= 0.95 * slots * (clock.now - started) / server.service
    assert server.max_queued <= slots // 4 + 3


def test_concurrency_shrinks_when_the_server_loses_slots_and_grows_when_it_gains_them() -> None:
    clock = Clock()
    limiter = AdaptiveConcurrency(clock=clock)
    server = SlotServer(clock, 8)
    drive(limiter, server, 400)
    assert limiter.limit >= 9
    server.slots = 2  # half the replicas went away: latency rises, nothing is refused
    drive(limiter, server, 200)
    assert limiter.limit <= 4
    assert limiter.stats["refusals"] == 0
    server.slots = 16
    drive(limiter, server, 600)
    assert limiter.limit >= 17


def test_concurrency_re_measures_the_no_load_latency_when_the_server_slows_down() -> None:
    """A server that got three times slower looks congested to a stale no-load latency; the probe fixes it."""
    clock = Clock()
    limiter = AdaptiveConcurrency(clock=clock, probe_every=10)
    server = SlotServer(clock, 8, service=1.0)
    drive(limiter, server, 400)
    server.service = 3.0
    drive(limiter, server, 800)
    assert limiter.stats["probes"] >= 2
    assert limiter.limit >= 9  # back above the slot count, not stuck below it


def test_a_refusal_cuts_once_per_round_and_caps_the_limit_below_where_it_came() -> None:
    clock = Clock()
    limiter = AdaptiveConcurrency(clock=clock, initial=10, max_limit=64)
    permits = [limiter.try_acquire() for _ in range(10)]
    assert all(p is not None for p in permits)
    assert limiter.try_acquire() is None  # the limit holds
    permits[9].refused()  # sent with 10 in flight
    assert limiter.limit == 7  # 0.7 x 10
    permits[8].refused()  # same burst: no second cut
    assert limiter.limit == 7
    assert limiter.stats["cuts"] == 1
    for permit in permits[:8]:
        permit.success(latency=1.0)
    # However well it goes, it does not climb back to where the server refused until rounds have passed.
    server = SlotServer(clock, 64)
    drive(limiter, server, 20)
    assert limiter.limit <= 9


def test_a_caller_that_does_not_use_its_limit_does_not_shrink_it() -> None:
    clock = Clock()
    limiter = AdaptiveConcurrency(clock=clock)
    server = SlotServer(clock, 16)
    drive(limiter, server, 300)
    server.drain()

    def one_at_a_time() -> None:  # as an interactive user sends them
        permit = limiter.try_acquire()
        assert permit is not None
        clock.now += 1.0
        permit.success()

    one_at_a_time()  # ends the round of the busy phase's last answers
    grown = limiter.limit
    assert grown >= 17
    for _ in range(200):
        one_at_a_time()
    assert limiter.limit == grown


def test_latency_given_by_the_caller_is_what_counts() -> None:
    limiter = AdaptiveConcurrency(clock=Clock())
    permit = limiter.try_acquire()
    assert permit is not None
    permit.success(latency=0.25)
    assert limiter.stats["successes"] == 1
    assert "base=250.0 ms" in repr(limiter)


def test_ignored_and_dropped_outcomes_release_the_slot() -> None:
    limiter = AdaptiveConcurrency(clock=Clock(), initial=2)
    first, second = limiter.try_acquire(), limiter.try_acquire()
    assert first is not None and second is not None and limiter.try_acquire() is None
    first.ignore()
    first.success()  # a second release does nothing
    assert limiter.in_flight == 1
    second.dropped()  # a time-out: the server is struggling
    assert limiter.in_flight == 0
    assert limiter.stats["drops"] == 1 and limiter.stats["cuts"] == 1
    with limiter.try_acquire() as permit:  # type: ignore[union-attr]
        assert limiter.in_flight == 1
    assert permit.released and limiter.in_flight == 0


def test_bad_concurrency_settings_are_refused() -> None:
    for kwargs in ({"min_limit": 0}, {"min_limit": 5, "max_limit": 4}, {"headroom": 0}, {"backoff": 1.0},
                   {"probe_every": 1}):  # fmt: skip
        with pytest.raises(ConfigurationError):
            AdaptiveConcurrency(**kwargs)  # type: ignore[arg-type]


# ===================================================================================================== rate
@dataclass
class BucketServer:
    """A gateway allowing ``rate`` requests a second (a bucket of one token), answering 429 beyond it."""

    clock: Clock
    rate: float
    jitter: float = 0.0  # each request arrives up to this many seconds late
    tokens: float = 1.0
    updated: float = 0.0
    _random: random.Random = field(default_factory=lambda: random.Random(7))

    def accepts(self) -> tuple[bool, float]:
        """Whether a request sent now is accepted, and the Retry-After of a refusal (exact seconds)."""
        arrival = self.clock.now + self._random.uniform(0, self.jitter)
        self.tokens = min(1.0, self.tokens + max(0.0, arrival - self.updated) * self.rate)
        self.updated = max(self.updated, arrival)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, 0.0
        return False, (1.0 - self.tokens) / self.rate


def send_paced(limiter: AdaptiveRate, server: BucketServer, requests: int, retry_after: str = "fractional",
               step: float = 0.001) -> list[bool]:  # fmt: skip
    """Send as fast as ``limiter`` allows until ``requests`` were accepted; return each try's outcome in order."""
    outcomes: list[bool] = []
    waiting_until: list[float] = []  # refused requests, each back at its Retry-After
    accepted = 0
    while accepted < requests:
        grant = limiter.try_acquire()
        if grant is None:
            server.clock.now += step
            continue
        ok, wait = server.accepts()
        outcomes.append(ok)
        if ok:
            accepted += 1
            grant.success()
        else:
            told = {"fractional": wait, "seconds": max(1.0, float(int(wait) + 1)), "none": None}[retry_after]
            grant.refused(told)
            waiting_until.append(server.clock.now + (told or 0.0))
    return outcomes


@pytest.mark.parametrize("retry_after", ["fractional", "seconds", "none"])
def test_the_rate_converges_refusals_per_hundred_fall(retry_after: str) -> None:
    clock = Clock()
    limiter = AdaptiveRate(clock=clock)
    server = BucketServer(clock, rate=10.0, jitter=0.003)
    outcomes = send_paced(limiter, server, 400, retry_after)
    refused_per_hundred = [outcomes[i : i + 100].count(False) for i in range(0, 400, 100)]
    assert refused_per_hundred[0] >= 5  # it had to find the limit
    assert refused_per_hundred[-1] <= 3
    assert refused_per_hundred[-1] < refused_per_hundred[0]
    assert limiter.rate is not None and 8.5 <= limiter.rate <= 10.5
    # The last hundred accepted requests went at close to the server's rate.
    start = clock.now
    send_paced(limiter, server, 100, retry_after)
    assert 100 / (clock.now - start) >= 0.88 * server.rate


@dataclass
class RandomRefusals:
    """A gateway that refuses a fixed fraction of requests whatever their rate (other clients' load on a shared
    quota): slowing down does not make the refusals stop."""

    clock: Clock
    refused: float = 0.2
    _random: random.Random = field(default_factory=lambda: random.Random(11))

    def accepts(self) -> tuple[bool, float]:
        return self._random.random() >= self.refused, 0.0


def test_refusals_that_do_not_depend_on_the_pace_do_not_stop_the_job() -> None:
    # Every such refusal cuts the rate, and answers bring it back only to just below the last refused pace: without
    # the accepted-rate floor the rate fell to min_rate (0.1/s) within 300 answers, and 2,000 answers took 13,000 s.
    clock = Clock()
    limiter = AdaptiveRate(clock=clock)
    send_paced(limiter, RandomRefusals(clock), 2000, "none", step=0.01)  # type: ignore[arg-type]
    # The client could send 100/s (one try per 10 ms step) and the gateway accepted up to ~24/s in its best five
    # seconds: the pace stays above a quarter of that.
    assert limiter.rate is not None and limiter.rate >= 5.0
    assert clock.now < 500


def test_a_whole_second_retry_after_does_not_stop_everyone_for_a_second() -> None:
    clock = Clock()
    limiter = AdaptiveRate(clock=clock)
    server = BucketServer(clock, rate=10.0)
    send_paced(limiter, server, 100, "seconds")
    grant = limiter.try_acquire()
    while grant is None:
        clock.now += 0.001
        grant = limiter.try_acquire()
    refused_at = clock.now
    grant.refused(1.0)
    while limiter.try_acquire() is None:
        clock.now += 0.001
    assert clock.now - refused_at < 0.2  # the next request went one paced interval later, not a second later


def test_a_cap_is_never_exceeded_and_kept_when_the_server_allows_more() -> None:
    clock = Clock()
    limiter = AdaptiveRate(requests_per_second=5.0, clock=clock)
    server = BucketServer(clock, rate=10.0)
    outcomes = send_paced(limiter, server, 50)
    assert outcomes.count(False) == 0
    assert limiter.rate == 5.0 and limiter.learned is None
    assert clock.now == pytest.approx(49 / 5.0, abs=0.002)  # lateness of each turn does not add up


def test_one_refusal_at_the_cap_steps_aside_and_comes_back_to_the_cap() -> None:
    """A request that arrived late (a cold connection) is refused although the user's cap is right."""
    clock = Clock()
    limiter = AdaptiveRate(requests_per_second=9.5, clock=clock)
    grant = limiter.try_acquire()
    assert grant is not None
    grant.refused()
    assert limiter.rate == pytest.approx(0.95 * 9.5)  # a step aside, not the 0.85 cut of a limit found
    outcomes = send_paced(limiter, BucketServer(clock, rate=10.0), 40)
    assert outcomes.count(False) == 0
    assert limiter.rate == 9.5


def test_a_cap_above_the_server_s_limit_is_lowered_by_refusals() -> None:
    clock = Clock()
    limiter = AdaptiveRate(requests_per_second=20.0, clock=clock)
    server = BucketServer(clock, rate=10.0)
    outcomes = send_paced(limiter, server, 200)
    assert outcomes[100:].count(False) < outcomes[:100].count(False)
    assert limiter.rate is not None and limiter.rate <= 10.5


def test_refusals_of_one_burst_cut_once() -> None:
    clock = Clock()
    limiter = AdaptiveRate(clock=clock)
    grants = []
    for _ in range(4):
        clock.now += 0.01
        grant = limiter.try_acquire()
        assert grant is not None
        grants.append(grant)
    assert grants[1].refused() is True
    assert grants[2].refused() is False and grants[3].refused() is False
    assert limiter.stats["cuts"] == 1 and limiter.stats["refusals"] == 3
    assert limiter.rate == pytest.approx(0.5 * 100.0)  # half the rate it was sending at (one per 10 ms)


def test_a_lone_refused_request_starts_at_one_a_second() -> None:
    limiter = AdaptiveRate(clock=Clock())
    grant = limiter.try_acquire()
    assert grant is not None
    grant.refused()
    assert limiter.rate == 1.0


def test_bad_rate_settings_are_refused() -> None:
    for args, kwargs in (((0,), {}), ((None,), {"min_rate": 0}), ((None,), {"backoff": 1.0}),
                         ((None,), {"recovery": 0.1, "approach": 0.01})):  # fmt: skip
        with pytest.raises(ConfigurationError):
            AdaptiveRate(*args, **kwargs)  # type: ignore[arg-type]


# ================================================================================================== control
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimitedError("slow down", status_code=429, retry_after=1.5), ("refused", 1.5)),
        (RateLimitedError("slow down", status_code=429), ("refused", None)),
        (ServerError("overloaded", status_code=503, retry_after=2.0), ("refused", 2.0)),
        (ModelLoadingError("loading", status_code=503, estimated_time=20.0), ("failed", None)),
        (ServerError("boom", status_code=500), ("failed", None)),
        (InferenceTimeoutError("slow"), ("dropped", None)),
        (BadRequestError("bad", status_code=422), ("failed", None)),
    ],
)
def test_what_each_failure_says_about_load(error: Exception, expected: tuple[str, float | None]) -> None:
    assert signal_of(error) == expected


def test_refusals_the_limiters_adapt_to_are_free_until_the_allowance_runs_out() -> None:
    clock = Clock()
    flow = FlowControl(AdaptiveConcurrency(clock=clock), AdaptiveRate(clock=clock), free_refusals=3,
                       earn_per_success=0.5)  # fmt: skip
    refusal = RateLimitedError("slow down", status_code=429, retry_after=0.4)
    verdicts = []
    for _ in range(5):
        clock.now += 10.0
        ticket = flow.acquire()
        verdicts.append(ticket.failed(refusal))
    assert [v.charged for v in verdicts] == [False, False, False, True, True]
    assert all(v.signal == "refused" and v.wait == 0.4 for v in verdicts)
    for _ in range(2):  # two answers earn one free refusal back
        clock.now += 10.0
        flow.acquire().succeeded()
    clock.now += 10.0
    assert flow.acquire().failed(refusal).charged is False
    assert flow.stats == {"free_refusals": 4, "charged_refusals": 2}


def test_a_refusal_without_retry_after_is_retried_at_the_next_paced_turn() -> None:
    clock = Clock()
    flow = FlowControl(None, AdaptiveRate(clock=clock))
    verdict = flow.acquire().failed(RateLimitedError("slow down", status_code=429))
    assert verdict == verdict.__class__("refused", charged=False, wait=0.0)


def test_without_a_limiter_to_adapt_a_refusal_is_an_ordinary_failed_attempt() -> None:
    clock = Clock()
    flow = FlowControl(AdaptiveConcurrency(clock=clock), None)  # nothing queues: the rate is to blame
    verdict = flow.acquire().failed(RateLimitedError("slow down", status_code=429))
    assert verdict.charged is True and verdict.wait is None  # the retry policy's own backoff decides


def test_a_refusal_while_requests_queue_is_the_concurrency_s_not_the_rate_s() -> None:
    clock = Clock()
    concurrency = AdaptiveConcurrency(clock=clock, initial=8, min_limit=8, max_limit=9)  # 8 in flight, 2 slots
    rate = AdaptiveRate(clock=clock)
    flow = FlowControl(concurrency, rate)
    server = SlotServer(clock, 2)
    drive(concurrency, server, 40)
    assert concurrency.congested
    ticket = flow.acquire()
    verdict = ticket.failed(RateLimitedError("Model is overloaded", status_code=429))
    assert verdict.charged is False
    assert concurrency.stats["cuts"] == 1 and rate.stats["refusals"] == 0 and rate.rate is None


def test_other_failures_are_charged_and_teach_nothing() -> None:
    clock = Clock()
    flow = FlowControl(AdaptiveConcurrency(clock=clock), AdaptiveRate(clock=clock))
    for error in (BadRequestError("bad", status_code=422), ModelLoadingError("loading", status_code=503)):
        verdict = flow.acquire().failed(error)
        assert verdict.charged is True and verdict.wait is None
    assert flow.concurrency is not None and flow.concurrency.stats["cuts"] == 0
    assert flow.rate is not None and flow.rate.rate is None


def test_waiting_past_the_time_left_is_a_typed_timeout_and_leaks_nothing() -> None:
    flow = FlowControl(AdaptiveConcurrency(initial=1, max_limit=1), AdaptiveRate())
    held = flow.acquire()
    with pytest.raises(InferenceTimeoutError):
        flow.acquire(timeout=0.05)
    held.succeeded()
    assert flow.concurrency is not None and flow.concurrency.in_flight == 0
    flow.acquire(timeout=0.05).abandon()  # the slot is free again


def test_a_paced_turn_too_far_away_is_refused_at_once() -> None:
    rate = AdaptiveRate(requests_per_second=0.5)
    rate.acquire()
    with pytest.raises(InferenceTimeoutError):
        rate.acquire(timeout=0.5)  # the next turn is two seconds away: no point waiting half of one


async def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    limiter = AdaptiveConcurrency(initial=1, max_limit=1)
    held = await limiter.aacquire()
    first = asyncio.create_task(limiter.aacquire())
    second = asyncio.create_task(limiter.aacquire())
    await asyncio.sleep(0.01)
    first.cancel()
    held.success()
    permit = await asyncio.wait_for(second, 5)
    assert first.cancelled() and limiter.in_flight == 1
    permit.ignore()
    assert limiter.in_flight == 0


def test_a_waiter_whose_event_loop_closed_does_not_keep_the_slot() -> None:
    limiter = AdaptiveConcurrency(initial=1, max_limit=1)
    held = limiter.acquire()
    loop = asyncio.new_event_loop()
    task = loop.create_task(limiter.aacquire())
    loop.run_until_complete(asyncio.sleep(0.01))  # the task is now waiting for the slot
    task.cancel()
    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    loop.close()
    held.success()
    assert limiter.in_flight == 0
    limiter.acquire(timeout=1).ignore()


def test_flow_control_pickles_to_a_fresh_one_with_the_same_settings() -> None:
    flow = FlowControl.adaptive(max_concurrency=12, requests_per_second=3.0)
    flow.acquire().succeeded()
    copy = pickle.loads(pickle.dumps(flow))
    assert copy.concurrency is not None and copy.concurrency.max_limit == 12
    assert copy.concurrency.stats["successes"] == 0
    assert copy.rate is not None and copy.rate.rate == 3.0
