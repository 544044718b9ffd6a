"""Opt-in caches: repeated inputs send nothing, misses keep order, SQLite persists, hit rate is logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hfbridge import HubBackend, LocalBackend
from hfbridge.cache import MemoryCache, SQLiteCache, cache_key
from hfbridge.server import FaultPlan, ServerThread, create_app
from hfbridge.tasks import FEATURE_EXTRACTION, EmbeddingRequest, Limits


@pytest.fixture
def server(local_backend: LocalBackend) -> Any:
    plan = FaultPlan()  # counts requests
    with ServerThread(create_app(local_backend, fault_plan=plan, task="text-classification")) as running:
        running.plan = plan
        yield running


def test_off_by_default(server: Any) -> None:
    backend = HubBackend(base_url=server.url)
    backend.feature_extraction(["a", "b"])
    backend.feature_extraction(["a", "b"])
    assert backend.cache is None and server.plan.stats["requests"] == 2


def test_memory_cache_sends_only_misses_in_order(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    backend = HubBackend(base_url=server.url, cache=MemoryCache(), batch_size=2)
    first = backend.feature_extraction(["alpha", "beta", "gamma"])
    assert server.plan.stats["requests"] == 2
    with caplog.at_level(logging.INFO, logger="hfbridge"):
        again = backend.feature_extraction(["gamma", "delta", "alpha"])
    assert server.plan.stats["requests"] == 3, "only 'delta' was sent"
    assert again[0] == first[2] and again[2] == first[0]
    assert again[1] == HubBackend(base_url=server.url).feature_extraction(["delta"])[0]
    assert "2/3 hits" in caplog.text
    assert backend.cache is not None and backend.cache.hit_rate == pytest.approx(2 / 6)


def test_classifier_results_are_cached_by_params(server: Any) -> None:
    backend = HubBackend(base_url=server.url, cache=MemoryCache())
    labels = ["billing", "shipping"]
    first = backend.zero_shot_classification("My card was charged twice", labels)
    assert backend.zero_shot_classification("My card was charged twice", labels) == first
    assert server.plan.stats["requests"] == 1
    backend.zero_shot_classification("My card was charged twice", labels, multi_label=True)
    assert server.plan.stats["requests"] == 2, "other parameters are another entry"
    entities = backend.token_classification("Ada Lovelace lived in London.")
    assert backend.token_classification("Ada Lovelace lived in London.") == entities
    assert backend.text_classification("great") == backend.text_classification("great")
    assert server.plan.stats["requests"] == 4


def test_sqlite_cache_persists_across_backends(server: Any, tmp_path: Path) -> None:
    path = tmp_path / "cache" / "results.sqlite"
    first = HubBackend(base_url=server.url, cache=SQLiteCache(path)).feature_extraction(["persist me", "and me"])
    again = HubBackend(base_url=server.url, cache=SQLiteCache(path)).feature_extraction(["and me", "persist me"])
    assert server.plan.stats["requests"] == 1
    assert again == [first[1], first[0]]


async def test_async_paths_use_the_cache(server: Any) -> None:
    backend = HubBackend(base_url=server.url, cache=MemoryCache())
    first = await backend.afeature_extraction(["x", "y"])
    assert await backend.afeature_extraction(["y", "x"]) == [first[1], first[0]]
    await backend.atext_classification("nice")
    await backend.atext_classification("nice")
    assert server.plan.stats["requests"] == 2
    await backend.aclose()


def test_memory_cache_is_bounded() -> None:
    cache = MemoryCache(max_entries=2)
    cache.put_many({"a": 1, "b": 2})
    cache.get_many(["a"])
    cache.put_many({"c": 3})
    assert len(cache) == 2 and set(cache.get_many(["a", "b", "c"])) == {"a", "c"}


# ------------------------------------------------------------------------------------------ robustness of SQLite
def _writer(path: str, name: str, start: Any, done: Any) -> None:
    """One process of the two-process test: 200 rounds of storing and reading back 20 entries, opening the file
    again every 50 rounds (the old cache lost entries to ``database is locked`` in 3 runs out of 3 here)."""
    from hfbridge.cache import SQLiteCache

    start.wait()
    missing = 0
    for batch in range(200):
        if batch % 50 == 0:
            cache = SQLiteCache(path)
        keys = [f"v2:{name}-{batch}-{i}" for i in range(20)]
        try:
            cache.put_many({key: [float(batch), float(i)] for i, key in enumerate(keys)})
            missing += len(keys) - len(cache.get_many(keys))
        except Exception:
            missing += len(keys)
    done.put((name, cache.usable, missing))


def test_two_processes_share_one_file_without_losing_an_answer(tmp_path: Path) -> None:
    """Two real processes write to one new file at once: no ``database is locked``, every entry each one stored
    can be read back (the old cache raised there, after the work was done, so the answer was lost)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, done = context.Barrier(2), context.Queue()
    path = str(tmp_path / "shared.sqlite")
    workers = [context.Process(target=_writer, args=(path, name, start, done)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    results = sorted(done.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert results == [("a", True, 0), ("b", True, 0)]
    every_key = [f"v2:{name}-{batch}-{i}" for name in "ab" for batch in range(200) for i in range(20)]
    assert len(SQLiteCache(path).get_many(every_key)) == 8000


def _raw_rows(path: Path, rows: dict[str, str]) -> None:
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", list(rows.items()))


def test_rows_that_are_not_json_or_not_the_right_shape_are_misses(
    server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "results.sqlite"
    backend = HubBackend(base_url=server.url, cache=SQLiteCache(path))
    texts = ["one", "two", "three", "four"]
    good = backend.feature_extraction(texts)
    classified = backend.text_classification("great")
    assert server.plan.stats["requests"] == 2
    request = FEATURE_EXTRACTION.validate(EmbeddingRequest(texts=texts), Limits(max_input_chars=50_000, max_labels=9))
    assert FEATURE_EXTRACTION.cache is not None
    target = backend.transport.cache_target(FEATURE_EXTRACTION, request)  # the key's parts, as the cache layer has them
    params = FEATURE_EXTRACTION.cache.params(request)
    keys = [cache_key("feature-extraction", text, target=target, params=params) for text in texts]
    _raw_rows(path, {keys[0]: "[0.1, 0.2", keys[1]: '"a string"', keys[2]: "[1.0, NaN]", keys[3]: "[]"})
    label_key = next(k for k in _all_keys(path) if k not in keys)
    _raw_rows(path, {label_key: '[{"label": 5}]'})
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        again = HubBackend(base_url=server.url, cache=SQLiteCache(path)).feature_extraction(texts)
        assert HubBackend(base_url=server.url, cache=SQLiteCache(path)).text_classification("great") == classified
    assert again == good, "every bad row was a miss, answered by the server again"
    assert server.plan.stats["requests"] == 4
    assert "not JSON" in caplog.text and "wrong shape" in caplog.text
    assert HubBackend(base_url=server.url, cache=SQLiteCache(path)).feature_extraction(texts) == good
    assert server.plan.stats["requests"] == 4, "the fresh answers replaced the bad rows"


def _all_keys(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT key FROM results")]


def _unusable_files(tmp_path: Path) -> dict[str, Path]:
    import sqlite3

    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database, just text " * 200)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    other_schema = tmp_path / "other-schema.sqlite"
    with sqlite3.connect(other_schema) as connection:
        connection.execute("CREATE TABLE results (id INTEGER, payload BLOB)")
    other_app = tmp_path / "other-app.sqlite"
    with sqlite3.connect(other_app) as connection:
        connection.execute("PRAGMA application_id = 1234")
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    return {
        "corrupt": corrupt,
        "foreign": foreign,
        "other_schema": other_schema,
        "other_app": other_app,
        "directory": tmp_path,  # a directory, not a file
        "parent_is_a_file": blocked / "results.sqlite",
    }


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "other_schema", "other_app", "directory", "parent_is_a_file"])
def test_an_unusable_file_means_no_cache_and_one_warning(
    server: Any, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = _unusable_files(tmp_path)[kind]
    before = path.read_bytes() if path.is_file() else None
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        cache = SQLiteCache(path)
        backend = HubBackend(base_url=server.url, cache=cache)
        first = backend.feature_extraction(["a", "b"])
        assert backend.feature_extraction(["a", "b"]) == first
    assert not cache.usable and server.plan.stats["requests"] == 2, "calls go on, uncached"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot be used" in r.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    if before is not None:
        assert path.read_bytes() == before, "another program's file is left untouched"


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only even for root: the immutable attribute where permission bits do not stop the user."""
    import os
    import shutil
    import stat
    import subprocess

    os.chmod(path, stat.S_IRUSR)
    immutable = False
    try:
        if os.access(path, os.W_OK):  # root ignores permission bits
            chattr = shutil.which("chattr")
            if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("cannot make a file read-only for this user here")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run([shutil.which("chattr") or "chattr", "-i", str(path)], check=True)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def test_a_read_only_file_means_no_cache(server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "results.sqlite"
    SQLiteCache(path).close()
    with _read_only(path), caplog.at_level(logging.WARNING, logger="hfbridge"):
        cache = SQLiteCache(path)
        backend = HubBackend(base_url=server.url, cache=cache)
        assert len(backend.feature_extraction(["a"])[0]) == 384
        assert not cache.usable
        assert caplog.text.count("cannot be used") == 1 and "readonly" in caplog.text


def test_a_file_that_breaks_while_in_use_turns_the_cache_off(server: Any, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "results.sqlite"
    cache = SQLiteCache(path)
    backend = HubBackend(base_url=server.url, cache=cache)
    backend.feature_extraction(["before"])
    with sqlite3.connect(path) as connection:  # another program drops the table under us
        connection.execute("DROP TABLE results")
    assert len(backend.feature_extraction(["after"])[0]) == 384
    assert not cache.usable
    assert len(backend.feature_extraction(["after"])[0]) == 384


def test_keys_are_versioned_and_old_files_are_adopted(tmp_path: Path) -> None:
    import sqlite3

    from hfbridge.cache import KEY_FORMAT, cache_key

    key = cache_key("feature-extraction", "hi", target={"backend": "hub", "model": "m"}, params={"normalize": None})
    assert key.startswith(f"v{KEY_FORMAT}:") and len(key) == len(f"v{KEY_FORMAT}:") + 64
    assert key != cache_key("feature-extraction", "hi", target={"backend": "hub", "model": "n"}, params={})
    path = tmp_path / "old.sqlite"  # a cache written before keys were versioned: same table, bare keys
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT INTO results VALUES ('3f2a9c', '[1.0]')")
    cache = SQLiteCache(path)
    assert cache.usable and _all_keys(path) == [], "entries of the old key format can never match: dropped"
    cache.put_many({key: [0.5]})
    assert cache.get_many([key]) == {key: [0.5]}
