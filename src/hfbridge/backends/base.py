"""The backend: a transport with behaviours composed around it, and every task as a method.

A :class:`Backend` is built from a :class:`~hfbridge.backends.transport.Transport` (one request of one task:
the Hub's ``InferenceClient``, in-process models...) wrapped in layers — cache, batching, retry, rate limit
(``_pipeline.py``). Its public methods (``chat_completion`` / ``achat_completion`` / ``stream_chat_completion``,
``feature_extraction``...) are generated from the task registry (``hfbridge.tasks``) into ``_methods.py``; each
validates its arguments with the task's declaration, runs them through the layers, and records on the result which
backend answered (:class:`~hfbridge.types.ResponseMeta`). Sync methods never start an event loop, so they are safe
inside a running one (Jupyter, FastAPI); async twins are ``a``-prefixed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from .. import _settings as setting
from .. import _validation as check
from ..cache import ResultCache
from ..errors import ConfigurationError, UnsupportedTaskError
from ..flow import FlowControl
from ..ratelimit import RateLimit
from ..retry import RetryPolicy
from ..tasks import Limits, Task
from ..types import ResponseMeta, attach_meta
from ._methods import TaskMethods
from ._pipeline import amap_all, build, map_all
from .transport import Handler, Transport

__all__ = ["Backend"]

Req = TypeVar("Req")
Res = TypeVar("Res")


class Backend(TaskMethods):
    """Every task over one transport, with validation, caching, batching, retry and rate limiting around it.

    :class:`~hfbridge.HubBackend` and :class:`~hfbridge.LocalBackend` build their transport from their own
    arguments; ``Backend(transport, ...)`` runs any other.

    Args:
        transport: does one request of one task.
        retry: the :class:`RetryPolicy` applied to every request.
        rate_limit: a :class:`RateLimit` shared by every thread and task using this backend (an explicit limit:
            with flow control it is also the cap of the adaptive rate).
        batch_size: inputs per request for many-input tasks (embeddings).
        max_concurrency: requests of one many-input call in flight at once; with flow control, the most the
            adaptive concurrency may reach. ``None``: 4 without flow control, 64 with it (the controller learns
            how many the server takes).
        flow: adaptive flow control (:mod:`hfbridge.flow`) around every try of every request: ``"adaptive"`` for
            a :class:`~hfbridge.flow.FlowControl` of this backend's own (requests in flight learned from latency
            and refusals, requests per second learned from 429s, capped by ``max_concurrency`` and
            ``rate_limit``), a ``FlowControl`` to share between backends that reach the same server, or ``None``
            (no flow control: ``max_concurrency`` fixed). Refusals it adapts to do not count against
            ``RetryPolicy.max_attempts``; the deadline bounds every request.
        max_input_chars: the longest single text accepted (embeddings cut longer texts when ``truncate``).
        max_labels: the most candidate labels accepted by zero-shot classification.
        cache: an opt-in :class:`~hfbridge.cache.ResultCache` for embeddings and classification results.
        per_attempt: functions wrapping the handler below the retry layer, so each try passes through them (flow
            control: adaptive concurrency and rate); applied in order, the first one outermost.
        label: how :class:`~hfbridge.types.ResponseMeta` names this backend (default: from the transport).
    """

    #: A short name used in logs, cache keys and by the protocol server.
    name: str = "backend"

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        batch_size: int = 32,
        max_concurrency: int | None = None,
        max_input_chars: int = check.DEFAULT_MAX_INPUT_CHARS,
        max_labels: int = check.DEFAULT_MAX_LABELS,
        cache: ResultCache | None = None,
        per_attempt: Sequence[Callable[[Handler], Handler]] = (),
        label: str | None = None,
        flow: FlowControl | Literal["adaptive"] | None = None,
    ) -> None:
        self.transport = transport
        self.name = transport.name
        self.retry_policy = setting.instance(retry, RetryPolicy, "retry") or RetryPolicy()
        self.rate_limit = rate_limit = setting.instance(rate_limit, RateLimit, "rate_limit")
        self.batch_size = batch_size = setting.count(batch_size, "batch_size")
        if max_concurrency is not None:
            setting.count(max_concurrency, "max_concurrency")
        # The arguments as given (a pickled backend is rebuilt from them).
        self._given = {"max_concurrency": max_concurrency, "flow": flow}
        #: The flow control every request of this backend goes through (``None``: none).
        self.flow = self._flow_control(flow, max_concurrency, rate_limit)
        if max_concurrency is None:
            limiter = self.flow.concurrency if self.flow is not None else None
            max_concurrency = limiter.max_limit if limiter is not None else 4
        self.max_concurrency = max_concurrency
        self.max_input_chars = max_input_chars = setting.count(max_input_chars, "max_input_chars")
        self.max_labels = max_labels = setting.count(max_labels, "max_labels")
        self.cache = cache = setting.instance(cache, ResultCache, "cache")
        self.label = label or f"{transport.name}:{transport.model_id}"
        self._limits = Limits(max_input_chars=max_input_chars, max_labels=max_labels)
        self._meta = ResponseMeta(backend=self.label)
        self._handler = build(
            transport, retry=self.retry_policy, rate_limit=rate_limit, batch_size=batch_size,
            max_concurrency=max_concurrency, cache=cache, cache_target=transport.cache_target,
            per_attempt=per_attempt, flow=self.flow,
        )  # fmt: skip

    @staticmethod
    def _flow_control(
        flow: FlowControl | str | None, max_concurrency: int | None, rate_limit: RateLimit | None
    ) -> FlowControl | None:
        if flow is None or isinstance(flow, FlowControl):
            return flow
        if flow != "adaptive":
            raise ConfigurationError(f"flow must be 'adaptive', a FlowControl or None, not {flow!r}")
        cap = rate_limit.requests / rate_limit.per if rate_limit is not None else None
        return FlowControl.adaptive(max_concurrency=max_concurrency, requests_per_second=cap)

    @property
    def model_id(self) -> str:
        """The model (or URL) used when a call passes no ``model=``."""
        return self.transport.model_id

    # ================================================================================================= runner
    def _answered(self, result: Any) -> Any:
        return attach_meta(result, self._meta)

    def _run(self, task: Task[Req, Res], request: Req) -> Res:
        request = task.validate(request, self._limits)
        return self._answered(self._handler.call(task, request))  # type: ignore[no-any-return]

    async def _arun(self, task: Task[Req, Res], request: Req) -> Res:
        request = task.validate(request, self._limits)
        return self._answered(await self._handler.acall(task, request))  # type: ignore[no-any-return]

    def _stream(self, task: Task[Req, Any], request: Req) -> Iterator[Any]:
        request = task.validate(request, self._limits)  # here, not at the first next(): bad input fails at once
        return self._answered_chunks(self._handler.stream(task, request))

    def _answered_chunks(self, chunks: Iterator[Any]) -> Iterator[Any]:
        try:
            for chunk in chunks:
                yield self._answered(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _astream(self, task: Task[Req, Any], request: Req) -> AsyncIterator[Any]:
        request = task.validate(request, self._limits)
        return self._aanswered_chunks(self._handler.astream(task, request))

    async def _aanswered_chunks(self, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for chunk in chunks:
                yield self._answered(chunk)
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    def _requests(self, task: Task[Req, Any], inputs: Sequence[Any], build: Callable[[Any], Req]) -> list[Req]:
        if inputs is None or isinstance(inputs, str) or not isinstance(inputs, Sequence) or not inputs:
            raise check.InvalidInputError(f"{task.name} needs a non-empty list of inputs")
        return [task.validate(build(value), self._limits) for value in inputs]

    def _run_many(self, task: Task[Req, Res], inputs: Sequence[Any], build: Callable[[Any], Req]) -> list[Res]:
        requests = self._requests(task, inputs, build)
        results = map_all(lambda request: self._handler.call(task, request), requests, self.max_concurrency)
        return [self._answered(result) for result in results]

    async def _arun_many(self, task: Task[Req, Res], inputs: Sequence[Any], build: Callable[[Any], Req]) -> list[Res]:
        requests = self._requests(task, inputs, build)
        results = await amap_all(lambda request: self._handler.acall(task, request), requests, self.max_concurrency)
        return [self._answered(result) for result in results]

    # ============================================================================================ token ids
    def decode_token_ids(self, ids: Sequence[int], *, task: str = "feature-extraction") -> str:
        """The text that ``ids`` — token ids of the model serving ``task`` (a pipeline tag), as its tokenizer's
        ``encode(text).ids`` gives them — stand for, to be given to that task as text.

        For servers that take token ids where they take text (text-embeddings-inference does). Raises
        :class:`~hfbridge.errors.InvalidInputError` when the ids are not that model's (another tokenizer's ids
        would otherwise read as unrelated words), and :class:`~hfbridge.errors.UnsupportedTaskError` when this
        backend has no tokenizer for the task: the base class has none (a remote model's tokenizer is not at hand).
        """
        raise UnsupportedTaskError(
            f"{type(self).__name__} ({self.label}) has no tokenizer to turn {task} token ids into text"
        )

    # ============================================================================================ lifecycle
    def check_chat_support(
        self, *, model: str | None = None, tools: bool = False, response_format: bool = False
    ) -> None:
        """Raise :class:`~hfbridge.errors.UnsupportedTaskError` now if chat with these features cannot work here.

        Adapters call it when tools or a response format are bound, so a mismatch fails at set-up with a clear
        message instead of as an HTTP 422 in the middle of an agent run. Backends that know nothing ahead accept.
        """

    def close(self) -> None:
        """Release clients and models. The backend stays usable: they are re-created on the next call."""
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
