"""Checks of settings: a value that cannot work raises ``ConfigurationError`` when the object is built, not later
in the middle of a job (``timeout=nan`` would otherwise wait forever, ``base_delay=-1`` crash the first retry)."""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigurationError


def _number(value: Any, name: str) -> float:
    # bool is an int to Python, never a duration or a count to a user.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if math.isnan(value):
        raise ConfigurationError(f"{name} must be a number, got nan")
    return float(value)


def seconds(value: Any, name: str, *, zero_ok: bool = False) -> float:
    """A finite duration: positive, or non-negative with ``zero_ok``."""
    number = _number(value, name)
    if math.isinf(number):
        raise ConfigurationError(f"{name} must be finite, got {value!r}")
    if number < 0 or (number == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "more than 0"
        raise ConfigurationError(f"{name} must be {bound} seconds, got {value!r}")
    return number


def positive(value: Any, name: str) -> float:
    """A finite number above zero (a rate, a period)."""
    number = _number(value, name)
    if math.isinf(number) or number <= 0:
        raise ConfigurationError(f"{name} must be a finite number above 0, got {value!r}")
    return number


def fraction(value: Any, name: str) -> float:
    number = _number(value, name)
    if not 0 <= number <= 1:
        raise ConfigurationError(f"{name} must be between 0 and 1, got {value!r}")
    return number


def count(value: Any, name: str, *, minimum: int | None = 1) -> int:
    """An ``int`` of at least ``minimum`` (a size, a number of attempts); any int with ``minimum=None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value!r}")
    return value


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def instance(value: Any, expected: type | tuple[type, ...], name: str) -> Any:
    """``value`` if it is ``None`` or an instance of ``expected``."""
    if value is not None and not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise ConfigurationError(f"{name} must be a {names} or None, got {type(value).__name__}")
    return value
