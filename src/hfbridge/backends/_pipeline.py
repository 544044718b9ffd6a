"""The behaviours around a transport, each a layer wrapping the next (as pydantic-ai wraps models and httpx puts
transports under clients). :func:`build` stacks them, outermost first::

    Backend._run          validate (task.validate), then record which backend answered (ResponseMeta)
    CacheLayer            opt-in; per input for many-input tasks: only unseen inputs go further
    BatchLayer            many-input tasks: batch_size inputs a request, max_concurrency in flight, in order
    RetryLayer            per request: its deadline (one bound on the whole request), flow control around each
                          try (adaptive concurrency and rate, hfbridge.flow), RetryPolicy; streams retried only
                          before their first chunk
    per_attempt layers    anything else each try passes through: see Backend(per_attempt=...)
    RateLimitLayer        one token of an explicit RateLimit per try; without flow control a 429's Retry-After
                          re-times the shared limiter
    Transport             one request (hub: InferenceClient; local: in-process models)

A layer reads only the task's declaration (``cache``, ``many``, ``stream``) and its own settings.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from .. import _deadline
from ..cache import ResultCache, cache_key
from ..errors import HFBridgeError, InferenceTimeoutError, RateLimitedError
from ..flow import FlowControl
from ..ratelimit import RateLimit
from ..retry import Retrier, RetryPolicy
from ..tasks import Task
from .transport import Handler

__all__ = ["Layer", "CacheLayer", "BatchLayer", "RetryLayer", "RateLimitLayer", "build", "map_all", "amap_all"]

Item = TypeVar("Item")
Result = TypeVar("Result")
AnyTask = Task[Any, Any]


class Layer(Handler):
    """A handler that wraps another; every method passes through unless overridden."""

    def __init__(self, inner: Handler) -> None:
        self.inner = inner

    def call(self, task: AnyTask, request: Any) -> Any:
        return self.inner.call(task, request)

    async def acall(self, task: AnyTask, request: Any) -> Any:
        return await self.inner.acall(task, request)

    def stream(self, task: AnyTask, request: Any) -> Iterator[Any]:
        return self.inner.stream(task, request)

    def astream(self, task: AnyTask, request: Any) -> AsyncIterator[Any]:
        return self.inner.astream(task, request)


# ============================================================================================================ cache
class CacheLayer(Layer):
    """Results by (target, task, parameters, input); for many-input tasks one entry per input. The target is the
    transport's ``cache_target``: the backend kind, URL / provider and the model the task really uses."""

    def __init__(self, inner: Handler, cache: ResultCache, target: Callable[[AnyTask, Any], dict[str, Any]]) -> None:
        super().__init__(inner)
        self.cache = cache
        self.target = target

    def _keys(self, task: AnyTask, request: Any, values: Sequence[Any]) -> list[str]:
        assert task.cache is not None
        params = task.cache.params(request)
        target = self.target(task, request)
        return [cache_key(task.pipeline_tag, value, target=target, params=params) for value in values]

    def _value(self, task: AnyTask, request: Any) -> Any:
        assert task.cache is not None
        if task.cache.value is not None:
            return task.cache.value(request)
        return getattr(request, next(iter(request.__dataclass_fields__)))

    def call(self, task: AnyTask, request: Any) -> Any:
        if task.cache is None:
            return self.inner.call(task, request)
        if task.many is None:
            return self._single(task, request, self.inner.call)
        keys, found, missing = self._lookup(task, request)
        if missing:
            try:
                results = self.inner.call(task, _subset(task, request, missing))
            except HFBridgeError as error:
                self._keep_partial(task, keys, missing, found, error)
                raise
            found.update(self._remember(task, keys, missing, results))
        return [found[key] for key in keys]

    async def acall(self, task: AnyTask, request: Any) -> Any:
        if task.cache is None:
            return await self.inner.acall(task, request)
        if task.many is None:
            key = self._keys(task, request, [self._value(task, request)])[0]
            hit = self._get(task, key)
            if hit is not _MISS:
                return hit
            result = await self.inner.acall(task, request)
            self.cache.put_many({key: task.cache.dump(result)})
            return result
        keys, found, missing = self._lookup(task, request)
        if missing:
            try:
                results = await self.inner.acall(task, _subset(task, request, missing))
            except HFBridgeError as error:
                self._keep_partial(task, keys, missing, found, error)
                raise
            found.update(self._remember(task, keys, missing, results))
        return [found[key] for key in keys]

    def _single(self, task: AnyTask, request: Any, run: Callable[[AnyTask, Any], Any]) -> Any:
        assert task.cache is not None
        key = self._keys(task, request, [self._value(task, request)])[0]
        hit = self._get(task, key)
        if hit is not _MISS:
            return hit
        result = run(task, request)
        self.cache.put_many({key: task.cache.dump(result)})
        return result

    def _get(self, task: AnyTask, key: str) -> Any:
        assert task.cache is not None
        found = self.cache.get_many([key], task.cache.label or task.pipeline_tag, accept=_acceptor(task))
        return task.cache.load(found[key]) if key in found else _MISS

    def _lookup(self, task: AnyTask, request: Any) -> tuple[list[str], dict[str, Any], list[int]]:
        assert task.cache is not None and task.many is not None
        keys = self._keys(task, request, getattr(request, task.many))
        found = {
            key: task.cache.load(raw)
            for key, raw in self.cache.get_many(keys, task.cache.label or task.pipeline_tag, _acceptor(task)).items()
        }
        return keys, found, [i for i, key in enumerate(keys) if key not in found]

    def _remember(self, task: AnyTask, keys: list[str], positions: list[int], results: list[Any]) -> dict[str, Any]:
        assert task.cache is not None
        fresh = {keys[i]: result for i, result in zip(positions, results, strict=True)}
        self.cache.put_many({key: task.cache.dump(result) for key, result in fresh.items()})
        return fresh

    def _keep_partial(self, task: AnyTask, keys: list[str], missing: list[int], found: dict[str, Any],
                      error: HFBridgeError) -> None:  # fmt: skip
        """A job that failed part-way: cache what was finished (a re-run sends only the rest) and report it, with
        the cache hits, at the caller's positions."""
        if error.partial is None:
            return
        done = [(i, result) for i, result in zip(missing, error.partial, strict=True) if result is not None]
        found.update(self._remember(task, keys, [i for i, _ in done], [result for _, result in done]))
        error.partial = [found.get(key) for key in keys]


_MISS = object()


def _acceptor(task: AnyTask) -> Callable[[Any], bool]:
    """What a stored entry must pass to count as a hit: the codec's check, or that its loader reads it."""
    codec = task.cache
    assert codec is not None
    return codec.accept or (lambda raw: codec.load(raw) is not None)


def _subset(task: AnyTask, request: Any, positions: list[int]) -> Any:
    assert task.many is not None
    items = getattr(request, task.many)
    if len(positions) == len(items):
        return request
    return replace(request, **{task.many: [items[i] for i in positions]})


# ========================================================================================================= batching
class BatchLayer(Layer):
    """Many-input tasks: ``batch_size`` inputs a request (or the call's own ``batch_size``), ``max_concurrency``
    requests in flight (threads in sync code, tasks in async code), results in input order.

    Each batch goes through the layers below on its own (so it is retried on its own). When one fails for good no
    further batch is started and its error is raised with ``partial``: one entry per input, ``None`` where not done.
    """

    def __init__(self, inner: Handler, batch_size: int, max_concurrency: int) -> None:
        super().__init__(inner)
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency

    def _batches(self, task: AnyTask, request: Any) -> list[Any]:
        assert task.many is not None
        items = getattr(request, task.many)
        size = getattr(request, "batch_size", None) or self.batch_size
        return [replace(request, **{task.many: items[i : i + size]}) for i in range(0, len(items), size)]

    def call(self, task: AnyTask, request: Any) -> Any:
        if task.many is None:
            return self.inner.call(task, request)
        batches = self._batches(task, request)
        sizes = [len(getattr(batch, task.many)) for batch in batches]
        with _Progress(sizes, getattr(request, "show_progress", False)) as progress, _partial_per_input(sizes):
            results = map_all(
                lambda batch: progress.done(batch, self.inner.call(task, batch), task), batches, self.max_concurrency
            )
        return [item for batch in results for item in batch]

    async def acall(self, task: AnyTask, request: Any) -> Any:
        if task.many is None:
            return await self.inner.acall(task, request)
        batches = self._batches(task, request)
        sizes = [len(getattr(batch, task.many)) for batch in batches]

        async def run(batch: Any) -> Any:
            return progress.done(batch, await self.inner.acall(task, batch), task)

        with _Progress(sizes, getattr(request, "show_progress", False)) as progress, _partial_per_input(sizes):
            results = await amap_all(run, batches, self.max_concurrency)
        return [item for batch in results for item in batch]


def map_all(call: Callable[[Item], Result], items: Sequence[Item], max_concurrency: int) -> list[Result]:
    """``call`` on every item, ``max_concurrency`` at a time (threads), results in order.

    When an item fails for good no further item is started (items in flight finish) and its error is raised with
    ``partial``: every item's result by position, ``None`` for the failed and the unstarted ones.
    """
    failures: list[Exception] = []

    def run(item: Item) -> Result | Exception | _Skipped:
        if failures:
            return _SKIPPED
        try:
            return call(item)
        except Exception as error:
            failures.append(error)
            return error

    if len(items) == 1 or max_concurrency == 1:
        return _completed([run(item) for item in items], failures)
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items))) as pool:
        return _completed(list(pool.map(run, items)), failures)


async def amap_all(
    call: Callable[[Item], Awaitable[Result]], items: Sequence[Item], max_concurrency: int
) -> list[Result]:
    semaphore = asyncio.Semaphore(max_concurrency)
    failures: list[Exception] = []

    async def run(item: Item) -> Result | Exception | _Skipped:
        async with semaphore:
            if failures:
                return _SKIPPED
            try:
                return await call(item)
            except Exception as error:
                failures.append(error)
                return error

    return _completed(list(await asyncio.gather(*(run(item) for item in items))), failures)


class _Skipped:
    """An item not started because an earlier one failed for good."""


_SKIPPED = _Skipped()


def _completed(outcomes: list[Any], failures: list[Exception]) -> list[Any]:
    """The results of a many-item call, or its first failure raised with ``partial`` (results by position)."""
    if not failures:
        return outcomes
    error = failures[0]
    if isinstance(error, HFBridgeError):
        error.partial = [None if isinstance(o, Exception | _Skipped) else o for o in outcomes]
    raise error


@contextmanager
def _partial_per_input(sizes: list[int]) -> Iterator[None]:
    """Turn a failed job's per-batch ``partial`` into one entry per input."""
    try:
        yield
    except HFBridgeError as error:
        if error.partial is not None:
            error.partial = [
                item
                for size, results in zip(sizes, error.partial, strict=True)
                for item in (results if results is not None else [None] * size)
            ]
        raise


class _Progress:
    """A tqdm bar over the inputs of a many-input job (rate and ETA), or nothing when not asked for."""

    def __init__(self, sizes: list[int], enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=sum(sizes), unit="text", desc="embedding", dynamic_ncols=True)
        self._lock = threading.Lock()

    def done(self, batch: Any, result: Result, task: AnyTask) -> Result:
        if self._bar is not None:
            assert task.many is not None
            with self._lock:
                self._bar.update(len(getattr(batch, task.many)))
        return result

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


# ============================================================================================================ retry
class RetryLayer(Layer):
    """Each request bounded by the policy's deadline as a whole, each try through the flow control (when there is
    one), retried by the :class:`~hfbridge.RetryPolicy`; a stream only until its first chunk (see
    :class:`~hfbridge.retry.Retrier`)."""

    def __init__(self, inner: Handler, policy: RetryPolicy, flow: FlowControl | None = None) -> None:
        super().__init__(inner)
        self.retrier = Retrier(policy, flow=flow)

    def call(self, task: AnyTask, request: Any) -> Any:
        return self.retrier.call(lambda: self.inner.call(task, request), task.name)

    async def acall(self, task: AnyTask, request: Any) -> Any:
        return await self.retrier.acall(lambda: self.inner.acall(task, request), task.name)

    def stream(self, task: AnyTask, request: Any) -> Iterator[Any]:
        assert task.stream is not None
        return self.retrier.stream(lambda: self.inner.stream(task, request), task.stream.text_of, task.name)

    def astream(self, task: AnyTask, request: Any) -> AsyncIterator[Any]:
        assert task.stream is not None
        return self.retrier.astream(lambda: self.inner.astream(task, request), task.stream.text_of, task.name)


# ======================================================================================================= rate limit
class RateLimitLayer(Layer):
    """One token of the shared :class:`~hfbridge.RateLimit` per try. Without flow control a 429 with
    ``Retry-After`` re-times it (``defer``); with flow control the Retry-After delays only the refused request and
    the adaptive rate, capped at this limit, does the pacing."""

    def __init__(self, inner: Handler, limit: RateLimit, *, defer: bool = True) -> None:
        super().__init__(inner)
        self.limit = limit
        self.defer = defer

    def _take(self) -> None:
        """A token, waited for in this thread within the request's deadline (async waits are cancelled at it)."""
        try:
            self.limit.acquire(_deadline.left())
        except InferenceTimeoutError as error:
            raise _deadline.exceeded("request (its turn under the rate limit)") from error

    def _refused(self, error: RateLimitedError) -> None:
        if self.defer and error.retry_after is not None:
            self.limit.defer(error.retry_after)

    def call(self, task: AnyTask, request: Any) -> Any:
        self._take()
        try:
            return self.inner.call(task, request)
        except RateLimitedError as error:
            self._refused(error)
            raise

    async def acall(self, task: AnyTask, request: Any) -> Any:
        await self.limit.aacquire()
        try:
            return await self.inner.acall(task, request)
        except RateLimitedError as error:
            self._refused(error)
            raise

    def stream(self, task: AnyTask, request: Any) -> Iterator[Any]:
        self._take()
        try:
            iterator = self.inner.stream(task, request)
        except RateLimitedError as error:
            self._refused(error)
            raise
        return self._watch(iterator)

    def _watch(self, iterator: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from iterator
        except RateLimitedError as error:
            self._refused(error)
            raise

    async def astream(self, task: AnyTask, request: Any) -> AsyncIterator[Any]:
        await self.limit.aacquire()
        try:
            async for chunk in self.inner.astream(task, request):
                yield chunk
        except RateLimitedError as error:
            self._refused(error)
            raise


def build(
    transport: Handler,
    *,
    retry: RetryPolicy,
    rate_limit: RateLimit | None,
    batch_size: int,
    max_concurrency: int,
    cache: ResultCache | None,
    cache_target: Callable[[AnyTask, Any], dict[str, Any]],
    per_attempt: Sequence[Callable[[Handler], Handler]] = (),
    flow: FlowControl | None = None,
) -> Handler:
    """The layers over ``transport``, in the order the module docstring draws (layers with nothing to do are left
    out, so a call pays only for what is configured)."""
    handler: Handler = transport
    if rate_limit is not None:
        handler = RateLimitLayer(handler, rate_limit, defer=flow is None)
    for wrap in reversed(per_attempt):
        handler = wrap(handler)
    # Also with one attempt: it bounds the request by its deadline and turns a broken stream into
    # StreamInterruptedError.
    handler = RetryLayer(handler, retry, flow)
    handler = BatchLayer(handler, batch_size, max_concurrency)
    if cache is not None:
        handler = CacheLayer(handler, cache, cache_target)
    return handler
