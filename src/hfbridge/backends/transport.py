"""Transports: the layer that does one request of one task, and nothing else.

A transport knows how to reach a model — :class:`~hfbridge.backends.hub.HubTransport` through huggingface_hub's
``InferenceClient``, :class:`InProcessTransport` by calling in-process models — and nothing of validation, caching,
batching, retries or rate limits: :class:`~hfbridge.Backend` wraps those around it (``backends/_pipeline.py``).
Every transport and every layer has the same four methods, so a layer can wrap either.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..errors import UnsupportedTaskError
from ..tasks import Task

__all__ = ["Handler", "Transport", "InProcessTransport", "caller_gone"]

_CALLER_GONE: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("hfbridge_caller_gone",
                                                                                      default=None)  # fmt: skip


def caller_gone() -> threading.Event | None:
    """Inside a blocking hook run by :meth:`InProcessTransport.acall`: the event set when the awaiting task was
    cancelled (its client went away), so a long computation can stop; ``None`` for a synchronous caller."""
    return _CALLER_GONE.get()


class Handler(ABC):
    """Runs a validated request of a task: a whole call, or a stream (retried only before its first chunk)."""

    @abstractmethod
    def call(self, task: Task[Any, Any], request: Any) -> Any: ...

    @abstractmethod
    async def acall(self, task: Task[Any, Any], request: Any) -> Any: ...

    @abstractmethod
    def stream(self, task: Task[Any, Any], request: Any) -> Iterator[Any]: ...

    @abstractmethod
    def astream(self, task: Task[Any, Any], request: Any) -> AsyncIterator[Any]: ...


class Transport(Handler):
    """The bottom of a backend: one request, one answer (or one stream). Raises only :mod:`hfbridge.errors`."""

    #: A short name used in logs, cache keys and by the protocol server.
    name: str = "transport"

    @property
    @abstractmethod
    def model_id(self) -> str:
        """The model (or URL) used when a call names none."""

    def cache_target(self, task: Task[Any, Any], request: Any) -> dict[str, Any]:
        """What decides ``task``'s answer to ``request`` besides its parameters and input: where it goes and which
        model answers. Part of every cache key, so two targets never share an entry."""
        return {"backend": self.name, "model": getattr(request, "model", None) or self.model_id}

    def close(self) -> None:
        """Release clients and models; they are re-created on the next call."""

    async def aclose(self) -> None:
        self.close()


class InProcessTransport(Transport):
    """Runs each task by calling a hook of an in-process model holder, named by the task's ``local`` field.

    A hook takes the validated request and returns the result (``hooks._classify(request)``); the streaming variant
    of hook ``_x`` is ``_stream_x`` and returns an iterator. Hooks are blocking: async calls run them in a worker
    thread, one item of a stream at a time. A task without a hook raises
    :class:`~hfbridge.errors.UnsupportedTaskError`.
    """

    def __init__(self, hooks: Any, *, name: str, model_id: str) -> None:
        self.hooks = hooks
        self.name = name
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    def cache_target(self, task: Task[Any, Any], request: Any) -> dict[str, Any]:
        # The holder says which model serves each task (``LocalBackend.models``); a per-call model must name it.
        models = getattr(self.hooks, "models", None)
        model = models.get(task.pipeline_tag) if isinstance(models, dict) else None
        return {"backend": self.name, "model": model or getattr(request, "model", None) or self._model_id}

    def _hook(self, task: Task[Any, Any], stream: bool = False) -> Any:
        hook = getattr(self.hooks, f"_stream{task.local}" if stream else task.local, None) if task.local else None
        if hook is None:
            owner = type(self.hooks).__name__
            model = task.hub_model
            example = f", e.g. HubBackend(task_models={{{task.pipeline_tag!r}: {model!r}}})" if model else ""
            raise UnsupportedTaskError(
                f"{owner} has no {task.pipeline_tag} model; run {task.name} on a HubBackend "
                f"(Inference Providers, an Inference Endpoint or a server URL){example}"
            )
        return hook

    def call(self, task: Task[Any, Any], request: Any) -> Any:
        return self._hook(task)(request)

    async def acall(self, task: Task[Any, Any], request: Any) -> Any:
        """The hook in a worker thread. A thread cannot be cancelled: when the awaiting task is, the hook is told
        through :func:`caller_gone` (a hook that can stop early checks it; the local chat model does)."""
        hook = self._hook(task)
        gone = threading.Event()
        context = contextvars.copy_context()
        context.run(_CALLER_GONE.set, gone)
        try:
            return await asyncio.to_thread(context.run, hook, request)
        except asyncio.CancelledError:
            gone.set()
            raise

    def stream(self, task: Task[Any, Any], request: Any) -> Iterator[Any]:
        return iter(self._hook(task, stream=True)(request))

    async def astream(self, task: Task[Any, Any], request: Any) -> AsyncIterator[Any]:
        """The blocking stream driven from worker threads. When the consumer stops (``aclose``, cancellation,
        garbage collection) the iterator is closed so the work behind it stops: a cancelled task cannot await that
        close, and a ``next`` may still be running in a worker, so the close runs in a thread of its own that first
        waits for that ``next`` to return (closing a running generator fails)."""
        iterator = await asyncio.to_thread(self.stream, task, request)
        busy = threading.Lock()

        def step() -> Any:
            with busy:
                return next(iterator, _DONE)

        def close() -> None:
            with busy:
                closer = getattr(iterator, "close", None)
                if closer is not None:
                    closer()

        try:
            while True:
                item = await asyncio.to_thread(step)
                if item is _DONE:
                    return
                yield item
        finally:
            threading.Thread(target=close, name="hfbridge-stream-close", daemon=True).start()


_DONE = object()
