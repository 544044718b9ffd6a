"""LocalBackend embeddings against the same ONNX model and tokenizer called directly. Target: ratio >= 1.0."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hfbridge import LocalBackend
from hfbridge.backends.local._embedder import MiniLMEmbedder

from ._table import report


def run(texts: int = 4_000, batch: int = 64, repeats: int = 3) -> dict[str, Any]:
    corpus = [f"local benchmark sentence number {i} about invoices and passwords" for i in range(texts)]
    backend = LocalBackend(batch_size=batch)
    direct = MiniLMEmbedder()  # the runtime and tokenizer with nothing of ours around them

    def ours() -> None:
        backend.feature_extraction(corpus)

    def runtime() -> None:
        for i in range(0, texts, batch):
            direct.embed(corpus[i : i + batch]).tolist()

    ours(), runtime()  # load and warm up
    timings: dict[str, list[float]] = {"ours": [], "runtime": []}
    for _ in range(repeats):  # interleaved, so both see the same machine state
        for name, call in (("ours", ours), ("runtime", runtime)):
            started = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - started)
    ours_rate = texts / float(np.median(timings["ours"]))
    runtime_rate = texts / float(np.median(timings["runtime"]))
    rows = [
        {"client": "onnxruntime + tokenizers called directly", "texts_per_s": runtime_rate},
        {
            "client": "hfbridge LocalBackend.feature_extraction",
            "texts_per_s": ours_rate,
            "ratio": ours_rate / runtime_rate,
        },
    ]
    return report("local", rows, {"texts": texts, "batch": batch, "target": "ratio >= 1.0",
                                  "met": ours_rate / runtime_rate >= 1.0})  # fmt: skip
