"""Test support: emulations of the Hub's model API and of the Inference Endpoints API, for code that calls them
(provider routing, ``HubBackend.from_endpoint``) to run for real against the protocol server. Not part of what
``hfbridge serve`` exposes: a test mounts it explicitly.

>>> app = create_app(backend)
>>> hub = HubEmulation.mount(app)     # then point huggingface_hub's endpoints at the server's URL

* Hub model API: ``GET /api/models/{id}`` answers the ``inferenceProviderMapping`` registered with
  ``PUT /_hfbridge/models/{id}`` (404 for other ids), enough for provider routing.
* Inference Endpoints API (``/v2/endpoint/{namespace}/{name}``...), enough for huggingface_hub's
  ``get_inference_endpoint``, ``InferenceEndpoint.fetch/wait/resume/scale_to_zero``. An emulated endpoint serves the
  server's own routes under ``/endpoints/{name}``. Register one with ``PUT /_hfbridge/endpoints/{namespace}/{name}``
  and a JSON body: ``status`` (default ``running``), ``startup_fetches`` (fetches that still report ``initializing``
  after a start or resume), ``wake_requests`` (requests a scaled-to-zero endpoint answers with a bare 503 before it
  is running again), ``task``, ``repository``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .errors import JSONBody, Refusal, error_response

__all__ = ["EmulatedEndpoint", "EndpointRegistry", "HubEmulation"]

_ENDPOINT_FIELDS = {"status", "startup_fetches", "wake_requests", "task", "repository"}


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


class HubEmulation:
    """The emulated Hub APIs mounted on a server app; ``endpoints`` and ``model_mappings`` hold their state."""

    def __init__(self) -> None:
        self.endpoints = EndpointRegistry()
        self.model_mappings: dict[str, Any] = {}

    @classmethod
    def mount(cls, app: Starlette) -> HubEmulation:
        emulation = cls()
        app.router.routes.extend(emulation.routes())
        app.state.hub_emulation = emulation
        return emulation

    def routes(self) -> list[Any]:
        return [
            Route("/api/models/{model_id:path}", self._model_api, methods=["GET"]),
            Route("/_hfbridge/models/{model_id:path}", self._model_control, methods=["PUT"]),
            Route("/v2/endpoint/{namespace}/{name}", self._endpoint_api, methods=["GET"]),
            Route("/v2/endpoint/{namespace}/{name}/{action}", self._endpoint_api, methods=["POST"]),
            Route("/_hfbridge/endpoints/{namespace}/{name}", self._endpoint_control, methods=["PUT"]),
            Route("/endpoints/{name}{rest:path}", _ASGI(self._endpoint_traffic), methods=["GET", "POST"]),
        ]

    async def _model_api(self, request: Request) -> Response:
        model = request.path_params["model_id"]
        if model not in self.model_mappings:
            return error_response(Refusal("not_found", f"Repository {model} not found"), "hf")
        return JSONBody({"id": model, "modelId": model, "inferenceProviderMapping": self.model_mappings[model]})

    async def _model_control(self, request: Request) -> Response:
        self.model_mappings[request.path_params["model_id"]] = await request.json()
        return JSONBody({"ok": True})

    async def _endpoint_api(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        action = request.path_params.get("action")
        if action == "resume":
            current = self.endpoints.fetch(namespace, name)
            if current is not None and current.status == "running":
                return error_response(Refusal("validation", f"Endpoint {name} is already running", 400), "hf")
            found = self.endpoints.resume(namespace, name)
        elif action == "scale-to-zero":
            found = self.endpoints.scale_to_zero(namespace, name)
        else:
            found = self.endpoints.fetch(namespace, name)
        if found is None:
            return error_response(Refusal("not_found", f"Endpoint {namespace}/{name} not found"), "hf")
        return JSONBody(found.raw(str(request.base_url)))

    async def _endpoint_control(self, request: Request) -> Response:
        body = await request.json()
        fields = {key: value for key, value in body.items() if key in _ENDPOINT_FIELDS}
        params = request.path_params
        self.endpoints.put(EmulatedEndpoint(name=params["name"], namespace=params["namespace"], **fields))
        return JSONBody({"ok": True})

    async def _endpoint_traffic(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Requests to an emulated endpoint: a waking endpoint answers a bare 503, a running one is served by the
        server's own routes (the path below ``/endpoints/{name}``)."""
        name = scope["path_params"]["name"]
        if scope["method"] != "GET":
            state = self.endpoints.serve_request(name)
            if state != "ok":
                refusal = (Refusal("unhealthy", "Service Unavailable", 503) if state == "waking"
                           else Refusal("not_found", "endpoint not found or not running"))  # fmt: skip
                await error_response(refusal, "hf")(scope, receive, send)
                return
        rest = scope["path_params"].get("rest") or "/"
        inner = {**scope, "path": rest, "raw_path": rest.encode(), "root_path": ""}
        await scope["app"](inner, receive, send)


class _ASGI:
    """Mark a callable as a raw ASGI app for ``Route`` (which calls plain functions as request handlers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
