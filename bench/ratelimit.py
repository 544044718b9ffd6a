"""A rate-limited job: the server allows N requests/s and answers 429 beyond it.

Run once per way a 429 can say when to come back (``RETRY_AFTER_MODES``): no ``Retry-After`` at all (what TGI, TEI
and most providers send: the realistic case), whole seconds, and fractional seconds (flattering: only our own double
ever sent it). Each row names its mode.

Target: our job time within 110% of the ideal (requests / N), zero failed calls. The anchors do not retry.
"""

from __future__ import annotations

import time
from typing import Any

from hfbridge import HubBackend, RateLimit, RetryPolicy
from hfbridge.langchain import HFEmbeddings
from hfbridge.server import RETRY_AFTER_MODES

from . import _anchors
from ._serve import TEI_TASK, served, stats
from ._table import report


def run(requests: int = 100, per_second: float = 20.0, modes: tuple[str, ...] = RETRY_AFTER_MODES) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for mode in modes:
        rows.extend(_rows(requests, per_second, mode))
    ideal = (requests - 1) / per_second
    ours = [r for r in rows if r["client"].startswith("hfbridge")]
    # The target is for the recommended set-up (a client RateLimit a little under the server's, plus retries on
    # 429); purely reactive clients are shown for comparison and must still lose no call.
    limited = [r for r in ours if "RateLimit" in r["client"] or "requests_per_second" in r["client"]]
    met = all(r["status"] == "ok" for r in ours) and all(r["met"] for r in limited)
    return report("ratelimit", rows, {"requests": requests, "server_limit_per_s": per_second, "modes": list(modes),
                                      "ideal_s": ideal, "target": "<=110% of ideal, 0 failed", "met": met})  # fmt: skip


def _rows(requests: int, per_second: float, mode: str) -> list[dict[str, Any]]:
    texts = [f"rate limited text {i}" for i in range(requests)]
    ideal = (requests - 1) / per_second  # the first request goes at once
    rows: list[dict[str, Any]] = []

    def job(name: str, embed: Any) -> None:
        with served(rate_limit_per_s=per_second, max_batch_size=32, retry_after_mode=mode, task=TEI_TASK) as url:
            started = time.perf_counter()
            try:
                vectors = embed(url, texts)
                status = "ok" if len(vectors) == requests else f"lost {requests - len(vectors)}"
            except Exception as error:
                status = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:60]}"
            seconds = time.perf_counter() - started
            refused = stats(url)["rate_limit_refusals"]
        rows.append({"retry_after": mode, "client": name, "seconds": seconds, "of_ideal": seconds / ideal,
                     "status": status, "server_429s": refused})  # fmt: skip

    retry = RetryPolicy(max_attempts=20, deadline=None)
    job(
        "hfbridge, reacting to 429 only",
        lambda url, t: HubBackend(base_url=url, batch_size=1, max_concurrency=4, retry=retry).feature_extraction(t),
    )
    job("hfbridge, client RateLimit at 97% of the server's",
        lambda url, t: HubBackend(base_url=url, batch_size=1, max_concurrency=4, retry=retry,
                                  rate_limit=RateLimit(0.97 * per_second, per=1.0)).feature_extraction(t))  # fmt: skip
    job(
        f"hfbridge HFEmbeddings (LangChain), requests_per_second={0.97 * per_second:g}",
        lambda url, t: HFEmbeddings(base_url=url, batch_size=1, max_concurrency=4, max_retries=19,
                                    requests_per_second=0.97 * per_second).embed_documents(t),
    )  # fmt: skip
    job(
        "hfbridge HFEmbeddings (LangChain), reacting to 429 only, max_retries=19",
        lambda url, t: HFEmbeddings(base_url=url, batch_size=1, max_concurrency=4, max_retries=19).embed_documents(t),
    )
    with _anchors.quiet_asyncio():
        for name, anchor in _anchors.load().items():
            if isinstance(anchor, Exception):
                rows.append({"retry_after": mode, "client": name, "status": "not installed"})
                continue
            if "langchain" in name:
                job(name, lambda url, t, a=anchor: a(model=url).embed_documents(t))
            else:
                job(name, lambda url, t, a=anchor: a(model_name=url).get_text_embedding_batch(t))
    for row in rows:
        if row["client"].startswith("hfbridge"):
            row["met"] = row["status"] == "ok" and row["of_ideal"] <= 1.10
    return rows
