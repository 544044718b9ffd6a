"""Deployment behaviour in front of the protocol server: what a real TEI, TGI or rate-limited gateway does with
load, which the protocol (hfbridge.server) does not decide. Used by the benchmarks and, scripted (its attributes
changed while it serves), by the flow-control tests.

* **Slots and a bounded queue, as TEI does.** ``slots`` requests are served at once, each taking ``latency`` seconds;
  the others wait in a queue. TEI admits at most ``max_concurrent_requests`` requests into the system (served plus
  queued) and answers any more at once with ``429 {"error": "Model is overloaded", "error_type": "Overloaded"}``
  and no ``Retry-After`` (text-embeddings-inference, router ``try_acquire_permit``).
* **A rate limit, as gateways do.** ``rate`` requests per second (the protocol server's own
  :class:`~hfbridge.server.ServerRateLimit`: a token bucket holding one token); beyond it a 429 with ``Retry-After``
  in one of three forms: ``fractional`` (seconds with decimals, the time until the next token), ``seconds`` (whole
  seconds rounded up, the HTTP spec's form: usually ``1``), or ``none``. Setting ``rate`` or ``retry_after`` while
  serving starts a new bucket.

``GET /_deployment`` returns what the deployment saw (requests, refusals, the most requests in the system and in the
queue at once); ``DELETE /_deployment`` resets it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

from hfbridge.server import RetryAfterMode, ServerRateLimit

__all__ = ["Deployment", "DeploymentStats"]


@dataclass
class DeploymentStats:
    requests: int = 0
    served: int = 0
    refused_overloaded: int = 0
    refused_rate: int = 0
    max_in_system: int = 0
    max_queued: int = 0


class Deployment:
    """ASGI middleware adding slots, a bounded queue and a rate limit to ``app``'s POST routes."""

    def __init__(
        self,
        app: Any,
        *,
        slots: int | None = None,
        latency: float = 0.0,
        max_concurrent_requests: int | None = None,
        rate: float | None = None,
        retry_after: RetryAfterMode = "fractional",
    ) -> None:
        self.app = app
        self.slots = slots
        self.latency = latency
        self.max_concurrent_requests = max_concurrent_requests
        self._rate = rate
        self._retry_after: RetryAfterMode = retry_after
        self._limit = self._bucket()
        self.stats = DeploymentStats()
        self._in_system = 0
        self._serving = 0
        self._free: asyncio.Condition | None = None  # created on the serving loop

    @property
    def rate(self) -> float | None:
        return self._rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        self._rate = value
        self._limit = self._bucket()

    @property
    def retry_after(self) -> RetryAfterMode:
        return self._retry_after

    @retry_after.setter
    def retry_after(self, value: RetryAfterMode) -> None:
        self._retry_after = value
        self._limit = self._bucket()

    def _bucket(self) -> ServerRateLimit | None:
        return None if self._rate is None else ServerRateLimit(self._rate, retry_after_mode=self._retry_after)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/_deployment":
            if scope["method"] == "DELETE":
                self.stats = DeploymentStats()
            await _json(send, 200, asdict(self.stats))
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.stats.requests += 1
        limit = self._limit
        if limit is not None:
            wait = limit.take()
            if wait > 0:
                self.stats.refused_rate += 1
                headers = [(key.lower().encode(), value.encode()) for key, value in limit.headers(wait).items()]
                await _json(send, 429, {"error": "Rate limit reached. Please retry later.", "error_type": "overloaded"},
                            headers)  # fmt: skip
                return
        if self.max_concurrent_requests is not None and self._in_system >= self.max_concurrent_requests:
            self.stats.refused_overloaded += 1
            await _json(send, 429, {"error": "Model is overloaded", "error_type": "Overloaded"})
            return
        self._in_system += 1
        self.stats.max_in_system = max(self.stats.max_in_system, self._in_system)
        try:
            if self.slots is None:
                await self._serve(scope, receive, send)
                return
            if self._free is None:
                self._free = asyncio.Condition()
            self.stats.max_queued = max(self.stats.max_queued, self._in_system - self.slots)
            async with self._free:  # a condition rather than a semaphore: ``slots`` may be changed while serving
                await self._free.wait_for(lambda: self.slots is None or self._serving < self.slots)
                self._serving += 1
            try:
                await self._serve(scope, receive, send)
            finally:
                async with self._free:
                    self._serving -= 1
                    self._free.notify_all()
        finally:
            self._in_system -= 1

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        async def counted(message: dict[str, Any]) -> None:
            # Counted before the response leaves: a client that reads the stats right after its last answer
            # must see that answer counted (counting after ``app`` returned raced the client).
            if message["type"] == "http.response.start":
                self.stats.served += 1
            await send(message)

        await self.app(scope, receive, counted)


async def _json(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})
