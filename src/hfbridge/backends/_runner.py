"""What the generated task methods (``_methods.py``) call: implemented by :class:`~hfbridge.Backend`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..tasks import Task

Req = TypeVar("Req")
Res = TypeVar("Res")


class Runner(ABC):
    @abstractmethod
    def _run(self, task: Task[Req, Res], request: Req) -> Res: ...

    @abstractmethod
    async def _arun(self, task: Task[Req, Res], request: Req) -> Res: ...

    @abstractmethod
    def _stream(self, task: Task[Req, Any], request: Req) -> Iterator[Any]: ...

    @abstractmethod
    def _astream(self, task: Task[Req, Any], request: Req) -> AsyncIterator[Any]: ...

    @abstractmethod
    def _run_many(self, task: Task[Req, Res], inputs: Sequence[Any], build: Callable[[Any], Req]) -> list[Res]: ...

    @abstractmethod
    async def _arun_many(
        self, task: Task[Req, Res], inputs: Sequence[Any], build: Callable[[Any], Req]
    ) -> list[Res]: ...
