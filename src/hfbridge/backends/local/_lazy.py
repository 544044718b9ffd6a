"""Load a model once, on first use, from any number of threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ...errors import UnsupportedTaskError

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, load: Callable[[], T], what: str, install_hint: str) -> None:
        self._load = load
        self._what = what
        self._hint = install_hint
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    try:
                        self._value = self._load()
                    except (ImportError, FileNotFoundError) as exc:
                        raise UnsupportedTaskError(
                            f"the local {self._what} model is not installed ({exc}); {self._hint}"
                        ) from exc
        return self._value

    def reset(self) -> None:
        with self._lock:
            self._value = None
