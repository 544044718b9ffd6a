"""Flow control with the defaults a user keeps (issue 14), against servers that behave like real ones.

``python -m bench flow`` (or ``bash scripts/bench.sh flow``) prints two tables and writes
``bench/results/flow.json``:

1. **Throughput** — an embedding job against a TEI-like server (bench/deployments.py): ``slots`` requests served at
   once, each taking ``latency`` (2, 8 and 32 slots of 50 ms; 32 slots of 200 ms), at most 32 texts per request
   (TEI's ``max_client_batch_size``, 413 beyond), at most ``2 * slots + 8`` requests admitted (429 ``Overloaded``
   beyond, as TEI's ``max_concurrent_requests``). The job lasts 80 server round trips at the ceiling (``slots * 32 /
   latency`` texts/s): four seconds at 50 ms. Columns: texts/s, fraction of the ceiling, the 429s the server sent and
   the most requests it held at once. 32 slots of 50 ms are 640 requests/s (20,480 texts/s), more than this 2-core
   machine can both send and serve (every answer is 32 vectors of JSON decoded on one side and encoded on the other):
   that row measures the machine as much as the client. 32 slots of 200 ms ask for the request rate of 8 slots of
   50 ms, which the machine sustains, so that row measures whether a client finds 32 slots.
2. **Rate limit** — 50 requests against a gateway allowing 10/s (burst 1), for each 429 form (no Retry-After,
   whole seconds, fractional). Ideal = 4.9 s (the first request goes at once). Columns: seconds, times the ideal, failed
   calls, 429s.

Every client appears with its defaults and tuned ("tuned" is stated in the row). hfbridge rows: the backend as a
user gets it (flow control on by default, issue 14), and the "before" backend (``flow=None``: a fixed
``max_concurrency`` of 4, a Retry-After re-timing the shared limiter, every 429 charged to ``max_attempts``). Anchors
(installed by scripts/bench.sh into .bench-anchors): langchain-openai ``OpenAIEmbeddings`` / ``ChatOpenAI``, the
``openai`` SDK, LlamaIndex ``OpenAIEmbedding`` / ``OpenAILike``, at the server's ``/v1`` routes. Numbers taken on a
shared machine are indicative only; the ratios within one run are what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from hfbridge import HubBackend, RetryPolicy
from hfbridge.langchain import ChatHF, HFEmbeddings

from . import _anchors
from ._serve import TEI_TASK, served
from ._table import report
from .doubles import vector_for

LATENCY = 0.05
BATCH = 32
#: The TEI-like servers of the throughput table: (slots, seconds a request takes).
SERVERS = ((2, LATENCY), (8, LATENCY), (32, LATENCY), (32, 0.2))
RATE = 10.0
REQUESTS = 50
MODES = ("none", "seconds", "fractional")


def admitted(slots: int) -> int:
    """Requests the TEI-like server admits at once (served and queued); beyond, it answers 429 Overloaded."""
    return 2 * slots + 8


Job = Callable[[str, list[str]], list[Any]]


# ============================================================================================== hfbridge
def before(url: str, **kwargs: Any) -> HubBackend:
    """The backend as it was before flow control (issue 14): what ``flow=None`` still gives."""
    return HubBackend(base_url=url, flow=None, **kwargs)


# ========================================================================================== the anchors
def _openai_client(url: str, **kwargs: Any) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{url}/v1", api_key="bench", **kwargs)


def sdk_embed(url: str, texts: list[str], *, batch: int | None = None, **kwargs: Any) -> list[Any]:
    """The SDK offers no batching: defaults send the whole list; tuned sends batches, one after another."""
    client = _openai_client(url, **kwargs)
    size = batch or len(texts)
    vectors: list[Any] = []
    for i in range(0, len(texts), size):
        answer = client.embeddings.create(model="bench", input=texts[i : i + size])
        vectors.extend(item.embedding for item in answer.data)
    return vectors


def sdk_chat(url: str, prompts: list[str], **kwargs: Any) -> list[Any]:
    client = _openai_client(url, **kwargs)
    return [client.chat.completions.create(model="bench", max_tokens=4,
                                           messages=[{"role": "user", "content": p}]) for p in prompts]  # fmt: skip


def langchain_embed(url: str, texts: list[str], **kwargs: Any) -> list[Any]:
    from langchain_openai import OpenAIEmbeddings

    return list(OpenAIEmbeddings(base_url=f"{url}/v1", api_key="bench", model="bench", **kwargs).embed_documents(texts))


def langchain_chat(url: str, prompts: list[str], **kwargs: Any) -> list[Any]:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{url}/v1", api_key="bench", model="bench", max_tokens=4, **kwargs)
    return list(chat.batch(prompts))


def llama_embed(url: str, texts: list[str], **kwargs: Any) -> list[Any]:
    from llama_index.embeddings.openai import OpenAIEmbedding

    model = OpenAIEmbedding(api_base=f"{url}/v1", api_key="bench", model_name="text-embedding-3-small", **kwargs)
    if kwargs.get("num_workers"):
        return list(asyncio.run(model.aget_text_embedding_batch(texts)))
    return list(model.get_text_embedding_batch(texts))


def llama_chat(url: str, prompts: list[str], **kwargs: Any) -> list[Any]:
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(api_base=f"{url}/v1", api_key="bench", model="bench", is_chat_model=True, max_tokens=4, **kwargs)
    return [llm.complete(prompt) for prompt in prompts]


def hfbridge_chat(url: str, prompts: list[str], **kwargs: Any) -> list[Any]:
    target = {} if "backend" in kwargs else {"base_url": url}
    return list(ChatHF(**target, max_tokens=4, **kwargs).batch(prompts))


# ============================================================================================== running
def _deployment(url: str) -> dict[str, Any]:
    return dict(httpx2.get(f"{url}/_deployment", timeout=10).json())


def _status(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"failed: {type(error).__name__}: {text}"[:100]


def _timed(job: Job, url: str, items: list[str]) -> tuple[float, list[Any] | None, str]:
    started = time.perf_counter()
    try:
        results = job(url, items)
    except Exception as error:
        return time.perf_counter() - started, None, _status(error)
    return time.perf_counter() - started, results, "ok"


def _vectors_in_order(texts: list[str], vectors: list[Any]) -> bool:
    if len(vectors) != len(texts):
        return False
    step = max(1, len(texts) // 40)
    return all(abs(sum(a * b for a, b in zip(vectors[i], vector_for(texts[i]), strict=True)) - 1) < 1e-4
               for i in range(0, len(texts), step))  # fmt: skip


#: Clients that send one request at a time get this many requests at most (their rate does not depend on it).
ONE_AT_A_TIME = 100


def throughput_clients(slots: int) -> list[tuple[str, str, Job]]:
    tuned = slots + max(2, slots // 4)  # a hand-tuned concurrency: every slot busy and a short queue
    rows: list[tuple[str, str, Job]] = [
        ("hfbridge HFEmbeddings", "defaults", lambda url, t: HFEmbeddings(base_url=url).embed_documents(t)),
        ("hfbridge HFEmbeddings", f"tuned: max_concurrency={tuned} (the flow control's ceiling)",
         lambda url, t: HFEmbeddings(base_url=url, max_concurrency=tuned).embed_documents(t)),
        ("hfbridge HubBackend (before: flow=None)", "defaults (max_concurrency=4)",
         lambda url, t: before(url).feature_extraction(t)),
        ("hfbridge HubBackend (before: flow=None)", f"tuned: max_concurrency={tuned}",
         lambda url, t: before(url, max_concurrency=tuned).feature_extraction(t)),
        ("reference: raw InferenceClient", f"tuned: {tuned} threads", lambda url, t: _raw_embed(url, t, tuned)),
        ("langchain-openai OpenAIEmbeddings", "defaults", langchain_embed),
        ("langchain-openai OpenAIEmbeddings", f"tuned: chunk_size={BATCH}, check_embedding_ctx_length=False",
         lambda url, t: langchain_embed(url, t, chunk_size=BATCH, check_embedding_ctx_length=False)),
        ("openai SDK embeddings.create", "defaults (one call, every text)", sdk_embed),
        ("openai SDK embeddings.create", f"tuned: batches of {BATCH}", lambda url, t: sdk_embed(url, t, batch=BATCH)),
        ("llama-index OpenAIEmbedding", "defaults", llama_embed),
        ("llama-index OpenAIEmbedding", f"tuned: embed_batch_size={BATCH}, num_workers={tuned}",
         lambda url, t: llama_embed(url, t, embed_batch_size=BATCH, num_workers=tuned)),
    ]  # fmt: skip
    return rows


def _raw_embed(url: str, texts: list[str], threads: int) -> list[Any]:
    from huggingface_hub import InferenceClient

    client = InferenceClient(base_url=url, timeout=60)
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    with ThreadPoolExecutor(threads) as pool:
        arrays = list(pool.map(lambda b: client.feature_extraction(b, truncate=True), batches))
    return [row for array in arrays for row in array.tolist()]


def run_throughput(servers: tuple[tuple[int, float], ...], seconds: float, only: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for slots, latency in servers:
        ceiling = slots * BATCH / latency
        # The same number of round trips for every server: ``seconds`` at 50 ms, four times that at 200 ms.
        texts = [f"benchmark text number {i}" for i in range(int(ceiling * seconds * latency / LATENCY))]
        deployment = {"slots": slots, "latency": latency, "max_concurrent_requests": admitted(slots)}
        for client, settings, job in throughput_clients(slots):
            if only and only not in client:
                continue
            # Clients that send one request at a time: their rate does not depend on the job's length.
            one_at_a_time = client.startswith(("langchain-openai", "openai SDK", "llama-index")) and (
                "num_workers" not in settings)  # fmt: skip
            job_texts = texts[: ONE_AT_A_TIME * BATCH] if one_at_a_time else texts
            with served(max_batch_size=BATCH, deployment=deployment, task=TEI_TASK) as url:
                took, vectors, status = _timed(job, url, job_texts)
                seen = _deployment(url)
            if vectors is not None and not _vectors_in_order(job_texts, vectors):
                status = "WRONG ORDER"
            rate = len(job_texts) / took if status == "ok" else 0.0
            rows.append({"slots": slots, "latency_ms": round(latency * 1000), "client": client, "settings": settings,
                         "texts_per_s": rate,
                         "of_ceiling": rate / ceiling, "status": status, "server_429": seen["refused_overloaded"],
                         "max_in_system": seen["max_in_system"]})  # fmt: skip
            print(_line(rows[-1]), flush=True)
    return rows


def ratelimit_clients() -> list[tuple[str, str, str, Job]]:
    """(kind, client, settings, job): 50 requests of one text (embeddings) or one short chat each."""
    cap = 0.95 * RATE
    return [
        ("embed", "hfbridge HubBackend", "defaults",
         lambda url, t: HubBackend(base_url=url, batch_size=1).feature_extraction(t)),
        ("embed", "hfbridge HFEmbeddings", f"tuned: requests_per_second={cap:g}",
         lambda url, t: HFEmbeddings(base_url=url, batch_size=1, requests_per_second=cap).embed_documents(t)),
        ("embed", "hfbridge HubBackend (before: flow=None)", "defaults",
         lambda url, t: before(url, batch_size=1).feature_extraction(t)),
        ("embed", "hfbridge HubBackend (before: flow=None)", "tuned: max_attempts=20, no deadline",
         lambda url, t: before(url, batch_size=1,
                               retry=RetryPolicy(max_attempts=20, deadline=None)).feature_extraction(t)),
        ("embed", "openai SDK embeddings.create", "defaults (max_retries=2)",
         lambda url, t: sdk_embed(url, t, batch=1)),
        ("embed", "openai SDK embeddings.create", "tuned: max_retries=10",
         lambda url, t: sdk_embed(url, t, batch=1, max_retries=10)),
        ("embed", "langchain-openai OpenAIEmbeddings", "defaults (max_retries=2)",
         lambda url, t: langchain_embed(url, t, chunk_size=1)),
        ("embed", "langchain-openai OpenAIEmbeddings", "tuned: max_retries=10, check_embedding_ctx_length=False",
         lambda url, t: langchain_embed(url, t, chunk_size=1, max_retries=10, check_embedding_ctx_length=False)),
        ("embed", "llama-index OpenAIEmbedding", "defaults (max_retries=10)",
         lambda url, t: llama_embed(url, t, embed_batch_size=1)),
        ("chat", "hfbridge ChatHF.batch", "defaults", hfbridge_chat),
        ("chat", "hfbridge ChatHF.batch", f"tuned: requests_per_second={cap:g}",
         lambda url, p: hfbridge_chat(url, p, requests_per_second=cap)),
        ("chat", "hfbridge ChatHF.batch (before: flow=None)", "defaults",
         lambda url, p: hfbridge_chat(url, p, backend=before(url))),
        ("chat", "langchain-openai ChatOpenAI.batch", "defaults (max_retries=2)", langchain_chat),
        ("chat", "langchain-openai ChatOpenAI.batch", "tuned: max_retries=10",
         lambda url, p: langchain_chat(url, p, max_retries=10)),
        ("chat", "openai SDK chat.completions", "defaults (max_retries=2)", sdk_chat),
        ("chat", "openai SDK chat.completions", "tuned: max_retries=10",
         lambda url, p: sdk_chat(url, p, max_retries=10)),
        ("chat", "llama-index OpenAILike", "defaults (max_retries=3)", llama_chat),
        ("chat", "llama-index OpenAILike", "tuned: max_retries=10", lambda url, p: llama_chat(url, p, max_retries=10)),
    ]  # fmt: skip


def run_ratelimit(modes: tuple[str, ...], only: str | None) -> list[dict[str, Any]]:
    ideal = (REQUESTS - 1) / RATE
    rows: list[dict[str, Any]] = []
    for mode in modes:
        for kind, client, settings, job in ratelimit_clients():
            if only and only not in client:
                continue
            items = [f"rate limited {kind} {i}" for i in range(REQUESTS)]
            with served(max_batch_size=BATCH, deployment={"rate": RATE, "retry_after": mode}, task=TEI_TASK) as url:
                took, _, status = _timed(job, url, items)
                seen = _deployment(url)
            failed = REQUESTS - seen["served"] if status == "ok" else f"job failed ({seen['served']} served)"
            rows.append({"retry_after": mode, "job": kind, "client": client, "settings": settings,
                         "seconds": took if status == "ok" else None,
                         "of_ideal": took / ideal if status == "ok" else None, "failed_calls": failed,
                         "server_429": seen["refused_rate"], "status": status})  # fmt: skip
            print(_line(rows[-1]), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def run(seconds: float = 4.0, servers: tuple[tuple[int, float], ...] = SERVERS, modes: tuple[str, ...] = MODES,
        only: str | None = None, parts: tuple[str, ...] = ("throughput", "ratelimit")) -> dict[str, Any]:  # fmt: skip
    _anchors.load()  # puts .bench-anchors on sys.path
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", _tiktoken_cache())
    results: dict[str, Any] = {}
    if "throughput" in parts:
        rows = run_throughput(servers, seconds, only)
        settings = {"texts_per_request": BATCH, "admitted": "2 x slots + 8", "job_round_trips": round(seconds / 0.05)}
        results["throughput"] = report("flow-throughput", rows, settings)
    if "ratelimit" in parts:
        rows = run_ratelimit(modes, only)
        results["ratelimit"] = report("flow-ratelimit", rows, {"requests": REQUESTS, "server_limit_per_s": RATE,
                                      "ideal_s": (REQUESTS - 1) / RATE})  # fmt: skip
    return results


def _tiktoken_cache() -> str:
    """OpenAIEmbeddings counts tokens with tiktoken, which downloads its encodings; LlamaIndex ships them."""
    import llama_index.core

    return str(Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache")


def main(argv: list[str] | None = None) -> None:
    import logging

    if not os.environ.get("HFBRIDGE_BENCH_VERBOSE"):  # retries are logged at WARNING; here they would bury the tables
        logging.getLogger("hfbridge").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(prog="python -m bench.flow", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="job length at the ceiling (throughput)")
    parser.add_argument("--servers", default=",".join(_server_name(*server) for server in SERVERS),
                        help="throughput servers: SLOTS or SLOTS@MS (ms a request; 50 when omitted)")  # fmt: skip
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--only", help="only clients whose name contains this")
    parser.add_argument("--part", choices=["throughput", "ratelimit"], action="append")
    args = parser.parse_args(argv)
    servers = tuple(_parse_server(name) for name in args.servers.split(","))
    run(args.seconds, servers, tuple(args.modes.split(",")), args.only, tuple(args.part or ("throughput", "ratelimit")))


def _server_name(slots: int, latency: float) -> str:
    return str(slots) if latency == LATENCY else f"{slots}@{round(latency * 1000)}"


def _parse_server(name: str) -> tuple[int, float]:
    slots, _, milliseconds = name.partition("@")
    return int(slots), float(milliseconds) / 1000 if milliseconds else LATENCY


if __name__ == "__main__":
    main()
