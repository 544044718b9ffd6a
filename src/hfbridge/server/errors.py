"""Errors in the shape each real server sends, so a client maps ours exactly as it maps theirs.

A handler raises :class:`Refusal` (or lets a backend error escape); the route renders it in its *dialect*:

* ``tgi`` — text-generation-inference: ``{"error": msg, "error_type": "validation" | "generation" | "overloaded" |
  "incomplete_generation"}``. huggingface_hub's ``text_generation`` turns these into its typed ``TextGenerationError``
  subclasses, as it does for a real TGI.
* ``tei`` — text-embeddings-inference: ``{"error": msg, "error_type": "Validation" | "Empty" | "Overloaded" |
  "Backend" | "Tokenizer" | "Unhealthy"}`` (capitalised: TEI serialises its enum's variant names).
* ``hf`` — the hf-inference API (``/models/{id}``): ``{"error": msg}`` and nothing else, plus ``estimated_time`` on a
  503 while the model loads; huggingface_hub raises a plain ``HfHubHTTPError`` for these.
* ``openai`` — OpenAI-compatible routes (``/v1/...``): ``{"error": {"message", "type", "param", "code"}}``, which the
  ``openai`` SDK reads into its ``APIStatusError`` (message, type, code).

A model that is loading answers in the hf-inference shape on every non-OpenAI route: that answer comes from the
Hugging Face front door, whatever container is behind it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from starlette.responses import Response

from .. import errors

logger = logging.getLogger("hfbridge.server")

Dialect = Literal["tgi", "tei", "hf", "openai"]
#: What went wrong, independent of how a dialect spells it.
Kind = Literal[
    "validation", "empty", "too_large", "not_found", "unsupported", "overloaded", "loading", "generation",
    "incomplete", "backend", "unhealthy", "timeout", "unavailable", "internal", "media_type", "request_timeout",
    "forbidden",
]  # fmt: skip

__all__ = ["Dialect", "Kind", "Refusal", "error_response", "refusal_from", "JSONBody"]

_STATUS: dict[str, int] = {
    "validation": 422, "empty": 400, "too_large": 413, "not_found": 404, "unsupported": 501, "overloaded": 429,
    "loading": 503, "generation": 424, "incomplete": 500, "backend": 424, "unhealthy": 503, "timeout": 504,
    "unavailable": 502, "internal": 500, "media_type": 415, "request_timeout": 408, "forbidden": 403,
}  # fmt: skip
_TGI_TYPES = {
    "validation": "validation", "empty": "validation", "too_large": "validation", "overloaded": "overloaded",
    "generation": "generation", "backend": "generation", "incomplete": "incomplete_generation",
}  # fmt: skip
_TEI_TYPES = {
    "validation": "Validation", "empty": "Empty", "too_large": "Validation", "not_found": "Validation",
    "unsupported": "Validation", "overloaded": "Overloaded", "generation": "Backend", "backend": "Backend",
    "incomplete": "Backend", "unhealthy": "Unhealthy", "loading": "Unhealthy", "timeout": "Backend",
    "unavailable": "Backend", "internal": "Backend", "media_type": "Validation", "request_timeout": "Validation",
    "forbidden": "Validation",
}  # fmt: skip
_OPENAI_TYPES = {
    "validation": ("invalid_request_error", None), "empty": ("invalid_request_error", None),
    "too_large": ("invalid_request_error", "request_too_large"), "not_found": ("invalid_request_error", "not_found"),
    "unsupported": ("invalid_request_error", "unsupported"), "overloaded": ("rate_limit_error", "rate_limit_exceeded"),
    "loading": ("service_unavailable", "model_loading"),
    "media_type": ("invalid_request_error", "unsupported_media_type"),
    "request_timeout": ("invalid_request_error", "request_timeout"),
    "forbidden": ("invalid_request_error", "forbidden"),
}  # fmt: skip


class JSONBody(Response):
    """JSON rendered with orjson: embedding responses are megabytes of floats."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass
class Refusal(Exception):
    """A request the server answers with an error. ``status`` defaults to the usual one for ``kind``."""

    kind: Kind
    message: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Only for ``kind="loading"``: seconds until the model is expected to be ready.
    estimated_time: float | None = None
    #: OpenAI's ``param``: the request field at fault, when known.
    param: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return self.status or _STATUS[self.kind]


def error_response(refusal: Refusal, dialect: Dialect) -> Response:
    status = refusal.http_status
    body: dict[str, Any]
    if dialect == "openai":
        error_type, code = _OPENAI_TYPES.get(refusal.kind, ("server_error", None))
        body = {"error": {"message": refusal.message, "type": error_type, "param": refusal.param, "code": code}}
    elif refusal.kind == "loading":
        body = {"error": refusal.message}
        if refusal.estimated_time is not None:
            body["estimated_time"] = refusal.estimated_time
    elif dialect == "tgi" and refusal.kind in _TGI_TYPES:
        body = {"error": refusal.message, "error_type": _TGI_TYPES[refusal.kind]}
    elif dialect == "tei":
        body = {"error": refusal.message, "error_type": _TEI_TYPES[refusal.kind]}
    else:
        body = {"error": refusal.message}
    return JSONBody(body, status_code=status, headers=refusal.headers or None)


def refusal_from(exc: BaseException) -> Refusal:
    """The refusal a backend error (or any other failure inside a handler) becomes."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, errors.InvalidInputError | errors.ConfigurationError):
        return Refusal("validation", str(exc))
    if isinstance(exc, errors.UnsupportedTaskError):
        return Refusal("unsupported", str(exc))
    if isinstance(exc, errors.APIError):
        return _from_upstream(exc)
    if isinstance(exc, errors.InferenceTimeoutError):
        return Refusal("timeout", str(exc))
    if isinstance(exc, errors.BackendUnavailableError):
        return Refusal("unavailable", str(exc))
    logger.error("hfbridge server: unexpected error", exc_info=exc)
    return Refusal("internal", f"internal error: {type(exc).__name__}")


def _from_upstream(exc: errors.APIError) -> Refusal:
    """A backend that is itself a client (HubBackend) failed: pass the upstream status on."""
    message = exc.server_message or exc.message
    status = exc.status_code or 502
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if isinstance(exc, errors.ModelLoadingError):
        return Refusal("loading", message, status, headers, estimated_time=exc.estimated_time)
    if isinstance(exc, errors.GenerationError):
        return Refusal("generation", message, exc.status_code or 424, headers)
    kinds: dict[int, Kind] = {429: "overloaded", 404: "not_found", 413: "too_large"}
    kind: Kind = kinds.get(status, "validation" if 400 <= status < 500 else "backend")
    return Refusal(kind, message, status, headers)
