"""A loopback HTTP server that records every request (headers included) and gives one scripted answer; and
:func:`hub_clients_answered_by`, which routes huggingface_hub's own HTTP clients to a handler function.

For what the protocol server cannot show: which headers the real client sent (was a token sent to this host?),
and answers no real server should give (an Authorization header echoed into ``x-request-id``, a reply slower than
the client's timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
from huggingface_hub import set_async_client_factory, set_client_factory
from huggingface_hub.utils._http import default_async_client_factory, default_client_factory


@contextmanager
def hub_clients_answered_by(handler: Callable[[httpx2.Request], httpx2.Response]) -> Iterator[None]:
    """Inside the block every request huggingface_hub's sync and async clients send goes to ``handler``
    (``httpx2.MockTransport``): what the real InferenceClient sends to hosts we cannot reach; the default client
    factories come back on exit."""
    set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(handler)))
    set_async_client_factory(lambda: httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    try:
        yield
    finally:
        set_client_factory(default_client_factory)
        set_async_client_factory(default_async_client_factory)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingServer:
    """``with RecordingServer(status=..., body=..., headers=..., delay=...) as server: server.url, server.requests``.

    ``headers`` values may contain ``{authorization}``, replaced by the request's Authorization header (an echo).
    ``body`` is sent as JSON; a ``bytes`` body is sent as it is (audio, an HTML page, an event stream). Either goes
    as ``content_type`` (default ``application/json`` / ``application/octet-stream``) unless ``headers`` name one.
    """

    def __init__(
        self,
        *,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        content_type: str | None = None,
    ) -> None:
        self.requests: list[Recorded] = []
        self.status = status
        self.body = [[{"label": "POSITIVE", "score": 0.9}]] if body is None else body
        self.headers = headers or {}
        self.delay = delay
        self.content_type = content_type
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                double.requests.append(
                    Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                             self.rfile.read(length))
                )  # fmt: skip
                if double.delay:
                    time.sleep(double.delay)
                raw = isinstance(double.body, bytes)  # bytes are sent as they are (audio, HTML), anything else as JSON
                payload = double.body if raw else json.dumps(double.body).encode()
                try:
                    self.send_response(double.status)
                    if "content-type" not in {name.lower() for name in double.headers}:
                        default = "application/octet-stream" if raw else "application/json"
                        self.send_header("content-type", double.content_type or default)
                    self.send_header("content-length", str(len(payload)))
                    echo = self.headers.get("authorization") or ""
                    for name, value in double.headers.items():
                        self.send_header(name, value.replace("{authorization}", echo))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to answer
                    pass

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutting the double down waits for one poll.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
