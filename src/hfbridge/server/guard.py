"""Loopback safety: a server on 127.0.0.1 is still reachable from any web page the operator opens. A page can make
the browser send requests to it (CSRF) or rebind its own host name to 127.0.0.1 (DNS rebinding), and spend the
operator's Hugging Face credits when the server fronts a Hub model. So:

* the ``Host`` header must name an allowed host (the loopback names, plus what the server was bound to): a rebound
  name is refused with 400;
* a request carrying an ``Origin`` (browsers add it to cross-site requests) must come from an allowed host: 403;
* JSON routes take only ``Content-Type: application/json`` (``pipeline.read_body``, 415), which browsers cannot
  send cross-site without a preflight, and preflights (``OPTIONS``) are refused here. The hf-inference routes also
  take a file body (an image or audio type, or none, as ``InferenceClient`` sends raw bytes): a body without a
  content type needs no preflight, but a browser sends it cross-site only with an ``Origin``, refused above.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import Refusal, error_response

__all__ = ["LOOPBACK_HOSTS", "HostGuard"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _hostname(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostGuard:
    """ASGI middleware refusing foreign ``Host`` and ``Origin`` headers. ``allowed_hosts`` of ``("*",)`` turns the
    check off (a server bound to a public interface on purpose)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> None:
        self.app = app
        hosts = {_hostname(host) for host in allowed_hosts}
        self.any_host = "*" in hosts
        self.allowed = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any_host:
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = None
        host = headers.get("host")
        origin = headers.get("origin")
        if host is None or _hostname(host) not in self.allowed:
            allowed = ", ".join(sorted(self.allowed))
            refusal = Refusal("validation", f"Host {host!r} is not served here (allowed: {allowed})", 400)
        elif origin is not None and origin != "null" and _hostname(urlsplit(origin).netloc) not in self.allowed:
            refusal = Refusal("forbidden", f"cross-origin requests from {origin} are not allowed")
        elif origin == "null" or scope["method"] == "OPTIONS":
            refusal = Refusal("forbidden", "cross-origin requests are not allowed")
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await error_response(refusal, "hf")(scope, receive, send)
