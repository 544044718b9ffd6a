"""Run the protocol server in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Any

import uvicorn

from .limits import ServerLimits
from .protocol import http_protocol

__all__ = ["ServerThread", "free_port", "uvicorn_config", "wait_until_healthy"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``{url}/health`` until it answers 200; fail early if ``process`` (the server) exits."""
    import httpx2

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with code {process.returncode} before it was healthy")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} was not healthy within {timeout:.0f} s")
        time.sleep(0.1)


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app``, with the header-read timeout of the app's limits (``protocol.py``)."""
    context = getattr(getattr(app, "state", None), "context", None)
    header_timeout = context.limits.header_timeout if context is not None else ServerLimits().header_timeout
    return uvicorn.Config(app, http=http_protocol(header_timeout), **options)


class ServerThread:
    """``with ServerThread(app, port=8765) as server: server.url`` — uvicorn on loopback, stopped on exit."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int | None = None, log_level: str = "warning"):
        self.host = host
        self.port = port or free_port()
        config = uvicorn_config(app, host=host, port=self.port, log_level=log_level, lifespan="off",
                                timeout_graceful_shutdown=2)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"hfbridge-server-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the hfbridge server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
