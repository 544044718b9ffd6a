"""Run code that names Hub models, Inference Providers or Endpoints against the protocol server on loopback.

``hub_on_loopback(server)`` installs, through huggingface_hub's public ``set_client_factory`` /
``set_async_client_factory``, httpx2 clients whose transport sends every request to ``server`` instead of its host,
path and query unchanged except for the router's provider prefix. So the code runs unedited, on the real
``InferenceClient``, ``HfApi`` and endpoints client, and the protocol server answers as the Hub would:

==========================================================  ===========================================
what the client calls                                       what the server answers it with
==========================================================  ===========================================
``https://router.huggingface.co/v1/chat/completions``       chat (``provider="auto"``: the auto-router)
``https://router.huggingface.co/<provider>/<route>``         ``/<route>``: chat, or ``/models/<id>[/pipeline/<task>]``
                                                            for ``hf-inference``
``https://huggingface.co/api/models/<id>``                  the provider mapping registered for ``<id>``
``https://api.endpoints.huggingface.cloud/v2/endpoint/...`` the emulated Inference Endpoints API
any other URL (an Endpoint, a TGI / TEI ``base_url``)       the same path on the server
==========================================================  ===========================================

The ``Host`` header keeps the name the client meant, so URLs the server builds (an endpoint's URL) point back at
that name and come through here again. What each request was meant for is recorded in ``LoopbackTransport.seen``.
huggingface_hub's default factories are restored on exit, and the client's cached provider mappings cleared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from huggingface_hub import set_async_client_factory, set_client_factory
from huggingface_hub.utils import _http

ROUTER_HOST = "router.huggingface.co"


def _providers() -> set[str]:
    from huggingface_hub.inference._providers import PROVIDERS

    return set(PROVIDERS)


def loopback_url(url: httpx2.URL, server: httpx2.URL) -> httpx2.URL:
    """``url`` on ``server``: same path and query; the router's ``/<provider>`` prefix dropped."""
    path = url.path
    if url.host == ROUTER_HOST:
        first, _, rest = path.lstrip("/").partition("/")
        if first in _providers():
            path = "/" + rest
    return url.copy_with(scheme=server.scheme, host=server.host, port=server.port, path=path)


class _Recorder:
    def __init__(self, server: str) -> None:
        self.server = httpx2.URL(server)
        self.seen: list[str] = []

    def redirect(self, request: httpx2.Request) -> None:
        self.seen.append(f"{request.method} {request.url}")
        request.url = loopback_url(request.url, self.server)


class LoopbackTransport(httpx2.BaseTransport):
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder
        self.inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.recorder.redirect(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncLoopbackTransport(httpx2.AsyncBaseTransport):
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.recorder.redirect(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _clear_client_caches() -> None:
    from huggingface_hub.inference._providers import _common, hf_inference

    _common._fetch_inference_provider_mapping.cache_clear()
    for cached in ("_fetch_recommended_models", "_check_supported_task"):
        function: Any = getattr(hf_inference, cached, None)
        if function is not None and hasattr(function, "cache_clear"):
            function.cache_clear()


@contextmanager
def hub_on_loopback(server: str) -> Iterator[list[str]]:
    """Send all of huggingface_hub's HTTP to ``server`` while inside; yields the list of URLs requested."""
    recorder = _Recorder(server)
    # As huggingface_hub's default factories, with our transport.
    sync_hooks: dict[str, list[Any]] = {"request": [_http.hf_request_event_hook]}
    async_hooks: dict[str, list[Any]] = {
        "request": [_http.async_hf_request_event_hook],
        "response": [_http.async_hf_response_event_hook],
    }
    set_client_factory(
        lambda: httpx2.Client(
            transport=LoopbackTransport(recorder), event_hooks=sync_hooks, follow_redirects=True, timeout=None
        )
    )
    set_async_client_factory(
        lambda: httpx2.AsyncClient(
            transport=AsyncLoopbackTransport(recorder), event_hooks=async_hooks, follow_redirects=True, timeout=None
        )
    )
    _clear_client_caches()
    try:
        yield recorder.seen
    finally:
        set_client_factory(_http.default_client_factory)
        set_async_client_factory(_http.default_async_client_factory)
        _clear_client_caches()
