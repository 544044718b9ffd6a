"""An emulation of the Inference Endpoints API (``/v2/endpoint/{namespace}/{name}``...), enough for
huggingface_hub's ``get_inference_endpoint``, ``InferenceEndpoint.fetch/wait/resume/scale_to_zero`` to run for real
against the protocol server. An emulated endpoint serves the server's backend under ``/endpoints/{name}``.

Register one with ``PUT /_hfbridge/endpoints/{namespace}/{name}`` and a JSON body: ``status`` (default ``running``),
``startup_fetches`` (fetches that still report ``initializing`` after a start or resume), ``wake_requests``
(requests a scaled-to-zero endpoint answers with a bare 503 before it is running again), ``task``, ``repository``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class EmulatedEndpoint:
    name: str
    namespace: str
    status: str = "running"
    startup_fetches: int = 0
    wake_requests: int = 0
    task: str = "feature-extraction"
    repository: str = "sentence-transformers/all-MiniLM-L6-v2"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat().replace("+00:00", "Z"))

    def raw(self, base_url: str) -> dict[str, Any]:
        """The JSON shape of the Inference Endpoints API (what ``InferenceEndpoint.from_raw`` reads)."""
        running = self.status in ("running", "scaledToZero")
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return {
            "name": self.name,
            "type": "protected",
            "accountId": None,
            "provider": {"vendor": "aws", "region": "us-east-1"},
            "compute": {
                "accelerator": "cpu",
                "instanceType": "intel-icl",
                "instanceSize": "x2",
                "scaling": {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15},
            },
            "model": {
                "repository": self.repository,
                "revision": "main",
                "task": self.task,
                "framework": "pytorch",
                "image": {"huggingface": {}},
            },
            "status": {
                "createdAt": self.created,
                "updatedAt": now,
                "state": self.status,
                "message": f"Endpoint is {self.status}",
                "url": f"{base_url.rstrip('/')}/endpoints/{self.name}" if running else None,
            },
            "healthRoute": "/health",
        }


class EndpointRegistry:
    """Emulated endpoints and their state machines; thread-safe."""

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], EmulatedEndpoint] = {}
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], int] = {}

    def put(self, endpoint: EmulatedEndpoint) -> None:
        with self._lock:
            self._endpoints[(endpoint.namespace, endpoint.name)] = endpoint
            self._pending[(endpoint.namespace, endpoint.name)] = endpoint.startup_fetches

    def fetch(self, namespace: str, name: str) -> EmulatedEndpoint | None:
        """Read an endpoint; each read moves a starting endpoint one step towards running."""
        with self._lock:
            endpoint = self._endpoints.get((namespace, name))
            if endpoint is not None and endpoint.status in ("pending", "initializing"):
                left = self._pending.get((namespace, name), 0)
                if left <= 0:
                    endpoint.status = "running"
                self._pending[(namespace, name)] = left - 1
            return endpoint

    def resume(self, namespace: str, name: str) -> EmulatedEndpoint | None:
        with self._lock:
            endpoint = self._endpoints.get((namespace, name))
            if endpoint is not None:
                endpoint.status = "initializing"
                self._pending[(namespace, name)] = endpoint.startup_fetches
            return endpoint

    def scale_to_zero(self, namespace: str, name: str) -> EmulatedEndpoint | None:
        with self._lock:
            endpoint = self._endpoints.get((namespace, name))
            if endpoint is not None:
                endpoint.status = "scaledToZero"
            return endpoint

    def serve_request(self, name: str) -> str:
        """``ok``, ``waking`` (answer 503 now) or ``unavailable`` for a task request to endpoint ``name``."""
        with self._lock:
            endpoint = next((e for e in self._endpoints.values() if e.name == name), None)
            if endpoint is None:
                return "unavailable"
            if endpoint.status == "scaledToZero":
                if endpoint.wake_requests > 0:
                    endpoint.wake_requests -= 1
                    return "waking"
                endpoint.status = "running"
            return "ok" if endpoint.status == "running" else "unavailable"
