"""Embedding throughput against a server with per-request latency, a concurrency cap and TEI's batch limit.

Ceiling = max_concurrency x max_batch_size / latency texts/s. Targets: ours >= 5x the best anchor, >= 80% of the
ceiling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hfbridge.langchain import HFEmbeddings
from hfbridge.llama_index import HFEmbedding

from . import _anchors
from ._serve import TEI_TASK, served
from ._table import report
from .doubles import vector_for


def _run(texts: list[str], embed: Callable[[list[str]], list[list[float]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        vectors = embed(texts)
    except Exception as error:
        return {"texts_per_s": 0.0, "status": f"failed: {type(error).__name__}: {str(error)[:70]}"}
    seconds = time.perf_counter() - started
    ordered = len(vectors) == len(texts) and all(
        abs(sum(a * b for a, b in zip(vectors[i], vector_for(texts[i]), strict=True)) - 1) < 1e-5
        for i in range(0, len(texts), max(1, len(texts) // 50))
    )
    return {"texts_per_s": len(texts) / seconds, "seconds": seconds, "status": "ok" if ordered else "WRONG ORDER"}


def _raw_client(url: str, texts: list[str], batch: int, threads: int) -> list[list[float]]:
    """The real client with no hfbridge code: what the transport alone allows on this machine."""
    from concurrent.futures import ThreadPoolExecutor

    from huggingface_hub import InferenceClient

    client = InferenceClient(base_url=url, timeout=60)
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    with ThreadPoolExecutor(threads) as pool:
        arrays = list(pool.map(lambda b: client.feature_extraction(b, truncate=True), batches))
    return [row for array in arrays for row in array.tolist()]


def run(
    texts: int = 10_000,
    latency: float = 0.05,
    server_concurrency: int = 8,
    batch: int = 32,
    client_concurrency: int = 16,
) -> dict[str, Any]:
    """``client_concurrency`` above the server's keeps a request queued for every slot that frees up, as a real
    client should: with exactly as many in flight as slots, each slot idles while the client reads its answer."""
    corpus = [f"benchmark text number {i}" for i in range(texts)]
    ceiling = server_concurrency * batch / latency
    rows: list[dict[str, Any]] = []
    with served(latency=latency, max_concurrency=server_concurrency, max_batch_size=batch, task=TEI_TASK) as url:
        ours: dict[str, Callable[[list[str]], list[list[float]]]] = {
            "hfbridge HFEmbeddings (LangChain)": HFEmbeddings(
                base_url=url, batch_size=batch, max_concurrency=client_concurrency
            ).embed_documents,
            "hfbridge HFEmbedding (LlamaIndex)": HFEmbedding(
                base_url=url, embed_batch_size=batch, max_concurrency=client_concurrency
            ).get_text_embedding_batch,
        }
        for name, embed in ours.items():
            rows.append({"client": name, **_run(corpus, embed)})
        rows.append({"client": "reference: raw InferenceClient, same batches and threads",
                     **_run(corpus, lambda t: _raw_client(url, t, batch, client_concurrency))})  # fmt: skip
        for name, anchor in _anchors.load().items():
            if isinstance(anchor, Exception):
                rows.append({"client": name, "texts_per_s": 0.0, "status": f"not installed ({anchor})"[:80]})
                continue
            try:
                client = anchor(model=url) if "langchain" in name else anchor(model_name=url)
            except Exception as error:
                message = str(error).replace("\n", " ")
                rows.append({"client": name, "texts_per_s": 0.0, "status": f"cannot target a URL: {message}"[:90]})
                continue
            if "langchain" in name:
                rows.append({"client": name, **_run(corpus, client.embed_documents)})
                continue
            with _anchors.quiet_asyncio():
                rows.append({"client": name + " (sync)", **_run(corpus, client.get_text_embedding_batch)})
                del client
            # Its sync path calls asyncio.run per batch and breaks (#22744): give its async API a fair run too.
            fresh = anchor(model_name=url)
            rows.append({"client": name + " (async)",
                         **_run(corpus, lambda t, c=fresh: asyncio.run(c.aget_text_embedding_batch(t)))})  # fmt: skip
    anchors = [r for r in rows if not r["client"].startswith(("hfbridge", "reference"))]
    best_anchor = max((r["texts_per_s"] for r in anchors), default=0.0)
    for row in rows:
        row["x_best_anchor"] = row["texts_per_s"] / best_anchor if best_anchor else None
        row["of_ceiling"] = row["texts_per_s"] / ceiling
    ours_rows = [r for r in rows if r["client"].startswith("hfbridge")]
    met = all((r["x_best_anchor"] is None or r["x_best_anchor"] >= 5) and r["of_ceiling"] >= 0.8 for r in ours_rows)
    return report("embeddings", rows, {"texts": texts, "latency_s": latency, "server_concurrency": server_concurrency,
                                       "client_concurrency": client_concurrency,
                                       "max_batch": batch, "ceiling_texts_per_s": ceiling,
                                       "target": ">=5x best anchor and >=80% of ceiling", "met": met})  # fmt: skip
