"""Failover as a wrapper: :class:`FallbackBackend` tries its backends in order (as pydantic-ai's FallbackModel)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from ..errors import (
    APIError,
    BackendUnavailableError,
    BadRequestError,
    ConfigurationError,
    HFBridgeError,
    InferenceTimeoutError,
    UnsupportedTaskError,
)
from ..retry import NO_RETRY
from ..tasks import Task
from ..types import ResponseMeta, attach_meta, response_meta
from .base import Backend
from .transport import Transport

__all__ = ["FallbackBackend", "FALLS_OVER_ON", "NEVER_FALLS_OVER_ON"]

#: Errors a backend raises when it cannot serve the call even after its own retries: 5xx, 429 and loading once its
#: retries are spent, 402, 401/403, 404 (model not served), an unsupported task, no connection, no answer in time.
FALLS_OVER_ON: tuple[type[HFBridgeError], ...] = (
    APIError, BackendUnavailableError, InferenceTimeoutError, UnsupportedTaskError,
)  # fmt: skip
#: The caller's own bad request, which every backend would refuse alike: raised at once, never failed over.
NEVER_FALLS_OVER_ON: tuple[type[HFBridgeError], ...] = (BadRequestError, ConfigurationError)

AnyTask = Task[Any, Any]


class FallbackBackend(Backend):
    """Each call goes to the first backend; when it fails with an error that backend cannot recover from, to the
    next, and so on. The caller's bad input is never failed over (it is rejected before any backend is tried, or
    by the first backend's server as a 400 / 422).

    >>> backend = FallbackBackend([HubBackend("meta-llama/Llama-3.1-8B-Instruct", provider="together"),
    ...                            HubBackend("meta-llama/Llama-3.1-8B-Instruct", provider="auto"),
    ...                            LocalBackend()])
    >>> answer = backend.chat_completion(messages)
    >>> answer.meta.backend, answer.meta.fallbacks      # which backend answered, and what failed before it

    Each backend keeps its own retry policy, rate limit and cache, so a backend is left only once its retries are
    spent. A stream fails over only before its first chunk; after that a failure raises
    :class:`~hfbridge.errors.StreamInterruptedError` as on any backend. When every backend fails, the last error is
    raised with the earlier ones in its notes.

    Args:
        backends: tried in this order.
        falls_over_on: the error types that move a call to the next backend (default :data:`FALLS_OVER_ON`, less
            :data:`NEVER_FALLS_OVER_ON`).
    """

    def __init__(
        self,
        backends: Sequence[Backend],
        *,
        falls_over_on: tuple[type[HFBridgeError], ...] = FALLS_OVER_ON,
        label: str = "fallback",
    ) -> None:
        if not backends:
            raise ConfigurationError("FallbackBackend needs at least one backend")
        self.backends = list(backends)
        self.falls_over_on = falls_over_on
        # Checked here with the most generous limits of the backends; each checks its own again.
        super().__init__(
            _FallbackTransport(self), retry=NO_RETRY, label=label,
            max_input_chars=max(backend.max_input_chars for backend in self.backends),
            max_labels=max(backend.max_labels for backend in self.backends),
        )  # fmt: skip
        # Each member validates, caches, retries and limits its own calls: nothing of that is repeated here.
        self._handler = self.transport

    def falls_over(self, error: BaseException) -> bool:
        """Whether ``error`` moves a call to the next backend."""
        return isinstance(error, self.falls_over_on) and not isinstance(error, NEVER_FALLS_OVER_ON)

    def _answered(self, result: Any) -> Any:
        return result  # the member that answered has recorded itself (and the fallbacks) already

    def check_chat_support(
        self, *, model: str | None = None, tools: bool = False, response_format: bool = False
    ) -> None:
        """Accept when any backend can chat with these features; otherwise raise the first backend's refusal."""
        refusals: list[UnsupportedTaskError] = []
        for backend in self.backends:
            try:
                backend.check_chat_support(model=model, tools=tools, response_format=response_format)
                return
            except UnsupportedTaskError as error:
                refusals.append(error)
        raise refusals[0]

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()

    def __repr__(self) -> str:
        return f"FallbackBackend({self.backends!r})"


class _FallbackTransport(Transport):
    name = "fallback"

    def __init__(self, owner: FallbackBackend) -> None:
        self.owner = owner

    @property
    def model_id(self) -> str:
        return self.owner.backends[0].model_id

    def _skip(self, backend: Backend, error: HFBridgeError, skipped: list[tuple[Backend, HFBridgeError]]) -> None:
        if not self.owner.falls_over(error):
            raise error
        skipped.append((backend, error))

    def _give_up(self, skipped: list[tuple[Backend, HFBridgeError]]) -> HFBridgeError:
        last = skipped[-1][1]
        for backend, error in skipped[:-1]:
            last.add_note(f"{backend.label} failed first: {type(error).__name__}: {error}")
        return last

    def call(self, task: AnyTask, request: Any) -> Any:
        skipped: list[tuple[Backend, HFBridgeError]] = []
        for backend in self.owner.backends:
            try:
                return _with_fallbacks(backend._run(task, request), skipped)
            except HFBridgeError as error:
                self._skip(backend, error, skipped)
        raise self._give_up(skipped)

    async def acall(self, task: AnyTask, request: Any) -> Any:
        skipped: list[tuple[Backend, HFBridgeError]] = []
        for backend in self.owner.backends:
            try:
                return _with_fallbacks(await backend._arun(task, request), skipped)
            except HFBridgeError as error:
                self._skip(backend, error, skipped)
        raise self._give_up(skipped)

    def stream(self, task: AnyTask, request: Any) -> Iterator[Any]:
        skipped: list[tuple[Backend, HFBridgeError]] = []
        for backend in self.owner.backends:
            chunks: Iterator[Any] | None = None
            try:
                chunks = backend._stream(task, request)
                first = next(chunks)
            except StopIteration:
                return
            except HFBridgeError as error:
                _close(chunks)
                self._skip(backend, error, skipped)
                continue
            try:
                yield _with_fallbacks(first, skipped)
                for chunk in chunks:  # from here on this backend's own rules apply (no second backend)
                    yield _with_fallbacks(chunk, skipped)
            finally:
                _close(chunks)
            return
        raise self._give_up(skipped)

    async def astream(self, task: AnyTask, request: Any) -> AsyncIterator[Any]:
        skipped: list[tuple[Backend, HFBridgeError]] = []
        for backend in self.owner.backends:
            chunks: AsyncIterator[Any] | None = None
            try:
                chunks = backend._astream(task, request)
                first = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except HFBridgeError as error:
                await _aclose(chunks)
                self._skip(backend, error, skipped)
                continue
            try:
                yield _with_fallbacks(first, skipped)
                async for chunk in chunks:
                    yield _with_fallbacks(chunk, skipped)
            finally:
                await _aclose(chunks)
            return
        raise self._give_up(skipped)


def _with_fallbacks(result: Any, skipped: list[tuple[Backend, HFBridgeError]]) -> Any:
    if not skipped:
        return result
    answered = response_meta(result)
    fallbacks = tuple(f"{backend.label}: {_reason(error)}" for backend, error in skipped)
    return attach_meta(result, ResponseMeta(backend=answered.backend if answered else "?", fallbacks=fallbacks))


def _reason(error: HFBridgeError) -> str:
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__} {status}" if status else type(error).__name__


def _close(chunks: object) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


async def _aclose(chunks: object) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
