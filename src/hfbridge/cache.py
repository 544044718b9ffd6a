"""Opt-in caches for embeddings and classification results, in memory or on disk (SQLite). Off by default.

>>> backend = HubBackend(base_url=url, cache=SQLiteCache("~/.cache/hfbridge/results.sqlite"))

Entries are keyed by :func:`cache_key` (task, input, where the request goes, every parameter that changes the
answer; the key format is versioned). Embeddings are cached per text, so a job only sends the texts it has not
seen; each lookup logs its hit rate at INFO on the ``hfbridge`` logger.

A cache never makes a call fail and never returns what it cannot vouch for: an entry that does not decode or has
the wrong shape is a miss (and is overwritten by the fresh answer), and a SQLite file that cannot be used (corrupt,
another program's database, read-only, unreachable) turns the cache off with one WARNING while calls go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from . import _settings as setting

__all__ = ["ResultCache", "MemoryCache", "SQLiteCache", "cache_key", "KEY_FORMAT"]

logger = logging.getLogger("hfbridge")

#: Version of the key format; keys of another version never match, so changing what a key covers needs a new one.
KEY_FORMAT = 3


def cache_key(task: str, value: Any, *, target: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The key of one result: ``v<KEY_FORMAT>:`` and a SHA-256 of everything that decides the answer.

    Args:
        task: the task (``"feature-extraction"``, ``"text-classification"``...).
        value: the input (one text for embeddings).
        target: where the request goes: the backend kind, the model the task really uses, the provider, the URL
            (without credentials).
        params: every parameter that changes the output.

    Parts must be JSON-serialisable (dict keys are sorted; anything else is keyed by its ``str``).
    """
    parts = {"task": task, "value": value, "target": dict(target), "params": dict(params)}
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"v{KEY_FORMAT}:" + hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


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

    def get_many(
        self, keys: list[str], what: str = "lookup", accept: Callable[[Any], bool] | None = None
    ) -> dict[str, Any]:
        """The entries found for ``keys``. With ``accept``, an entry it refuses (the wrong shape) is a miss."""
        found = self._get_many(keys)
        if accept is not None:
            refused = [key for key, value in found.items() if not _accepted(accept, value)]
            if refused:
                logger.warning("hfbridge cache: %d %s entr(ies) of the wrong shape ignored", len(refused), what)
                for key in refused:
                    del found[key]
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


def _accepted(accept: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(accept(value))
    except Exception:  # a validator that cannot read the entry refuses it
        return False


class MemoryCache(ResultCache):
    """An in-memory LRU of at most ``max_entries`` results."""

    def __init__(self, max_entries: int = 100_000) -> None:
        super().__init__()
        self.max_entries = setting.count(max_entries, "max_entries")
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


#: ``PRAGMA application_id`` of an hfbridge cache file ("hfbr"): another program's database is never written to.
APPLICATION_ID = 0x68666272
_TABLE = "results"
_SCHEMA = f"CREATE TABLE IF NOT EXISTS {_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: The SQLite bound-parameter limit is 999 on old builds.
_CHUNK = 500


class _NotACache(Exception):
    """The file is a SQLite database of another program."""


class SQLiteCache(ResultCache):
    """Results in a SQLite file, shared across runs and by any number of processes and threads.

    The file is in WAL mode (readers never block the writer) and every write is one ``BEGIN IMMEDIATE``
    transaction that waits up to ``timeout`` seconds for another process's write to finish, so concurrent processes
    do not fail with ``database is locked``. If the file cannot be used — it is corrupt, belongs to another program,
    is read-only, or its directory cannot be created — the cache logs one WARNING and turns itself off
    (``usable`` becomes false): calls go on uncached, nothing is raised. A write that still finds the file locked
    after ``timeout`` is skipped (the answer is returned, just not stored).
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.timeout = setting.seconds(timeout, "timeout")
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._warned_busy = False
        try:
            self._connection = self._open()
        except (sqlite3.Error, OSError, _NotACache) as error:
            self._disable(error)

    @property
    def usable(self) -> bool:
        """False once the file turned out to be unusable (see the class docstring)."""
        return self._connection is not None

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, usable={self.usable})"

    # ------------------------------------------------------------------------------------------------ opening
    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None)
        try:
            self._check_owner(connection)  # reads only: a foreign file is left exactly as it was
            self._use_wal(connection)
            with _transaction(connection):
                self._check_owner(connection)  # again under the write lock: another process may have just created it
                connection.execute(_SCHEMA)
                ours = connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
                if not ours or connection.execute("PRAGMA user_version").fetchone()[0] != KEY_FORMAT:
                    # A new file, or one written with another key format (user_version): its keys can never match.
                    connection.execute(f"DELETE FROM {_TABLE} WHERE key NOT LIKE 'v{KEY_FORMAT}:%'")
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    connection.execute(f"PRAGMA user_version = {KEY_FORMAT}")
            connection.execute(f"SELECT key, value FROM {_TABLE} LIMIT 1").fetchall()
        except BaseException:
            connection.close()
            raise
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to WAL mode. The switch needs the file to itself and SQLite answers "database is locked"
        at once (no busy wait) while another process has it open, e.g. two processes creating one new cache: wait
        for the other one, which usually makes the switch itself, for up to ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    return  # still usable in the rollback-journal mode, whose writes wait for the lock as well
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    @staticmethod
    def _check_owner(connection: sqlite3.Connection) -> None:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application_id == APPLICATION_ID:
            return
        if application_id != 0:
            raise _NotACache(f"it belongs to another program (application_id {application_id:#x})")
        # No application id: a new file, or a cache written by an earlier hfbridge (one results(key, value) table).
        if tables - {_TABLE}:
            raise _NotACache(f"it is another program's database (tables: {', '.join(sorted(tables))})")
        if tables:
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info({_TABLE})")}
            if columns != {"key", "value"}:
                raise _NotACache(f"its {_TABLE} table has other columns ({', '.join(sorted(columns))})")

    # ------------------------------------------------------------------------------------------------ failures
    def _disable(self, error: BaseException) -> None:
        """Turn the cache off for good, with one WARNING (call under ``_lock`` once the cache is in use)."""
        if self._connection is not None:
            with suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None
        logger.warning(
            "hfbridge cache: %s cannot be used (%s: %s); going on without a cache", self.path, type(error).__name__,
            error,
        )  # fmt: skip

    def _failed(self, error: sqlite3.Error, what: str) -> None:
        if isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error)):
            # Another process held the write lock for longer than `timeout`: skip this one operation.
            level = logging.DEBUG if self._warned_busy else logging.WARNING
            self._warned_busy = True
            logger.log(level, "hfbridge cache: %s skipped, %s still locked after %.0f s", what, self.path, self.timeout)
            return
        self._disable(error)

    # ------------------------------------------------------------------------------------------------ access
    def _get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        corrupt = 0
        with self._lock:
            if self._connection is None:
                return found
            try:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    query = f"SELECT key, value FROM {_TABLE} WHERE key IN ({marks})"
                    for key, value in self._connection.execute(query, chunk).fetchall():
                        try:
                            found[key] = json.loads(value)
                        except (TypeError, ValueError):
                            corrupt += 1
            except sqlite3.Error as error:
                self._failed(error, "a lookup")
                return {}
        if corrupt:
            logger.warning("hfbridge cache: %d entr(ies) in %s are not JSON; treated as misses", corrupt, self.path)
        return found

    def _put_many(self, items: dict[str, Any]) -> None:
        rows = []
        for key, value in items.items():
            try:
                rows.append((key, json.dumps(value)))
            except (TypeError, ValueError):  # not JSON-serialisable: not cached, the answer still goes back
                logger.debug("hfbridge cache: entry %s is not JSON-serialisable; not stored", key)
        with self._lock:
            if self._connection is None or not rows:
                return
            try:
                with _transaction(self._connection):
                    self._connection.executemany(f"INSERT OR REPLACE INTO {_TABLE} (key, value) VALUES (?, ?)", rows)
            except sqlite3.Error as error:
                self._failed(error, f"storing {len(rows)} entr(ies)")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction that takes the write lock first (waiting for it up to the busy timeout): a deferred
    one would read, then fail at once with "database is locked" when another process writes in between."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:  # SQLite may have rolled back already (a full disk, an I/O error)
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
