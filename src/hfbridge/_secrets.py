"""Token resolution and redaction: the one place that handles secrets (tokens, and credentials inside URLs)."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

#: Hosts that receive a token found implicitly (``HF_TOKEN`` or the token file). An explicit token goes anywhere.
HF_HOST_SUFFIXES = ("huggingface.co", "hf.space", "huggingface.cloud")

MASK = "**********"

# Token-like: 8 characters or more with a digit, or a capital after a small letter, so that prose ("a bearer token
# is missing", "Basic Authentication") is left alone.
_CREDENTIAL = r"(?=[\w.~+/=-]{8})(?=[A-Za-z._~+/=-]*[0-9]|[\w.~+/=-]*[a-z][\w.~+/=-]*[A-Z])[\w.~+/=-]+"
_TOKEN = re.compile(
    r"hf_[A-Za-z0-9]{6,}"  # Hugging Face tokens
    rf"|\b(?:[Bb]earer|BEARER|Basic)\s+{_CREDENTIAL}"  # an Authorization value echoed back
    r"|\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI-style keys (OpenAI-compatible servers behind a base_url)
)
#: ``scheme://user:password@`` (or ``scheme://token@``) in a URL.
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s?#]+@", re.IGNORECASE)
#: Names of query parameters that carry a credential.
_SECRET_NAME = (
    r"api[_-]?key|apikey|key|token|access[_-]?token|auth|password|passwd|secret|sig|signature"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token"
)
#: Such a parameter's value, in a URL or any text quoting one.
_SECRET_QUERY = re.compile(rf"([?&;](?:{_SECRET_NAME})=)[^&#\s\"'<>]+", re.IGNORECASE)


def resolve_token(token: str | SecretStr | None) -> tuple[SecretStr | None, bool]:
    """Return ``(token, explicit)``: the argument if given, else ``HF_TOKEN`` or the huggingface_hub token file."""
    if token is not None:
        value = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not isinstance(value, str):
            from .errors import ConfigurationError  # here: errors imports this module

            raise ConfigurationError(f"token must be a string, a SecretStr or None, got {type(value).__name__}")
        return (SecretStr(value) if value else None), True
    from huggingface_hub import get_token

    found = get_token()
    return (SecretStr(found) if found else None), False


def is_hf_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == suffix or host.endswith("." + suffix) for suffix in HF_HOST_SUFFIXES)


def redact(text: str, token: SecretStr | None = None) -> str:
    """``text`` without the token, anything that looks like a token, and the credentials of any URL in it."""
    if token is not None:
        secret = token.get_secret_value()
        if secret:
            text = text.replace(secret, MASK)
    text = _TOKEN.sub(MASK, text)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    return _SECRET_QUERY.sub(rf"\1{MASK}", text)


def without_credentials(url: str) -> str:
    """``url`` with its user-info and credential query parameters removed (what a pickled backend keeps)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not re.fullmatch(_SECRET_NAME, pair.partition("=")[0], re.IGNORECASE)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


#: Request headers that carry a credential.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})


def without_credential_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """``headers`` without the ones that carry a credential (what a pickled backend keeps)."""
    return {name: value for name, value in headers.items() if name.lower() not in _CREDENTIAL_HEADERS}


class _RedactingFilter(logging.Filter):
    """Formats a record's message and redacts it, so a URL with credentials never reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


#: The loggers that print request URLs: httpx2's per-request line (INFO) and huggingface_hub's (DEBUG).
_URL_LOGGERS = ("httpx2", "huggingface_hub.utils._http")
_filter = _RedactingFilter()


def protect_logs() -> None:
    """Redact the log lines of the HTTP client's loggers (idempotent). A filter on a logger sees the records that
    logger creates, so each logger that prints a request URL gets one."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
