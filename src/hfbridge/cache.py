"""Opt-in caches for embeddings and classification results, in memory or on disk (SQLite). Off by default.

>>> backend = HubBackend(base_url=url, cache=SQLiteCache("~/.cache/hfbridge/results.sqlite"))

Entries are keyed by (backend, model, task, parameters, input). Embeddings are cached per text, so a job only
sends the texts it has not seen; each lookup logs its hit rate at INFO on the ``hfbridge`` logger.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from pathlib import Path
from typing import Any

__all__ = ["ResultCache", "MemoryCache", "SQLiteCache", "cache_key"]

logger = logging.getLogger("hfbridge")


def cache_key(*parts: Any) -> str:
    """A stable key for any JSON-serialisable parts (dict keys sorted)."""
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


class ResultCache(ABC):
    """Stores JSON-serialisable results by key; thread-safe; counts hits and misses."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._stats_lock = threading.Lock()

    @abstractmethod
    def _get_many(self, keys: list[str]) -> dict[str, Any]: ...

    @abstractmethod
    def _put_many(self, items: dict[str, Any]) -> None: ...

    def get_many(self, keys: list[str], what: str = "lookup") -> dict[str, Any]:
        found = self._get_many(keys)
        with self._stats_lock:
            self.hits += len(found)
            self.misses += len(keys) - len(found)
            total = self.hits + self.misses
            overall = self.hits / total if total else 0.0
        logger.info(
            "hfbridge cache: %s %d/%d hits (%.0f%%); overall hit rate %.0f%%",
            what, len(found), len(keys), 100 * len(found) / max(1, len(keys)), 100 * overall,
        )  # fmt: skip
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if items:
            self._put_many(items)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class MemoryCache(ResultCache):
    """An in-memory LRU of at most ``max_entries`` results."""

    def __init__(self, max_entries: int = 100_000) -> None:
        super().__init__()
        self.max_entries = max_entries
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _get_many(self, keys: list[str]) -> dict[str, Any]:
        with self._lock:
            found = {key: self._data[key] for key in keys if key in self._data}
            for key in found:
                self._data.move_to_end(key)
            return found

    def _put_many(self, items: dict[str, Any]) -> None:
        with self._lock:
            self._data.update(items)
            for key in items:
                self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class SQLiteCache(ResultCache):
    """Results in a SQLite file (stdlib ``sqlite3``, WAL mode), shared across runs and processes."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                found.update({key: json.loads(value) for key, value in rows})
        return found

    def _put_many(self, items: dict[str, Any]) -> None:
        with self._lock:
            self._connection.executemany(
                "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in items.items()],
            )

    def close(self) -> None:
        with self._lock:
            self._connection.close()
