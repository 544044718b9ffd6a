"""The retry policy and the loop that applies it to calls and streams, sync and async.

What is retried is decided by the error class (``HFBridgeError.retryable``), so the policy knows nothing of
HTTP: the backend translates whatever it caught into a typed error first. How long to wait, in order:

1. ``Retry-After`` from the server (seconds or an HTTP date, already parsed into ``retry_after``);
2. a 503 "model loading" body's ``estimated_time``;
   (both spread by up to ``jitter_fraction / attempt`` more; the rate-limit layer also re-times the shared
   RateLimit on a 429's Retry-After);
3. exponential backoff with full jitter: ``uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))``.

A wait the server asks for that is longer than ``max_retry_after``, or that would end past ``deadline``, is not
waited: the error is raised at once, so no call overruns its deadline by more than the wait in progress. A
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
from typing import TypeVar

from . import _settings as setting
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
        deadline: seconds from the first try after which no new try starts; ``None`` for no deadline.
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
        step = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._random.uniform(0, step) if self.jitter else step


NO_RETRY = RetryPolicy(max_attempts=1, deadline=None)


def _server_wait(value: object) -> float | None:
    """A wait the server suggested, if it is a usable number of seconds (NaN, negative or text are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


class Retrier:
    """Applies a :class:`RetryPolicy` around calls and streams.

    ``sleep``, ``asleep`` and ``clock`` can be replaced (a fake clock in tests). The rate limit is a layer of its
    own below this one (``backends/_pipeline.py``), so every try, retries included, passes through it.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._asleep = asleep
        self._clock = clock

    # -- decisions shared by the four loops ---------------------------------------------------------------------
    def _next_wait(self, error: HFBridgeError, attempt: int, started: float, what: str) -> float:
        """Return the wait before the next try, or re-raise ``error`` (with ``attempts`` set) if there is none."""
        error.attempts = attempt
        wait = self.policy.wait_for(error, attempt)
        deadline = self.policy.deadline
        if wait is not None and deadline is not None and self._clock() - started + wait > deadline:
            wait = None
        if wait is None:
            raise error
        logger.warning(
            "hfbridge: retrying %s in %.2fs (attempt %d of %d failed: %s)",
            what,
            wait,
            attempt,
            self.policy.max_attempts,
            _reason(error),
        )
        return wait

    # -- plain calls ----------------------------------------------------------------------------------------------
    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except HFBridgeError as error:
                wait = self._next_wait(error, attempt, started, what)
            self._sleep(wait)

    async def acall(self, fn: Callable[[], Awaitable[T]], what: str = "request") -> T:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn()
            except HFBridgeError as error:
                wait = self._next_wait(error, attempt, started, what)
            await self._asleep(wait)

    # -- streams --------------------------------------------------------------------------------------------------
    def stream(self, open_stream: Callable[[], Iterator[C]], text_of: Callable[[C], str], what: str) -> Iterator[C]:
        """Yield from ``open_stream()``, retrying only until the first chunk has been yielded."""
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            iterator: Iterator[C] | None = None
            try:
                iterator = open_stream()
                first = next(iterator)
            except StopIteration:
                return
            except HFBridgeError as error:
                _close(iterator)
                wait = self._next_wait(error, attempt, started, what)
                self._sleep(wait)
                continue
            break
        received = [text_of(first)]
        count = 1
        try:
            yield first
            for chunk in iterator:
                received.append(text_of(chunk))
                count += 1
                yield chunk
        except HFBridgeError as error:
            raise _interrupted(error, "".join(received), count, attempt, what) from error
        finally:
            _close(iterator)

    async def astream(
        self, open_stream: Callable[[], AsyncIterator[C]], text_of: Callable[[C], str], what: str
    ) -> AsyncIterator[C]:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            iterator: AsyncIterator[C] | None = None
            try:
                iterator = open_stream()
                first = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except HFBridgeError as error:
                await _aclose(iterator)
                wait = self._next_wait(error, attempt, started, what)
                await self._asleep(wait)
                continue
            break
        received = [text_of(first)]
        count = 1
        try:
            yield first
            async for chunk in iterator:
                received.append(text_of(chunk))
                count += 1
                yield chunk
        except HFBridgeError as error:
            raise _interrupted(error, "".join(received), count, attempt, what) from error
        finally:
            await _aclose(iterator)


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
