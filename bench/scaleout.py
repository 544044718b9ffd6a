"""Ingestion past one process: 1 and 2 Ray Data workers against one server, beside a single process.

The server is the benchmark double behind the real protocol server (its own process): ``latency`` seconds per
request, ``server_concurrency`` requests at once, ``batch`` texts a request at most, so the ceiling is
``server_concurrency * batch / latency`` texts/s. Rows:

- single process: ``HubBackend.feature_extraction`` with the defaults a user keeps (32 texts a request, 4 in flight);
- Ray Data, 1 and 2 workers, embedding only: ``map_batches(Embedder)`` with one such backend per worker, the vectors
  streamed back to the driver; the timing covers the job (actor start included), not ``ray.init``;
- Ray Data, 2 workers into an embedded Qdrant folder (``embed_to_qdrant``), on ``qdrant_texts`` texts: embedded
  Qdrant commits every point in its own SQLite transaction, so on a disk with slow fsync it bounds the whole job.

On one 2-core machine the workers, the driver, Ray's own processes and the server share the cores: the numbers show
what a second worker adds against a server with room to spare, not what a cluster does.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from hfbridge import HubBackend

from ._serve import TEI_TASK, served
from ._table import report


def _single_process(url: str, texts: list[str]) -> dict[str, Any]:
    backend = HubBackend(base_url=url)
    started = time.perf_counter()
    vectors = backend.feature_extraction(texts)
    seconds = time.perf_counter() - started
    return {"texts_per_s": len(texts) / seconds, "seconds": seconds, "stored": len(vectors)}


def _ray_embed(url: str, texts: list[str], workers: int, batch_rows: int) -> dict[str, Any]:
    import ray.data

    from hfbridge.ingest.ray import Embedder

    dataset = ray.data.from_items([{"text": text} for text in texts])
    started = time.perf_counter()
    embedded = dataset.map_batches(Embedder, fn_constructor_kwargs={"backend": url}, batch_size=batch_rows,
                                   batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
                                   num_cpus=0.5)  # fmt: skip
    count = sum(len(batch["id"]) for batch in embedded.iter_batches(batch_size=batch_rows, batch_format="numpy"))
    seconds = time.perf_counter() - started
    return {"texts_per_s": len(texts) / seconds, "seconds": seconds, "stored": count}


def _ray_to_qdrant(url: str, texts: list[str], workers: int, batch_rows: int) -> dict[str, Any]:
    import ray.data

    from hfbridge.ingest import QdrantWriter
    from hfbridge.ingest.ray import embed_to_qdrant

    dataset = ray.data.from_items([{"text": text} for text in texts])
    with tempfile.TemporaryDirectory(dir=".") as folder, QdrantWriter("bench", path=Path(folder) / "q") as writer:
        started = time.perf_counter()
        result = embed_to_qdrant(dataset, writer, backend=url, workers=workers, batch_size=batch_rows)
        seconds = time.perf_counter() - started
    return {"texts_per_s": len(texts) / seconds, "seconds": seconds, "stored": result.collection_size}


def run(texts: int = 20_000, latency: float = 0.05, server_concurrency: int = 8, batch: int = 32,
        batch_rows: int = 256, qdrant_texts: int = 1_000) -> dict[str, Any]:  # fmt: skip
    import ray

    corpus = [f"scale-out benchmark text number {i}" for i in range(texts)]
    ceiling = server_concurrency * batch / latency
    rows: list[dict[str, Any]] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with served(latency=latency, max_concurrency=server_concurrency, max_batch_size=batch, task=TEI_TASK) as url:
            rows.append({"client": "single process: HubBackend.feature_extraction (defaults)", "texts": texts,
                         **_single_process(url, corpus)})  # fmt: skip
            for workers in (1, 2):
                rows.append({"client": f"Ray Data, {workers} worker{'s' if workers > 1 else ''}, embedding only",
                             "texts": texts, **_ray_embed(url, corpus, workers, batch_rows)})  # fmt: skip
            rows.append({"client": "Ray Data, 2 workers -> embedded Qdrant folder", "texts": qdrant_texts,
                         **_ray_to_qdrant(url, corpus[:qdrant_texts], 2, batch_rows)})  # fmt: skip
    finally:
        ray.shutdown()
    single = rows[0]["texts_per_s"]
    for row in rows:
        row["x_single_process"] = row["texts_per_s"] / single
        row["of_ceiling"] = row["texts_per_s"] / ceiling
        row["status"] = "ok" if row.pop("stored") == row["texts"] else "LOST TEXTS"
    return report("scaleout", rows, {"latency_s": latency, "server_concurrency": server_concurrency,
                                     "max_batch": batch, "ray_batch_rows": batch_rows,
                                     "ceiling_texts_per_s": ceiling})  # fmt: skip
