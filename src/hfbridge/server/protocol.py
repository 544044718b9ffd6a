"""uvicorn's HTTP/1.1 protocol with a header-read timeout, which uvicorn does not have: a client that opens a
connection and sends its request line and headers slower than ``header_timeout`` seconds (a slowloris, or a
client that connected and went silent) is dropped, as hyper (the HTTP server under TGI and TEI,
``header_read_timeout``, 30 s by default), nginx's ``client_header_timeout`` and Go's ``ReadHeaderTimeout`` drop
it. The body has its own bound (``ServerLimits.body_timeout``, 408, in the app).

The clock starts when the connection opens and again when a response ends on a kept-alive connection (as hyper does
since hyperium/hyper#3828; uvicorn's keep-alive timeout only bounds the silence before the next request's first
byte); it stops once the headers are in.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["http_protocol"]

_BODY = b'{"error":"the request headers did not arrive in time"}'
_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(_BODY), _BODY))  # fmt: skip


def http_protocol(header_timeout: float) -> type[H11Protocol]:
    """An ``H11Protocol`` class (uvicorn's ``Config(http=...)``) that drops a connection whose request headers
    take longer than ``header_timeout`` seconds."""

    class HeaderTimeoutH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None
            self._partial = False  # bytes of the awaited request arrived (a 408 then says why; silence just closes)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._partial = True
            if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # a kept-alive connection: the next request's headers are due

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._partial = False
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self._partial:
                self.logger.info("dropped a connection whose request headers took over %g s", header_timeout)
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    return HeaderTimeoutH11Protocol
