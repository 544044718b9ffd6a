"""A client that sends its request headers too slowly, or connects and says nothing, is dropped (uvicorn alone keeps
such a connection open for ever). The socket timeouts below only bound a broken run: what is asserted is what the
server sent and that it closed the connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hfbridge.server import ServerLimits, ServerThread, create_app

from ._doubles import EchoBackend

WAIT = 30.0  # far beyond the server's 0.3 s: reached only if the server never drops the connection


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(create_app(EchoBackend(), limits=ServerLimits(header_timeout=0.3))) as running:
        yield running


def _connect(server: ServerThread) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_headers_that_never_finish_get_408_and_the_connection_closes(server: ServerThread) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert answer.endswith(b'{"error":"the request headers did not arrive in time"}')


def test_a_silent_connection_is_closed(server: ServerThread) -> None:
    with _connect(server) as sock:
        assert _read_until_closed(sock) == b""


def test_a_kept_alive_connection_serves_and_then_times_out_the_next_headers(server: ServerThread) -> None:
    body = b'{"inputs": "hello"}'
    request = (b"POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
    with _connect(server) as sock:
        sock.sendall(request)
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"]]"):
            chunk = sock.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200 "), first
        sock.sendall(b"POST /embed HTTP/1.1\r\n")  # the next request's headers stall
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_header_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="header_timeout"):
        ServerLimits(header_timeout=0)
