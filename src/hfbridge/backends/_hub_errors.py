"""Translate what huggingface_hub and httpx2 raise into the hfbridge error hierarchy, through one type table.

As httpx's ``map_exceptions``: the first row whose type the exception is an instance of decides (so subclasses
come before their bases). HTTP errors go on to one status table. Nothing here reads a message to decide.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx2
from huggingface_hub.errors import GenerationError as HubGenerationError
from huggingface_hub.errors import (
    HfHubHTTPError,
    IncompleteGenerationError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)
from huggingface_hub.errors import InferenceTimeoutError as HubTimeoutError
from pydantic import SecretStr

from .. import errors
from .._secrets import redact
from . import _wire

_HINTS = {
    401: "the token is missing or invalid: set HF_TOKEN or pass token=",
    402: "the account's Inference Providers credits are used up; this is never retried (add credits or bill_to=)",
    403: "the token has no permission for this model or provider (check its scopes, gated-model access)",
    404: "no such model, endpoint or route (check the model id, base_url and provider)",
    413: "the request body is too large: send fewer texts per request (lower batch_size)",
    501: "the server does not implement this task",
}

#: Statuses that are never transient, by the error they become (the rest: 429, 503, 408/425/5xx below).
_STATUS: dict[int, type[errors.HFBridgeError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    402: errors.QuotaExceededError,
    403: errors.AuthenticationError,
    404: errors.NotFoundError,
    413: errors.PayloadTooLargeError,
    422: errors.BadRequestError,
    424: errors.GenerationError,
    501: errors.UnsupportedTaskError,
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan" and "inf" parse as floats but are no wait
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _body(response: httpx2.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except Exception:
        return {}
    return payload if isinstance(payload, dict) else {}


def from_response(
    response: httpx2.Response, message: str | None, token: SecretStr | None, wakes_on_503: bool = False
) -> errors.HFBridgeError:
    status = response.status_code
    body = _body(response)
    server_message = body.get("error") if isinstance(body.get("error"), str) else message
    request_id = response.headers.get("x-request-id") or response.headers.get("x-amzn-trace-id")
    request_id = redact(request_id, token) if request_id else None  # a server may echo the Authorization header
    url = redact(str(response.request.url), token) if response.request is not None else None
    detail = redact(server_message or response.reason_phrase or "", token)
    hint = _HINTS.get(status)
    text = (
        f"HTTP {status}: {detail}"
        + (f" — {hint}" if hint else "")
        + (f" [request id {request_id}]" if request_id else "")
    )
    common: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id,
        "server_message": redact(server_message, token) if server_message else None,
        "url": url,
    }
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return errors.RateLimitedError(text, retry_after=retry_after, **common)
    # A scaled-to-zero Inference Endpoint answers a bare 503 while it starts: that is loading, not an outage. A
    # model loading on hf-inference says so in its body ("estimated_time").
    if status == 503 and (wakes_on_503 or "estimated_time" in body):
        # The error keeps estimated_time only if it is a usable number of seconds (not "soon", NaN or negative).
        return errors.ModelLoadingError(
            text, estimated_time=body.get("estimated_time"), retry_after=retry_after, **common
        )
    error_class = _STATUS.get(status)
    if error_class is errors.UnsupportedTaskError:
        return errors.UnsupportedTaskError(text)
    if error_class is None and (status in (408, 425) or status >= 500):
        return errors.ServerError(text, retry_after=retry_after, **common)
    return (error_class or errors.APIError)(text, **common)  # type: ignore[call-arg]


Mapper = Callable[[Any, SecretStr | None, bool], errors.HFBridgeError]


def _http(exc: HfHubHTTPError, token: SecretStr | None, wakes: bool) -> errors.HFBridgeError:
    if exc.response is None:
        return errors.BackendUnavailableError(f"no answer: {redact(str(exc), token)}")
    return from_response(exc.response, getattr(exc, "server_message", None), token, wakes)


def _generation(kind: Callable[[str], errors.HFBridgeError]) -> Mapper:
    """An error raised for a TGI ``error_type``: from an HTTP answer (its cause has the response) or an error event
    inside a 200 stream."""

    def mapper(exc: TextGenerationError, token: SecretStr | None, wakes: bool) -> errors.HFBridgeError:
        cause = exc.__cause__
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            return from_response(cause.response, str(exc), token, wakes)
        return kind(redact(str(exc), token))

    return mapper


def _timeout(exc: Exception, token: SecretStr | None, wakes: bool) -> errors.HFBridgeError:
    # Timing out while connecting (or waiting for a pooled connection) means nothing was sent.
    unsent = isinstance(exc.__cause__ or exc, (httpx2.ConnectTimeout, httpx2.PoolTimeout))
    return errors.InferenceTimeoutError(
        f"no answer within the timeout: {redact(str(exc), token)}", request_sent=not unsent
    )


def _unexpected(exc: Exception, token: SecretStr | None, wakes: bool) -> errors.HFBridgeError:
    return errors.APIError(f"unexpected response from the server: {redact(repr(exc), token)}")


def _client_side(exc: Exception, token: SecretStr | None, wakes: bool) -> errors.HFBridgeError:
    if isinstance(exc, IndexError):  # (answers the client failed to read are caught before the table: translate)
        return _unexpected(exc, token, wakes)
    if isinstance(exc, (ConnectionError, TimeoutError)):  # a socket error outside httpx2's own types
        return errors.BackendUnavailableError(f"connection failed ({type(exc).__name__}): {redact(str(exc), token)}")
    if isinstance(exc, OSError):  # a local file the client could not open (it vanished after validation)
        return errors.InvalidInputError(redact(str(exc), token))
    return errors.UnsupportedTaskError(redact(str(exc), token))


#: The one type table: (what the client raised, how it becomes an hfbridge error); the first match wins.
TABLE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Mapper], ...] = (
    (errors.HFBridgeError, lambda exc, token, wakes: exc),
    ((HubTimeoutError, httpx2.TimeoutException), _timeout),
    (HfHubHTTPError, _http),
    (OverloadedError, _generation(lambda message: errors.ServerError(f"server overloaded: {message}"))),
    (ValidationError, _generation(lambda message: errors.BadRequestError(f"invalid request: {message}",
                                                                         status_code=422))),
    ((HubGenerationError, IncompleteGenerationError),
     _generation(lambda message: errors.GenerationError(f"generation failed: {message}", status_code=424))),
    (TextGenerationError,
     _generation(lambda message: errors.ServerError(f"server error during generation: {message}"))),
    ((httpx2.TransportError, httpx2.StreamError),
     lambda exc, token, wakes: errors.BackendUnavailableError(
         f"connection failed ({type(exc).__name__}): {redact(str(exc), token) or 'connection closed'}")),
    # A body that is not the JSON the client expected: before ValueError, of which it is a subclass.
    (json.JSONDecodeError, _unexpected),
    # The client raises ValueError while building a request the target cannot serve (provider without the task,
    # model not served by the provider, task not available on a URL): the call never left the machine. The same
    # type raised while it read an answer (a JSON object where a list was due, bad base64) is a malformed answer,
    # as are Pillow's errors for a body that is no image (OSError).
    ((ValueError, OSError, IndexError), _client_side),
    # The client reading an answer of the wrong shape (``[]`` where it takes the first item): _client_side.
    ((KeyError, TypeError), _unexpected),
)  # fmt: skip


#: What keeps its own meaning wherever it is raised (a polling provider's HTTP error inside ``get_response``...).
_TYPED = (errors.HFBridgeError, HfHubHTTPError, TextGenerationError, HubTimeoutError, httpx2.HTTPError)


def translate(exc: BaseException, token: SecretStr | None, wakes_on_503: bool = False) -> errors.HFBridgeError:
    """Map one exception from the client onto the typed hierarchy. Messages never contain the token."""
    if not isinstance(exc, _TYPED) and isinstance(exc, Exception) and _wire.raised_reading_answer(exc):
        # Raised while the client read a 2xx body (HTML where JSON or an image was due): a malformed answer, not
        # a request the target cannot serve (the ValueError row below) nor an unknown crash.
        message = _wire.answer_error_message(exc)
        if message is not None:  # a 200 whose body is {"error": ...}
            message = redact(message, token)
            return errors.APIError(f"the server answered 2xx with an error: {message}", server_message=message)
        if _wire.not_an_image(exc):
            return errors.APIError(
                f"unexpected response from the server: the answer is not an image ({type(exc).__name__})"
            )
        return _unexpected(exc, token, wakes_on_503)
    for types, mapper in TABLE:
        if isinstance(exc, types):
            return mapper(exc, token, wakes_on_503)
    raise exc
