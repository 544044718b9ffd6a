"""Ingestion with Ray Data: a local Ray instance, 2 embedding actors (one hfbridge backend per replica each), two
`hfbridge serve` replicas refusing requests with 429 (one scripted, one with `--rate-limit`), and an embedded Qdrant
collection written by the driver.

Every document must be stored exactly once under the id derived from its source and text, whichever actor
embedded it and in whatever order; each stored vector must be the embedding of its own text; a second run over a
shuffled, larger corpus embeds only the new documents.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hfbridge import LocalBackend
from hfbridge.ingest import QdrantWriter, stable_id
from hfbridge.server import free_port, wait_until_healthy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import ray_ingest

pytestmark = [pytest.mark.ray, pytest.mark.live_server, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")]

REFUSALS = 3  # the first replica's first requests are refused with 429; the workers must retry them


def serve(*options: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"}
    command = [sys.executable, "-m", "hfbridge.cli", "serve", "--port", str(port), *options]
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL), f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def replicas() -> Iterator[list[str]]:
    """Two `hfbridge serve` replicas answering 429 without Retry-After, as TGI and TEI do: the first refuses its
    first requests (scripted, so the count is known), the second anything past 4 requests a second."""
    plan = {"script": [{"kind": "rate_limited", "status": 429}] * REFUSALS}
    # An empty fault plan injects nothing but counts the requests.
    servers = [serve("--faults", json.dumps(plan)), serve("--rate-limit", "4", "--faults", "{}")]
    try:
        for process, url in servers:
            wait_until_healthy(url, timeout=60, process=process)
        yield [url for _, url in servers]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)


def stats(url: str) -> dict[str, int]:
    return dict(httpx2.get(f"{url}/_hfbridge/faults", timeout=10).json()["stats"])


def ingest(*args: Any, **kwargs: Any) -> Any:
    """The example's ingest, failed after 5 minutes instead of hanging CI if Ray ever waits forever (a hang guard,
    not a measurement: the job takes seconds)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ray_ingest.ingest, *args, **kwargs).result(timeout=300)


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def corpus(count: int) -> list[dict[str, object]]:
    return [{"text": f"Ticket {i}: the order arrived {['late', 'damaged', 'twice'][i % 3]}.", "source": f"t{i % 7}",
             "priority": i % 4} for i in range(count)]  # fmt: skip


def test_two_workers_store_every_document_once(
    replicas: list[str], ray_instance: None, tmp_path: Path, local_backend: LocalBackend
) -> None:
    import ray.data

    first = corpus(200)
    with QdrantWriter("tickets", path=tmp_path / "qdrant") as writer:
        report = ingest(ray.data.from_items(first), writer, backend=replicas, workers=2, batch_size=16,
                                   source_column="source")  # fmt: skip
        assert (report.written, report.already_stored, report.collection_size) == (200, 0, 200)

        # Each worker sent its batches to both replicas in turn; the refusals were retried, and nothing was lost.
        scripted, limited = stats(replicas[0]), stats(replicas[1])
        assert scripted["rate_limited"] == REFUSALS and scripted["ok"] > 0 and limited["ok"] > 0
        assert scripted["ok"] + limited["ok"] >= math.ceil(200 / 16)

        # A larger corpus in another order: only the 40 new documents are embedded.
        everything = corpus(240)
        shuffled = list(everything)
        random.Random(7).shuffle(shuffled)
        again = ingest(ray.data.from_items(shuffled), writer, backend=replicas, workers=2, batch_size=16,
                                  source_column="source")  # fmt: skip
        assert (again.written, again.already_stored, again.collection_size) == (40, 200, 240)

        expected = {stable_id(str(row["text"]), str(row["source"])): row for row in everything}
        assert writer.stored_ids() == set(expected)
        points, _ = writer.client.scroll("tickets", limit=1000, with_payload=True, with_vectors=True)
    assert len(points) == 240
    for point in points:
        row = expected[str(point.id)]
        assert point.payload == {"page_content": row["text"], "metadata": {"source": row["source"],
                                                                         "priority": row["priority"]}}  # fmt: skip
    texts = [point.payload["page_content"] for point in points]
    for point, vector in zip(points, local_backend.feature_extraction(texts), strict=True):
        assert sum(a * b for a, b in zip(point.vector, vector, strict=True)) > 0.9999  # its own text's vector
