"""Adapter overhead: ChatHF.invoke and LlamaIndex HFLLM.chat against the raw InferenceClient, same server, and
streaming per token. Targets: at most 2% or 200 us per call, 20 us per streamed token."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from huggingface_hub import InferenceClient
from llama_index.core.base.llms.types import ChatMessage

from hfbridge.langchain import ChatHF
from hfbridge.llama_index import HFLLM

from ._serve import served
from ._table import report


def _median_seconds(call: Callable[[], Any], rounds: int) -> float:
    for _ in range(10):
        call()  # warm up connections and caches
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(rounds: int = 300, stream_tokens: int = 400) -> dict[str, Any]:
    messages = [{"role": "user", "content": "hello"}]
    rows: list[dict[str, Any]] = []
    with served(tokens=stream_tokens) as url:
        raw = InferenceClient(base_url=url, timeout=30)
        chat = ChatHF(base_url=url, max_tokens=16)
        llm = HFLLM(base_url=url, max_tokens=16)
        li_messages = [ChatMessage(role="user", content="hello")]
        baseline = _median_seconds(lambda: raw.chat_completion(messages, max_tokens=16), rounds)
        rows.append({"call": "raw InferenceClient.chat_completion", "median_us": baseline * 1e6})
        for name, call in (("hfbridge ChatHF.invoke", lambda: chat.invoke("hello")),
                           ("hfbridge HFLLM.chat (LlamaIndex)", lambda: llm.chat(li_messages))):  # fmt: skip
            seconds = _median_seconds(call, rounds)
            overhead = seconds - baseline
            rows.append({"call": name, "median_us": seconds * 1e6, "overhead_us": overhead * 1e6,
                         "overhead_pct": 100 * overhead / baseline,
                         "met": overhead <= 200e-6 or overhead <= 0.02 * baseline})  # fmt: skip

        def raw_stream() -> None:
            for _ in raw.chat_completion(messages, max_tokens=stream_tokens, stream=True):
                pass

        def ours_stream() -> None:
            for _ in ChatHF(base_url=url, max_tokens=stream_tokens).stream("hello"):
                pass

        raw_s = _median_seconds(raw_stream, max(10, rounds // 10))
        ours_s = _median_seconds(ours_stream, max(10, rounds // 10))
        per_token = (ours_s - raw_s) / stream_tokens
        rows.append({"call": f"stream {stream_tokens} tokens: raw", "median_us": raw_s * 1e6})
        rows.append({"call": f"stream {stream_tokens} tokens: ChatHF.stream", "median_us": ours_s * 1e6,
                     "overhead_us": per_token * 1e6, "overhead_pct": 100 * (ours_s - raw_s) / raw_s,
                     "met": per_token <= 20e-6})  # fmt: skip
    met = all(row.get("met", True) for row in rows)
    return report("overhead", rows, {"rounds": rounds, "target": "<=2% or <=200us per call; <=20us per token",
                                     "note": "overhead_us is per call, or per token for the stream row",
                                     "met": met})  # fmt: skip
