"""Waiting that works the same for threads and for tasks of any event loop.

The flow controllers keep their state under one ``threading.Lock`` and never hold it while waiting: a thread waits
on its own ``threading.Event``, a task on a future of its own loop, and whoever hands out a slot wakes the waiter
with ``Event.set`` or ``loop.call_soon_threadsafe``. So one controller can be shared by threads and by tasks of
several event loops at once, and a waiting task never blocks its loop.
"""

from __future__ import annotations

import asyncio
import threading

from ..errors import InferenceTimeoutError

__all__ = ["Waiter", "waited_too_long"]


class Waiter:
    """One thread or task waiting for a slot; ``granted`` is set under the owner's lock before ``wake``."""

    __slots__ = ("_event", "_future", "_loop", "granted")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.granted = False
        self._loop = loop
        self._event = threading.Event() if loop is None else None
        self._future: asyncio.Future[None] | None = loop.create_future() if loop is not None else None

    def wake(self) -> bool:
        """Wake the waiter (call under the owner's lock, after setting ``granted``). ``False`` when it cannot be
        woken any more (its event loop is closed), so the caller gives the slot to someone else."""
        if self._event is not None:
            self._event.set()
            return True
        assert self._loop is not None and self._future is not None
        try:
            self._loop.call_soon_threadsafe(_resolve, self._future)
        except RuntimeError:  # the loop is closed: nobody will ever await this future
            return False
        return True

    def wait(self, timeout: float | None) -> bool:
        """Block the calling thread until woken or ``timeout`` passes; ``True`` if woken."""
        assert self._event is not None
        return self._event.wait(timeout)

    async def await_wake(self, timeout: float | None) -> None:
        """Wait on the owning loop until woken; ``TimeoutError`` after ``timeout``, ``CancelledError`` if cancelled."""
        assert self._future is not None
        async with asyncio.timeout(timeout):
            await self._future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def waited_too_long(what: str, timeout: float | None) -> InferenceTimeoutError:
    return InferenceTimeoutError(
        f"no {what} became free within the {timeout:.3g} s left to this call (the server is saturated: lower the "
        "load or raise the deadline)"
    )
