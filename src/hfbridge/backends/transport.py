"""Transports: the layer that does one request of one task, and nothing else.

A transport knows how to reach a model — :class:`~hfbridge.backends.hub.HubTransport` through huggingface_hub's
``InferenceClient``, :class:`InProcessTransport` by calling in-process models — and nothing of validation, caching,
batching, retries or rate limits: :class:`~hfbridge.Backend` wraps those around it (``backends/_pipeline.py``).
Every transport and every layer has the same four methods, so a layer can wrap either.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..errors import UnsupportedTaskError
from ..tasks import Task

__all__ = ["Handler", "Transport", "InProcessTransport"]


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

    def _hook(self, task: Task[Any, Any], stream: bool = False) -> Any:
        hook = getattr(self.hooks, f"_stream{task.local}" if stream else task.local, None) if task.local else None
        if hook is None:
            owner = type(self.hooks).__name__
            raise UnsupportedTaskError(
                f"{owner} has no {task.pipeline_tag} model; run {task.name} on a HubBackend "
                "(Inference Providers, an Inference Endpoint or a server URL)"
            )
        return hook

    def call(self, task: Task[Any, Any], request: Any) -> Any:
        return self._hook(task)(request)

    async def acall(self, task: Task[Any, Any], request: Any) -> Any:
        return await asyncio.to_thread(self._hook(task), request)

    def stream(self, task: Task[Any, Any], request: Any) -> Iterator[Any]:
        return iter(self._hook(task, stream=True)(request))

    async def astream(self, task: Task[Any, Any], request: Any) -> AsyncIterator[Any]:
        iterator = await asyncio.to_thread(self.stream, task, request)
        try:
            while True:
                item = await asyncio.to_thread(next, iterator, _DONE)
                if item is _DONE:
                    return
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


_DONE = object()
