"""``ChatHF``: a LangChain chat model on any hfbridge backend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, Field

from .. import errors
from .._signatures import freeze_signatures
from ..errors import OutputTruncatedError
from ..tools import normalize_tool_choice
from ..types import ChatCompletionChunk
from ._config import BackendFields
from ._convert import PROVIDER, to_ai_chunk, to_ai_message, to_openai

__all__ = ["ChatHF"]

_CALL_OPTIONS = ("tools", "tool_choice", "response_format", "seed")


class ChatHF(BackendFields, BaseChatModel):
    """Chat with Hugging Face models (Inference Providers, Endpoints, TGI/vLLM URLs) or the offline local backend.

    >>> from hfbridge.langchain import ChatHF
    >>> llm = ChatHF(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto", max_tokens=256)
    >>> llm = ChatHF(base_url="http://127.0.0.1:8080")          # any OpenAI-compatible / TGI server
    >>> llm = ChatHF()                                           # offline: LocalBackend

    Tool calling (``bind_tools`` with every ``tool_choice`` form), streamed tool-call chunks, structured output
    (``function_calling``, ``json_schema``, ``json_mode``), usage metadata on invoke and streams. Retries, rate
    limits and timeouts live in the backend.
    """

    temperature: float | None = Field(default=None, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, description="Most tokens to generate.", alias="max_new_tokens")
    top_p: float | None = Field(default=None, description="Nucleus sampling.")
    stop: list[str] | None = Field(default=None, description="Stop sequences.", alias="stop_sequences")
    seed: int | None = Field(default=None, description="Sampling seed.")
    streaming: bool = Field(default=False, description="Stream in invoke() too (callbacks see tokens).")

    @property
    def _llm_type(self) -> str:
        return "chat-huggingface-hfbridge"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model or self.client.model_id,
            "backend": self.client.name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model") or self.model or self.client.model_id,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Sequence[Any] | None = None) -> int:
        # The base class downloads a GPT-2 tokenizer; an approximation that needs no network is the honest choice.
        return count_tokens_approximately(messages)

    def get_num_tokens(self, text: str) -> int:
        return count_tokens_approximately([text])

    # ------------------------------------------------------------------------------------------------ batches
    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[AIMessage]:
        """LangChain's ``batch``, with as many calls at once as the backend takes (``backend.max_concurrency``)
        unless the config sets ``max_concurrency``.

        Runnable's default is its thread pool's size (cores + 4): when those few calls all wait out a 429's
        ``Retry-After: 1``, the whole batch idles for a second. With more calls waiting in the backend, its flow
        control keeps sending at the learned pace while the refused ones wait (measured: 1.37 to 1.52 times the
        ideal time with 6 threads, 1.15 to 1.20 with 16 or 50, for 50 chats against 10/s with whole-second Retry-After).
        """
        configs = _with_concurrency(config, len(inputs), self.client.max_concurrency)
        return super().batch(inputs, configs, return_exceptions=return_exceptions, **kwargs)

    # ------------------------------------------------------------------------------------------------ options
    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(kwargs)
        options: dict[str, Any] = {
            "model": self._model_override(kwargs),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
            "temperature": kwargs.pop("temperature", self.temperature),
            "top_p": kwargs.pop("top_p", self.top_p),
            "stop": stop if stop is not None else kwargs.pop("stop", self.stop),
            "seed": kwargs.pop("seed", self.seed),
        }
        for key in _CALL_OPTIONS:
            if key in kwargs:
                options[key] = kwargs.pop(key)
        kwargs.pop("stream_options", None)
        kwargs.pop("ls_structured_output_format", None)
        if kwargs:
            raise errors.InvalidInputError(f"ChatHF got unexpected call options: {sorted(kwargs)}")
        return {key: value for key, value in options.items() if value is not None and value != []}

    def _model_name(self) -> str:
        return self.model or self.client.model_id

    # ------------------------------------------------------------------------------------------------ calls
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            chunks = list(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
            return _from_chunks(chunks)
        completion = self.client.chat_completion(to_openai(messages), **self._options(stop, kwargs))
        return _result(_whole_tool_calls(to_ai_message(completion, self._model_name())))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            chunks = [chunk async for chunk in self._astream(messages, stop=stop, run_manager=run_manager, **kwargs)]
            return _from_chunks(chunks)
        completion = await self.client.achat_completion(to_openai(messages), **self._options(stop, kwargs))
        return _result(_whole_tool_calls(to_ai_message(completion, self._model_name())))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stream = self.client.stream_chat_completion(to_openai(messages), **self._options(stop, kwargs))
        finish: dict[str, Any] = {}
        for raw in stream:
            chunk = self._chunk(raw, finish)
            if chunk is None:
                continue
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        _check_streamed_tool_calls(finish)
        yield self._last_chunk(finish)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        stream = self.client.astream_chat_completion(to_openai(messages), **self._options(stop, kwargs))
        finish: dict[str, Any] = {}
        async for raw in stream:
            chunk = self._chunk(raw, finish)
            if chunk is None:
                continue
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        _check_streamed_tool_calls(finish)
        yield self._last_chunk(finish)

    def _chunk(self, raw: ChatCompletionChunk, finish: dict[str, Any]) -> ChatGenerationChunk | None:
        if raw.finish_reason:
            finish["finish_reason"] = raw.finish_reason
        if raw.model:
            finish["model_name"] = raw.model
        for delta in raw.tool_calls:  # the arguments so far, to tell a cut call at the end
            call = finish.setdefault("tool_calls", {}).setdefault(delta.index, {"name": "", "arguments": ""})
            call["name"] = call["name"] or delta.name or ""
            call["arguments"] += delta.arguments
        if not (raw.content or raw.tool_calls or raw.usage):
            return None
        return ChatGenerationChunk(message=to_ai_chunk(raw))

    def _last_chunk(self, finish: dict[str, Any]) -> ChatGenerationChunk:
        # Model name and finish reason go on exactly one chunk, the last, which also closes the stream.
        metadata = {
            "model_name": finish.get("model_name") or self._model_name(),
            "finish_reason": finish.get("finish_reason"),
            "model_provider": PROVIDER,
        }
        message = AIMessageChunk(content="", response_metadata=metadata, chunk_position="last")
        return ChatGenerationChunk(message=message, generation_info={"finish_reason": metadata["finish_reason"]})

    # ------------------------------------------------------------------------------------------------ tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind any number of tools. ``tool_choice``: ``"auto"``, ``"none"``, ``"required"``/``"any"``/``True``,
        a tool name, or an OpenAI ``{"type": "function", "function": {"name": ...}}`` dict."""
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        self.client.check_chat_support(model=self.model, tools=bool(formatted))
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = normalize_tool_choice(tool_choice, formatted)
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Pydantic classes give pydantic instances; TypedDicts and JSON schemas give dicts."""
        if kwargs:
            raise errors.InvalidInputError(f"unexpected arguments: {sorted(kwargs)}")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        if method == "function_calling":
            if schema is None:
                raise errors.InvalidInputError("schema is required for method='function_calling'")
            tool = convert_to_openai_tool(schema, strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools([tool], tool_choice=name, ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict}, "schema": tool})  # fmt: skip
            parser: Runnable[Any, Any] = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        elif method == "json_schema":
            self.client.check_chat_support(model=self.model, response_format=True)
            if schema is None:
                raise errors.InvalidInputError("schema is required for method='json_schema'")
            json_schema = convert_to_json_schema(schema)
            response_format = {"type": "json_schema", "json_schema": {
                "name": json_schema.get("title", "output"), "schema": json_schema,
                **({"strict": strict} if strict is not None else {})}}  # fmt: skip
            llm = self.bind(response_format=response_format, ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict}, "schema": json_schema})  # fmt: skip
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()  # type: ignore[arg-type]
        elif method == "json_mode":
            self.client.check_chat_support(model=self.model, response_format=True)
            llm = self.bind(response_format={"type": "json_object"}, ls_structured_output_format={
                "kwargs": {"method": method}, "schema": schema})  # fmt: skip
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()  # type: ignore[arg-type]
        else:
            raise errors.InvalidInputError(f"unknown method {method!r}; use function_calling, json_schema or json_mode")
        # An answer cut by max_tokens is refused before any parser sees it (parsers repair cut JSON into a half-filled
        # object); like ChatOpenAI's LengthFinishReasonError it is raised with include_raw too, not a parsing error.
        whole = llm | RunnableLambda(_whole_answer, name="refuse_truncated")
        if not include_raw:
            return whole | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=whole) | parsed.with_fallbacks([fallback], exception_key="parsing_error")


freeze_signatures(ChatHF, "_generate", "_agenerate")


def _whole_answer(message: BaseMessage) -> BaseMessage:
    """Structured output: an answer that stopped at max_tokens is not the whole object, whatever a parser makes
    of it (``ChatOpenAI`` raises ``LengthFinishReasonError`` here)."""
    if message.response_metadata.get("finish_reason") == "length":
        calls = getattr(message, "invalid_tool_calls", None) or getattr(message, "tool_calls", None) or []
        received = str(calls[0].get("args") or "") if calls else message.text
        raise OutputTruncatedError(
            "the structured output was cut by max_tokens (finish_reason 'length') before it was complete; "
            "raise max_tokens",
            received_text=received,
        )
    return message


def _whole_tool_calls(message: AIMessage) -> AIMessage:
    """A tool call whose arguments max_tokens cut (they do not parse) is refused: an agent would otherwise see no
    tool call and stop with an empty answer."""
    if message.response_metadata.get("finish_reason") == "length" and message.invalid_tool_calls:
        cut = message.invalid_tool_calls[0]
        raise _cut_tool_call(cut.get("name") or "", cut.get("args") or "")
    return message


def _check_streamed_tool_calls(finish: dict[str, Any]) -> None:
    """The streaming twin of :func:`_whole_tool_calls`, run once the stream has ended."""
    if finish.get("finish_reason") != "length":
        return
    for call in finish.get("tool_calls", {}).values():
        try:
            json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError:
            raise _cut_tool_call(call["name"], call["arguments"]) from None


def _cut_tool_call(name: str, arguments: str) -> OutputTruncatedError:
    return OutputTruncatedError(
        f"the call of tool {name!r} was cut by max_tokens (finish_reason 'length'): its arguments are incomplete "
        f"JSON ({len(arguments)} characters received); raise max_tokens",
        received_text=arguments,
    )


def _result(message: AIMessage) -> ChatResult:
    finish = message.response_metadata.get("finish_reason")
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info={"finish_reason": finish})],
        llm_output={
            "model_name": message.response_metadata.get("model_name"),
            "token_usage": dict(message.usage_metadata or {}),
        },
    )


def _from_chunks(chunks: list[ChatGenerationChunk]) -> ChatResult:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    message = total.message
    ai = AIMessage(
        content=message.content,
        tool_calls=getattr(message, "tool_calls", []),
        invalid_tool_calls=getattr(message, "invalid_tool_calls", []),
        usage_metadata=getattr(message, "usage_metadata", None),
        response_metadata=message.response_metadata,
        id=message.id,
    )
    return _result(ai)


def _with_concurrency(
    config: RunnableConfig | list[RunnableConfig] | None, calls: int, backend_limit: int
) -> RunnableConfig | list[RunnableConfig]:
    """``config`` with ``max_concurrency`` set to what the backend takes, where the caller did not set it."""
    default = max(1, min(calls, backend_limit))

    def one(item: RunnableConfig | None) -> RunnableConfig:
        filled = RunnableConfig(**(item or {}))
        if filled.get("max_concurrency") is None:
            filled["max_concurrency"] = default
        return filled

    return [one(item) for item in config] if isinstance(config, list) else one(config)
