"""The hfbridge exception hierarchy.

A call that fails raises one of these, whichever backend produced it::

    HFBridgeError
    ├── ConfigurationError            bad settings (unknown provider, timeout=nan, ...)  (also a ValueError)
    ├── InvalidInputError             rejected locally, before anything was sent  (also a ValueError)
    ├── UnsupportedTaskError          the backend / provider cannot run this task
    ├── OutputTruncatedError          a tool call or structured output cut by max_tokens  (also a ValueError)
    ├── APIError                      the server answered with an error status
    │   ├── BadRequestError           400, 422          never retried
    │   │   └── PayloadTooLargeError  413               never retried
    │   ├── AuthenticationError       401, 403          never retried
    │   ├── QuotaExceededError        402               never retried
    │   ├── NotFoundError             404               never retried
    │   ├── GenerationError           424 / TGI "generation" error
    │   ├── RateLimitedError          429               retried
    │   ├── ModelLoadingError         503 + estimated_time  retried
    │   └── ServerError               408, 425, 5xx     retried
    ├── BackendUnavailableError       connection refused / dropped       retried
    ├── InferenceTimeoutError         no answer within `timeout`         retried (also a TimeoutError)
    ├── StreamInterruptedError        a stream broke after its first token; carries what was received
    └── ModelInstallError             an opt-in local model could not be downloaded, verified or assembled

Outside this tree only the host's own conventions: Python's ``TypeError`` for a keyword argument a method does
not take, pydantic's ``ValidationError`` when an adapter's fields are invalid, and the errors LangChain's and
LlamaIndex's own parsers raise.

Each `APIError` keeps `status_code`, `request_id`, `server_message` and `url`. `attempts` tells how many tries were
made before the error was raised. An error raised by a call over many inputs (``feature_extraction``,
``text_generation_batch``) carries ``partial``: the results that were completed, one per input in input order,
``None`` where an input was not done; single calls leave it ``None``.

No message, field, ``str``, ``repr`` or pickle holds a secret: the message and every field kept from a response
(``request_id``, ``server_message``, ``url``) pass through :func:`hfbridge._secrets.redact` when they are stored
(token-like text, credentials in URLs), whoever builds the error; the backend also removes the exact token it
used. Errors translated from the HTTP client do not chain the client's exception (it holds the request headers).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ._secrets import redact

__all__ = [
    "HFBridgeError",
    "ConfigurationError",
    "InvalidInputError",
    "UnsupportedTaskError",
    "OutputTruncatedError",
    "APIError",
    "BadRequestError",
    "PayloadTooLargeError",
    "AuthenticationError",
    "QuotaExceededError",
    "NotFoundError",
    "GenerationError",
    "RateLimitedError",
    "ModelLoadingError",
    "ServerError",
    "BackendUnavailableError",
    "InferenceTimeoutError",
    "StreamInterruptedError",
    "ModelInstallError",
]


class HFBridgeError(Exception):
    """Base of every hfbridge error."""

    #: Whether the retry policy may try the same request again.
    retryable: ClassVar[bool] = False
    #: For calls over many inputs: each input's result, in input order, ``None`` where it was not done.
    partial: list[Any] | None = None

    #: Attributes that may hold text from a server or a URL: redacted whenever they are set.
    _redacted: ClassVar[frozenset[str]] = frozenset({"message"})

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        message = redact(str(message))
        super().__init__(message)
        self.message = message
        self.attempts = attempts

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._redacted and isinstance(value, str):
            value = redact(value)
        super().__setattr__(name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default pickling; rebuild from the public state.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message


def _rebuild(cls: type[HFBridgeError], message: str, state: dict[str, Any]) -> HFBridgeError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(HFBridgeError, ValueError):
    """The backend was configured with values that cannot work (unknown provider, malformed URL, ...)."""


class InvalidInputError(HFBridgeError, ValueError):
    """The input was rejected locally; nothing was sent."""


class UnsupportedTaskError(HFBridgeError, NotImplementedError):
    """This backend, model or provider cannot run the requested task or feature."""


class OutputTruncatedError(HFBridgeError, ValueError):
    """The answer stopped at ``max_tokens`` (``finish_reason == "length"``) inside a tool call or a structured
    output, so what came back is not the whole object: raise ``max_tokens`` and ask again.

    hfbridge's counterpart of openai's ``LengthFinishReasonError`` (what ``ChatOpenAI`` raises in the same case).
    ``received_text`` holds the cut output (the arguments of the cut call, or the content); never retried, since the
    same request would be cut at the same place.
    """

    def __init__(self, message: str, *, received_text: str = "", attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.received_text = received_text


class APIError(HFBridgeError):
    """The server answered with an error status."""

    _redacted = frozenset({"message", "request_id", "server_message", "url"})

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        server_message: str | None = None,
        url: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.status_code = status_code
        self.request_id = request_id
        self.server_message = server_message
        self.url = url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, request_id={self.request_id!r}, "
            f"server_message={self.server_message!r})"
        )


class BadRequestError(APIError, ValueError):
    """400 / 422: the server refused the request as invalid. Retrying would not help."""


class PayloadTooLargeError(BadRequestError):
    """413: the request body is too large; send smaller batches (lower ``batch_size``)."""


class AuthenticationError(APIError):
    """401 / 403: the token is missing, wrong, or lacks permission for this model or provider."""


class QuotaExceededError(APIError):
    """402: the account's credits for Inference Providers are used up. Never retried."""


class NotFoundError(APIError):
    """404: the model, endpoint or route does not exist."""


class GenerationError(APIError):
    """The model failed while generating (TGI ``generation`` error, HTTP 424)."""


class RateLimitedError(APIError):
    """429: too many requests. Retried after ``retry_after`` seconds when the server says so."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = _seconds(retry_after)


class ModelLoadingError(APIError):
    """503 while the model is loading (or a scaled-to-zero endpoint wakes up). Retried."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        estimated_time: float | None = None,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.estimated_time = _seconds(estimated_time)
        self.retry_after = _seconds(retry_after)


class ServerError(APIError):
    """408, 425 or 5xx: a transient failure on the server side. Retried."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = _seconds(retry_after)


class BackendUnavailableError(HFBridgeError, ConnectionError):
    """The server could not be reached, or closed the connection before answering. Retried."""

    retryable = True


class InferenceTimeoutError(HFBridgeError, TimeoutError):
    """No complete answer within the configured ``timeout``. Retried while the deadline allows, unless the policy
    says ``retry_on_timeout=False`` and ``request_sent`` is true.

    ``request_sent`` is false only when the time ran out before the request could reach the server (connecting,
    waiting for a pooled connection); otherwise the server may have run it.
    """

    retryable = True

    def __init__(self, message: str, *, request_sent: bool = True, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.request_sent = request_sent


class StreamInterruptedError(HFBridgeError):
    """A stream failed after its first token had been yielded, so it cannot be retried transparently.

    ``received_text`` holds the text yielded before the failure and ``chunks_received`` how many chunks were
    yielded; ``__cause__`` is the typed error that ended the stream.
    """

    def __init__(self, message: str, *, received_text: str = "", chunks_received: int = 0, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.received_text = received_text
        self.chunks_received = chunks_received


def _seconds(value: Any) -> float | None:
    """A wait a server suggested, as seconds; ``None`` unless it is a finite number of at least 0 (a server's
    ``"soon"``, ``NaN`` or ``-5`` says nothing usable, and must not read as "retry now")."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class ModelInstallError(HFBridgeError):
    """``hfbridge models install`` could not download, verify or assemble a model; nothing was installed."""
