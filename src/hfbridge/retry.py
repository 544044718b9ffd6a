"""The retry policy and the loop that applies it to calls and streams, sync and async.

What is retried is decided by the error class (``HFBridgeError.retryable``), so the policy knows nothing of
HTTP: the backend translates whatever it caught into a typed error first. How long to wait, in order:

1. ``Retry-After`` from the server (seconds or an HTTP date, already parsed into ``retry_after``);
2. a 503 "model loading" body's ``estimated_time``;
   (both spread by up to ``jitter_fraction / attempt`` more; the rate-limit layer also re-times the shared
   RateLimit on a 429's Retry-After);
3. exponential backoff with full jitter: ``uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))``.

A wait the server asks for that is longer than ``max_retry_after``, or that would end past ``deadline``, is not
waited: the error is raised at once. ``deadline`` is also a hard bound on each request as a whole (waits for a send
slot, tries, reading the answer, streams included): past it :class:`~hfbridge.errors.InferenceTimeoutError` is
raised (see :class:`Retrier`). A
suggested wait that is not a finite number of seconds (a 503 whose ``estimated_time`` is NaN or negative) is
ignored, never taken as "retry now": the backoff applies.
A timeout is retried unless ``retry_on_timeout=False``; then only a timeout that happened before the request could
reach the server (connecting, waiting for a pooled connection) is retried.
A stream is retried only until its first chunk has been yielded; after that a failure raises
:class:`~hfbridge.errors.StreamInterruptedError` carrying the text received so far.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .flow import FlowControl, Ticket, Verdict

from . import _deadline
from . import _settings as setting
from ._deadline import DeadlineExceeded
from .errors import HFBridgeError, InferenceTimeoutError, ModelLoadingError, StreamInterruptedError

__all__ = ["RetryPolicy", "Retrier", "NO_RETRY"]

logger = logging.getLogger("hfbridge")

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried. The defaults suit interactive use against Inference Providers.

    Args:
        max_attempts: total tries, the first one included (1 disables retrying).
        deadline: seconds each request may take as a whole, from its dispatch: waiting for a send slot (flow
            control, rate limit), every try and backoff, and reading the answer (a stream: until its last chunk).
            Past it the request raises :class:`~hfbridge.errors.InferenceTimeoutError`. Many-input calls
            (embeddings) are split into requests of ``batch_size`` inputs, each bounded on its own. ``None``: no
            bound (``timeout`` still bounds each read).
        base_delay: first backoff step in seconds when the server suggests no wait.
        max_delay: cap of one backoff step.
        max_retry_after: the longest server-requested wait (``Retry-After``, ``estimated_time``) we accept;
            a longer one raises at once so the caller can decide.
        jitter: spread server-requested waits by up to +``jitter_fraction`` so that clients told the same
            Retry-After do not all return at the same instant (and collide again).
        jitter_fraction: how far server-requested waits are spread after the first refusal (0.25: up to a
            quarter of the wait again; wider spreads collide less but leave the server idle longer). After the
            n-th refusal of the same call the spread is ``jitter_fraction / n``, which gives the calls that have
            waited longest the first place when several are told the same Retry-After.
        seed: makes the jitter reproducible (tests, benchmarks).
        retry_on_timeout: retry a request that timed out after it may have reached the server. A read timeout
            does not mean the server did nothing: a chat request re-sent after one may be generated, and billed,
            twice. Set it to False for requests that must not run twice; timeouts while connecting are retried
            either way (nothing was sent).

    Every field is checked when the policy is built: a value that cannot work (a negative delay, ``nan``, a
    ``max_attempts`` of 0 or of the wrong type) raises :class:`~hfbridge.errors.ConfigurationError`.
    """

    max_attempts: int = 5
    deadline: float | None = 120.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: bool = True
    jitter_fraction: float = 0.25
    seed: int | None = None
    retry_on_timeout: bool = True
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setting.count(self.max_attempts, "max_attempts")
        if self.deadline is not None:
            setting.seconds(self.deadline, "deadline (None for no deadline)")
        setting.seconds(self.base_delay, "base_delay", zero_ok=True)
        setting.seconds(self.max_delay, "max_delay", zero_ok=True)
        setting.seconds(self.max_retry_after, "max_retry_after", zero_ok=True)
        setting.flag(self.jitter, "jitter")
        setting.fraction(self.jitter_fraction, "jitter_fraction")
        if self.seed is not None:
            setting.count(self.seed, "seed", minimum=None)
        setting.flag(self.retry_on_timeout, "retry_on_timeout")
        object.__setattr__(self, "_random", random.Random(self.seed))

    def wait_for(self, error: HFBridgeError, attempt: int) -> float | None:
        """Seconds to wait before try ``attempt + 1`` after ``error``; ``None`` if it must not be retried."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if isinstance(error, InferenceTimeoutError) and error.request_sent and not self.retry_on_timeout:
            return None
        suggested = _server_wait(getattr(error, "retry_after", None))
        if suggested is None and isinstance(error, ModelLoadingError):
            suggested = _server_wait(error.estimated_time)
        if suggested is not None:
            if suggested > self.max_retry_after:
                return None
            # The spread shrinks with each refusal (a quarter, an eighth, ...): among clients told to come back at
            # the same time, those refused most often come back first, so nobody starves behind luckier ones.
            spread = self._random.uniform(0, self.jitter_fraction * suggested / attempt) if self.jitter else 0.0
            return max(0.0, suggested + spread)
        return self.backoff(attempt)

    def backoff(self, attempt: int) -> float:
        """The backoff before try ``attempt + 1`` when the server suggested no wait (full jitter)."""
        step = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._random.uniform(0, step) if self.jitter else step


NO_RETRY = RetryPolicy(max_attempts=1, deadline=None)


def _server_wait(value: object) -> float | None:
    """A wait the server suggested, if it is a usable number of seconds (NaN, negative or text are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


@dataclass
class _Call:
    """One request's progress through the retry loop."""

    started: float  # the Retrier's clock
    end: float | None  # time.monotonic() by which the whole request must be done (``None``: unbounded)
    tries: int = 0  # tries sent, refusals included
    charged: int = 0  # tries counted against ``max_attempts``


class Retrier:
    """Applies a :class:`RetryPolicy` (and a :class:`~hfbridge.flow.FlowControl`, when given) around calls and
    streams.

    **The deadline.** ``policy.deadline`` bounds each request as a whole, from the moment it is dispatched: the waits
    for a send slot (flow control), every try, every backoff and the reading of every answer. Async calls and
    streams are cancelled at it; sync calls stop at it where the transport reads the answer (the hub transport
    checks it between the chunks of a body and between the lines of a stream, and shortens each read's timeout to
    it), and sync streams also between chunks here. Past it, :class:`~hfbridge.errors.InferenceTimeoutError` is
    raised and nothing is retried; for a stream that had yielded chunks it carries ``received_text``.

    **Flow control.** With ``flow``, every try first takes a ticket: a concurrency slot and a paced turn, waited for
    within the time left. A refusal the limiters adapted to (``verdict.charged`` false) does not count against
    ``max_attempts``: it is retried after the server's ``Retry-After``, or at its next paced turn, still inside the
    deadline. Every other failure counts and waits as the policy says.

    ``sleep``, ``asleep`` and ``clock`` can be replaced (a fake clock in tests). The rate limit is a layer of its
    own below this one (``backends/_pipeline.py``), so every try, retries included, passes through it.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        flow: FlowControl | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.flow = flow
        self._sleep = sleep
        self._asleep = asleep
        self._clock = clock

    # -- decisions shared by the four loops ---------------------------------------------------------------------
    def _start(self) -> _Call:
        deadline = self.policy.deadline
        return _Call(self._clock(), None if deadline is None else time.monotonic() + deadline)

    def _failed(self, error: HFBridgeError, ticket: Ticket | None, call: _Call, what: str) -> float:
        """After a failed try: the wait before the next one, or re-raise ``error`` (with ``attempts`` set)."""
        error.attempts = call.tries
        late = call.end is not None and time.monotonic() >= call.end
        if late and isinstance(error, InferenceTimeoutError) and not isinstance(error, DeadlineExceeded):
            cut = _deadline.exceeded(what)  # a read whose timeout was shortened to the deadline
            cut.attempts, cut.__cause__ = call.tries, error
            error = cut
        if isinstance(error, DeadlineExceeded):
            if ticket is not None:
                ticket.abandon()  # the deadline says nothing about the server's load
            raise error
        verdict = ticket.failed(error) if ticket is not None else None
        return self._next_wait(error, verdict, call, what)

    def _next_wait(self, error: HFBridgeError, verdict: Verdict | None, call: _Call, what: str) -> float:
        """Return the wait before the next try, or re-raise ``error`` if there is none."""
        free = verdict is not None and not verdict.charged and error.retryable
        wait: float | None
        if free:
            assert verdict is not None
            wait = verdict.wait if verdict.wait is not None else self.policy.backoff(max(call.charged, 1))
            if wait > self.policy.max_retry_after:
                wait = None
        else:
            call.charged += 1
            wait = self.policy.wait_for(error, call.charged)
        deadline = self.policy.deadline
        if wait is not None and deadline is not None and self._clock() - call.started + wait > deadline:
            wait = None
        if wait is None:
            raise error
        if free:
            logger.info("hfbridge: %s refused (%s), retrying in %.2fs; not counted against max_attempts: the flow "
                        "control is adapting to the server's limit", what, _reason(error), wait)  # fmt: skip
        else:
            logger.warning(
                "hfbridge: retrying %s in %.2fs (attempt %d of %d failed: %s)",
                what,
                wait,
                call.charged,
                self.policy.max_attempts,
                _reason(error),
            )
        return wait

    def _acquire(self, call: _Call) -> Ticket | None:
        if self.flow is None:
            return None
        try:
            return self.flow.acquire(_deadline.left(call.end), retry=call.tries > 1)
        except HFBridgeError as error:
            error.attempts = max(call.tries - 1, 1)
            raise

    async def _aacquire(self, call: _Call) -> Ticket | None:
        if self.flow is None:
            return None
        try:
            return await self.flow.aacquire(_deadline.left(call.end), retry=call.tries > 1)
        except HFBridgeError as error:
            error.attempts = max(call.tries - 1, 1)
            raise

    # -- plain calls ----------------------------------------------------------------------------------------------
    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        call = self._start()
        with _deadline.bounded(call.end) as call.end:
            while True:
                call.tries += 1
                ticket = self._acquire(call)
                try:
                    result = fn()
                except HFBridgeError as error:
                    wait = self._failed(error, ticket, call, what)
                except BaseException:
                    _abandon(ticket)
                    raise
                else:
                    if ticket is not None:
                        ticket.succeeded()
                    return result
                self._sleep(wait)

    async def acall(self, fn: Callable[[], Awaitable[T]], what: str = "request") -> T:
        call = self._start()
        with _deadline.bounded(call.end) as call.end:
            timeout = asyncio.timeout_at(call.end)
            try:
                async with timeout:
                    return await self._aloop(fn, call, what)
            except TimeoutError as error:
                if isinstance(error, HFBridgeError) or not timeout.expired():
                    raise
                late = _deadline.exceeded(what)
            late.attempts = call.tries
            raise late

    async def _aloop(self, fn: Callable[[], Awaitable[T]], call: _Call, what: str) -> T:
        while True:
            call.tries += 1
            ticket = await self._aacquire(call)
            try:
                result = await fn()
            except HFBridgeError as error:
                wait = self._failed(error, ticket, call, what)
            except BaseException:  # cancelled (the deadline, or the caller)
                _abandon(ticket)
                raise
            else:
                if ticket is not None:
                    ticket.succeeded()
                return result
            await self._asleep(wait)

    # -- streams --------------------------------------------------------------------------------------------------
    def stream(self, open_stream: Callable[[], Iterator[C]], text_of: Callable[[C], str], what: str) -> Iterator[C]:
        """Yield from ``open_stream()``, retrying only until the first chunk has been yielded."""
        call = self._start()
        while True:
            call.tries += 1
            iterator: Iterator[C] | None = None
            with _deadline.bounded(call.end) as call.end:  # set and reset between two yields: never leaks out
                ticket = self._acquire(call)
                sent = time.monotonic()
                try:
                    iterator = open_stream()
                    first = next(iterator)
                except StopIteration:
                    if ticket is not None:
                        ticket.succeeded()
                    return
                except HFBridgeError as error:
                    _close(iterator)
                    wait = self._failed(error, ticket, call, what)
                except BaseException:
                    _close(iterator)
                    _abandon(ticket)
                    raise
                else:
                    break
            self._sleep(wait)
        _first_chunk(ticket, sent)
        received = [text_of(first)]
        count = 1
        try:
            yield first
            for chunk in iterator:
                _deadline.check(call.end, what)
                received.append(text_of(chunk))
                count += 1
                yield chunk
        except DeadlineExceeded as error:
            raise _late(error, received, count, call) from None
        except HFBridgeError as error:
            raise _interrupted(error, "".join(received), count, call.tries, what) from error
        finally:
            _close(iterator)

    async def astream(
        self, open_stream: Callable[[], AsyncIterator[C]], text_of: Callable[[C], str], what: str
    ) -> AsyncIterator[C]:
        call = self._start()
        end = call.end
        while True:
            call.tries += 1
            iterator: AsyncIterator[C] | None = None
            with _deadline.bounded(end) as end:
                call.end = end
                ticket: Ticket | None = None
                timeout = asyncio.timeout_at(end)
                try:
                    async with timeout:
                        ticket = await self._aacquire(call)
                        sent = time.monotonic()
                        iterator = open_stream()
                        first = await iterator.__anext__()
                except StopAsyncIteration:
                    if ticket is not None:
                        ticket.succeeded()
                    return
                except HFBridgeError as error:
                    await _aclose(iterator)
                    wait = self._failed(error, ticket, call, what)
                except TimeoutError:
                    await _aclose(iterator)
                    _abandon(ticket)
                    if not timeout.expired():
                        raise
                    late = _deadline.exceeded(what)
                    late.attempts = call.tries
                    raise late from None
                except BaseException:
                    await _aclose(iterator)
                    _abandon(ticket)
                    raise
                else:
                    break
            await self._asleep(wait)
        _first_chunk(ticket, sent)
        received = [text_of(first)]
        count = 1
        try:
            yield first
            while True:
                timeout = asyncio.timeout_at(end)
                try:
                    async with timeout:
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError as error:
                    if isinstance(error, HFBridgeError) or not timeout.expired():
                        raise
                    raise _late(_deadline.exceeded(what), received, count, call) from None
                received.append(text_of(chunk))
                count += 1
                yield chunk
        except DeadlineExceeded as error:
            raise _late(error, received, count, call) from None
        except HFBridgeError as error:
            raise _interrupted(error, "".join(received), count, call.tries, what) from error
        finally:
            await _aclose(iterator)


def _first_chunk(ticket: Ticket | None, sent: float) -> None:
    """A stream's answer, for flow control, is its first chunk: the time to it is what a server's queue delays, and
    the stream gives its slot back then (a long generation must not keep other requests waiting for a slot)."""
    if ticket is not None:
        ticket.succeeded(latency=time.monotonic() - sent)


def _abandon(ticket: Ticket | None) -> None:
    if ticket is not None:
        ticket.abandon()


def _late(error: DeadlineExceeded, received: list[str], count: int, call: _Call) -> DeadlineExceeded:
    """A stream's deadline error, carrying what the stream had yielded."""
    if not error.chunks_received:
        error = _deadline.exceeded("stream", received="".join(received), chunks=count)
    error.attempts = call.tries
    return error


def _reason(error: HFBridgeError) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    return f"{name} {status}" if status else name


def _interrupted(error: HFBridgeError, received: str, count: int, attempt: int, what: str) -> StreamInterruptedError:
    return StreamInterruptedError(
        f"{what} stream interrupted after {count} chunk(s) ({len(received)} characters) by "
        f"{_reason(error)}: {error.message}. The partial output is in `received_text`; it was not retried "
        "because chunks had already been yielded.",
        received_text=received,
        chunks_received=count,
        attempts=attempt,
    )


def _close(iterator: object) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # pragma: no cover - closing a broken stream must not mask the real error
            logger.debug("hfbridge: error while closing a stream", exc_info=True)


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # pragma: no cover
            logger.debug("hfbridge: error while closing a stream", exc_info=True)
