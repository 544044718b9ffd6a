"""What one client may ask of the server: the limits real TGI / TEI deployments enforce, with their statuses."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """Defaults are TEI's and TGI's own.

    ``max_body_bytes`` (413, TEI's ``--payload-limit``), ``max_client_batch_size`` texts per request (413 on TEI
    routes, 422 on ``/v1/completions`` as TGI), ``max_total_tokens`` for ``max_new_tokens`` / ``max_tokens``
    (422, as TGI checks ``max_new_tokens`` against it), ``max_stop_sequences`` (422), ``max_labels`` candidate labels
    of a zero-shot request (422), ``max_concurrent_requests`` processed at once (others queue, like a server's
    workers), ``body_timeout`` seconds to receive a request body (408), ``header_timeout`` seconds to receive a
    request's line and headers (hyper's default, which TGI and TEI serve through; the connection is dropped, with a
    408 if part of them came; applied by the uvicorn protocol that ``ServerThread`` and ``hfbridge serve`` run, see
    ``protocol.py``).
    """

    max_body_bytes: int = 2_000_000
    max_client_batch_size: int = 32
    max_total_tokens: int = 4096
    max_stop_sequences: int = 4
    max_labels: int = 64
    max_concurrent_requests: int | None = None
    body_timeout: float = 30.0
    header_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_client_batch_size", "max_total_tokens", "max_stop_sequences", "max_labels"):
            if getattr(self, name) < 1:
                raise ValueError(f"ServerLimits.{name} must be at least 1")
        if self.max_concurrent_requests is not None and self.max_concurrent_requests < 1:
            raise ValueError("ServerLimits.max_concurrent_requests must be at least 1")
        if not self.body_timeout > 0 or not self.header_timeout > 0:
            raise ValueError("ServerLimits.body_timeout and header_timeout must be positive")
