"""Fault soak: embeddings and chat calls through a protocol server that injects the faults real deployments do.

    python -m bench soak                              # 10,000 texts, 1,000 chat calls (half streaming)
    python -m bench.soak --texts 500 --chats 40       # a short run

The server is the hfbridge protocol server backed by the local models, on loopback. Faults (default mix): 20% 429
without Retry-After (as TGI, TEI and most providers send them), 10% 503 loading with estimated_time, 5% dropped
connections, 5% stalls beyond the client timeout, 2% mid-stream error events. The report checks: no embedding lost,
duplicated or out of order (each vector compared with the fault-free one at the same position); every stream that
failed after its first chunk raised StreamInterruptedError; no call overran its deadline by more than one wait.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hfbridge import HFBridgeError, HubBackend, LocalBackend, RetryPolicy, StreamInterruptedError
from hfbridge.server import FaultPlan, ServerThread, create_app

from ._table import results_dir

#: ``python -m bench --quick soak``: a smoke run (still every fault kind, a few of each).
QUICK = {"texts": 300, "chats": 24}
DEFAULT_RATES = {"rate_limited": 0.20, "loading": 0.10, "drop": 0.05, "stall": 0.05, "midstream_error": 0.02}


@dataclass
class SoakReport:
    texts: int
    chat_calls: int
    stream_calls: int
    requests_seen_by_server: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    retries_logged: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    embeddings_lost: int = 0
    embeddings_mismatched: int = 0
    streams_interrupted_typed: int = 0
    streams_failed_untyped: int = 0
    max_overrun_seconds: float = 0.0
    allowed_overrun_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.embeddings_lost == 0
            and self.embeddings_mismatched == 0
            and self.streams_failed_untyped == 0
            and self.max_overrun_seconds <= self.allowed_overrun_seconds
        )


class _RetryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            with self._lock:
                self.count += 1


def run_soak(
    texts: int = 10_000,
    chats: int = 1_000,
    *,
    rates: dict[str, float] | None = None,
    seed: int = 7,
    workers: int = 4,
    local: LocalBackend | None = None,
) -> SoakReport:
    local = local or LocalBackend()
    # The local chat model serves one generation at a time: the timeout must cover a few queued generations, or
    # the soak measures queueing rather than the injected faults. Stalls last 1.5 timeouts.
    timeout = 3.0
    # 42% of requests fault: 14 attempts make a batch that fails every time a one-in-200,000 event.
    policy = RetryPolicy(max_attempts=14, deadline=30.0, base_delay=0.02, max_delay=0.2, seed=seed)
    plan = FaultPlan(
        rates=rates or DEFAULT_RATES,
        seed=seed,
        defaults={
            "loading": {"estimated_time": 0.05},
            "stall": {"stall_seconds": timeout * 1.5},
            "midstream_error": {"after_chunks": 2},
        },
    )
    corpus = [f"soak text {i}: the invoice number {i * 7919 % 10007} is wrong" for i in range(texts)]
    reference = np.array(local.feature_extraction(corpus))  # fault-free, in-process
    report = SoakReport(texts=texts, chat_calls=chats, stream_calls=chats // 2)
    counter = _RetryCounter()
    # Retries are counted here, not printed (thousands of lines would bury the report), whatever level a caller
    # set to quiet them (python -m bench sets ERROR, which would hide them from the counter too).
    hfbridge_logger = logging.getLogger("hfbridge")
    saved_logging = hfbridge_logger.level, hfbridge_logger.propagate
    hfbridge_logger.setLevel(logging.WARNING)
    hfbridge_logger.propagate = False
    hfbridge_logger.addHandler(counter)
    failures: Counter[str] = Counter()
    overruns: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()
    try:
        with ServerThread(create_app(local, fault_plan=plan)) as server:
            hub = HubBackend(base_url=server.url, timeout=timeout, retry=policy, batch_size=32, max_concurrency=workers)
            vectors = np.array(hub.feature_extraction(corpus))
            report.embeddings_lost = max(0, texts - len(vectors))
            if len(vectors) == texts:
                cosines = np.sum(vectors * reference, axis=1)
                report.embeddings_mismatched = int(np.sum(cosines < 0.9999))

            def chat(index: int) -> None:
                messages = [{"role": "user", "content": f"Say hello number {index}."}]
                call_started = time.monotonic()
                try:
                    if index % 2 == 0:
                        for _ in hub.stream_chat_completion(messages, max_tokens=6):
                            pass
                    else:
                        hub.chat_completion(messages, max_tokens=6)
                except StreamInterruptedError:
                    with lock:
                        failures["StreamInterruptedError"] += 1
                        report.streams_interrupted_typed += 1
                except HFBridgeError as error:
                    with lock:
                        failures[type(error).__name__] += 1
                except Exception as error:  # anything untyped is a bug
                    with lock:
                        failures[f"untyped:{type(error).__name__}"] += 1
                        if index % 2 == 0:
                            report.streams_failed_untyped += 1
                with lock:
                    overruns.append(time.monotonic() - call_started - (policy.deadline or 0))

            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(chat, range(chats)))
    finally:
        _wait_for_abandoned_generations()
        hfbridge_logger.removeHandler(counter)
        hfbridge_logger.setLevel(saved_logging[0])
        hfbridge_logger.propagate = saved_logging[1]
    report.seconds = round(time.monotonic() - started, 2)
    report.requests_seen_by_server = plan.stats["requests"]
    report.faults_injected = {k: v for k, v in plan.stats.items() if k not in ("requests", "ok")}
    report.retries_logged = counter.count
    report.failures = dict(failures)
    report.max_overrun_seconds = round(max(overruns, default=0.0), 3)
    # The retrier never starts a wait that ends past the deadline, so a call overruns it by at most the attempt in
    # flight (bounded by the client timeout) plus one wait.
    report.allowed_overrun_seconds = timeout + policy.max_delay
    return report


def _wait_for_abandoned_generations() -> None:
    """Streams whose client went away (dropped, timed out, interrupted) leave the local model generating on its
    own threads until max_tokens. Wait for them: a process that exits while llama.cpp runs in a thread is aborted
    ("FATAL: exception not rethrown", exit code 134), and the next soak would queue behind them."""
    for thread in threading.enumerate():
        if thread.name == "hfbridge-llama-stream":
            thread.join()


def run(texts: int = 10_000, chats: int = 1_000, seed: int = 7) -> SoakReport:
    """Run the soak, print its report and write it to the results directory (``python -m bench soak``)."""
    report = run_soak(texts, chats, seed=seed)
    payload: dict[str, Any] = {**asdict(report), "ok": report.ok}
    (results_dir() / "soak.json").write_text(json.dumps(payload, indent=2))
    for key, value in payload.items():
        print(f"{key:<28} {value}")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    run(args.texts, args.chats, seed=args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
