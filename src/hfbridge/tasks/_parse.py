"""Reading a server's 2xx answer: every field is checked, so a malformed body is a typed ``APIError`` and never a
wrong result (an empty chat answer from a 200 ``{"error": ...}``, strings as embeddings...).

The tasks' hub parsers use these helpers. An answer is a dict / list (fast path) or one of huggingface_hub's
dataclasses (public path); :func:`field` reads either.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import _wire
from ..errors import APIError

__all__ = ["malformed", "field", "refuse_error_body", "as_list", "number", "string", "optional_string", "integer"]

def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def malformed(what: str, value: Any) -> APIError:
    """The error for an answer whose ``what`` is wrong (it names what was expected and shows what came)."""
    return APIError(f"unexpected response from the server: {what}, got {_preview(value)}")


def field(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a raw answer: a dict (fast path) or one of huggingface_hub's dataclasses (public path)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def refuse_error_body(output: Any) -> None:
    """A 2xx answer that is an error object (``{"error": "..."}``, as some proxies and servers send with status
    200) raises ``APIError`` with the server's message instead of being read as an empty result."""
    message = _wire.error_message(output) if isinstance(output, dict) else None
    if message is not None:
        raise APIError(f"the server answered 2xx with an error: {message}", server_message=message)


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise malformed(f"{what} must be a list", value)
    return value


def number(value: Any, what: str) -> float:
    """A finite number (an int or a float; not a bool, not a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise malformed(f"{what} must be a finite number", value)
    return float(value)


def integer(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise malformed(f"{what} must be an integer of at least {minimum}", value)
    return value


def string(value: Any, what: str, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str) or (not empty_ok and not value):
        raise malformed(f"{what} must be a {'' if empty_ok else 'non-empty '}string", value)
    return value


def optional_string(value: Any, what: str) -> str | None:
    return None if value is None else string(value, what)
