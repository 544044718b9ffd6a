"""An ASGI app that serves any backend over the routes real Hugging Face deployments use.

Routes (``routes.py`` lists them; ``GET /openapi.json`` documents them):

* TGI (``tgi.py``): ``POST /generate``, ``POST /generate_stream`` (``data:{json}`` events, no ``[DONE]``),
  ``GET /info``, ``GET /health``; text generation on ``POST /`` answers list-wrapped, as TGI does.
* TEI (``tei.py``): ``POST /embed``, ``/predict``, ``/rerank``, ``/similarity``.
* OpenAI-compatible (``openai.py``): ``POST /v1/chat/completions`` (also ``/models/{id}/v1/chat/completions``),
  ``POST /v1/completions``, ``POST /v1/embeddings``, ``GET /v1/models``; streams end with ``data: [DONE]``.
* hf-inference (``hf_inference.py``): ``POST /models/{id}`` runs that model's task, ``/models/{id}/pipeline/{task}``
  one of its tasks; ``POST /`` the served model's task (``tasks.py`` says how a task is chosen).
* Control: ``GET|PUT|DELETE /_hfbridge/faults`` reads, sets or clears the :class:`FaultPlan` (``control.py``).

Each route answers errors in its real server's shape (``errors.py``). Requests are bounded (``limits.py``), checked
for a loopback ``Host`` / ``Origin`` (``guard.py``), and a generation stops when its client goes away, streamed or
not (``pipeline.py`` cancels the handler; the local model generates even a non-streamed answer as a stoppable stream).
The Hub and Inference Endpoints API emulations used by tests live in ``hub_emulation.py`` and are not mounted here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .. import errors
from ..backends.base import Backend
from . import openai, tgi
from .context import ServerContext
from .control import faults_endpoint
from .errors import JSONBody, Refusal, error_response
from .faults import FaultPlan
from .guard import LOOPBACK_HOSTS, HostGuard
from .limits import ServerLimits
from .openapi import openapi_document
from .pipeline import task_endpoint
from .ratelimit import ServerRateLimit
from .routes import ALIASES, TASK_ROUTES
from .tasks import ModelTable

__all__ = ["create_app"]


def create_app(
    backend: Backend,
    *,
    task: str | None = None,
    model_tasks: Iterable[tuple[str, str]] = (),
    model_id: str | None = None,
    fault_plan: FaultPlan | None = None,
    rate_limit: ServerRateLimit | None = None,
    limits: ServerLimits | None = None,
    latency: float = 0.0,
    max_concurrency: int | None = None,
    max_batch_size: int | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
) -> Starlette:
    """Serve ``backend`` over the TGI, TEI, OpenAI-compatible and hf-inference routes.

    ``task`` is the served model's task (what ``POST /`` runs when the body does not say; without it such a body
    is refused, naming the routes to use); ``model_tasks`` adds ``(model_id, task)`` pairs served under
    ``/models/{model_id}`` (a ``LocalBackend`` brings its own). ``model_id`` names the served model (default: the
    backend's). ``limits`` bound what one request may ask; ``max_batch_size`` and ``max_concurrency`` set its
    ``max_client_batch_size`` and ``max_concurrent_requests``. ``latency`` seconds are added to each task request (a
    real server's model time, for benchmarks). ``rate_limit`` refuses requests beyond it with 429. Requests whose
    ``Host`` or ``Origin`` is not in ``allowed_hosts`` are refused (``("*",)`` allows any).
    ``app.state.context`` holds it all; ``context.faults`` is the fault plan in force.
    """
    limits = limits or ServerLimits()
    overrides: dict[str, Any] = {}
    if max_batch_size is not None:
        overrides["max_client_batch_size"] = max_batch_size
    if max_concurrency is not None:
        overrides["max_concurrent_requests"] = max_concurrency
    if overrides:
        limits = ServerLimits(**{**limits.__dict__, **overrides})
    backend_models = getattr(backend, "models", None)
    backend_models = backend_models if isinstance(backend_models, dict) else None
    try:
        table = ModelTable.build(model_id or backend.model_id, task=task, model_tasks=model_tasks,
                                 backend_models=backend_models)  # fmt: skip
    except ValueError as exc:  # an unknown task name: the caller's configuration
        raise errors.ConfigurationError(str(exc)) from None
    capacity = asyncio.Semaphore(limits.max_concurrent_requests) if limits.max_concurrent_requests else None
    ctx = ServerContext(backend, table, limits, fault_plan, rate_limit, latency, capacity)
    _quiet_injected_drops()

    routes: list[BaseRoute] = [
        Route(route.path, task_endpoint(ctx, route.handler, route.dialect, binary=route.binary), methods=["POST"])
        for route in TASK_ROUTES
    ]
    by_path = {route.path: route for route in TASK_ROUTES}
    routes += [Route(alias, task_endpoint(ctx, by_path[target].handler, "openai"), methods=["POST"])
               for alias, target in ALIASES.items()]  # fmt: skip
    document = openapi_document(ctx)

    async def info(request: Request) -> Response:
        return tgi.info(ctx)

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def models(request: Request) -> Response:
        return openai.list_models(ctx)

    async def openapi(request: Request) -> Response:
        return JSONBody(document)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(Refusal("not_found", f"no route {request.method} {request.url.path}"), "hf")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(Refusal("validation", f"{request.method} is not allowed on {request.url.path}", 405),
                              "hf")  # fmt: skip

    routes += [
        Route("/info", info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/_hfbridge/faults", faults_endpoint(ctx), methods=["GET", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(HostGuard, allowed_hosts=allowed_hosts)],
                    exception_handlers={404: not_found, 405: not_allowed})  # fmt: skip
    app.state.context = ctx
    app.state.backend = backend
    return app


class _QuietDrops(logging.Filter):
    """Injected drops are not server errors: keep uvicorn from logging a traceback for each one."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, ConnectionAbortedError) and "fault injection" in str(error))


_quiet_drops = _QuietDrops()


def _quiet_injected_drops() -> None:
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _quiet_drops not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_quiet_drops)
