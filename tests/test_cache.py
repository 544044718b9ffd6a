"""Opt-in caches: repeated inputs send nothing, misses keep order, SQLite persists, hit rate is logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from hfbridge import HubBackend, LocalBackend
from hfbridge.cache import MemoryCache, SQLiteCache
from hfbridge.server import FaultPlan, ServerThread, create_app


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
