"""``HFLLM``: a LlamaIndex function-calling LLM on any hfbridge backend."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from pydantic import Field

from .._adapter_fields import BackendTarget
from .._signatures import freeze_signatures
from ..errors import InvalidInputError, OutputTruncatedError
from ..tools import normalize_tool_choice
from ..types import ChatCompletionChunk, Usage
from ._convert import to_chat_message, to_openai, usage_kwargs

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["HFLLM"]

logger = logging.getLogger("hfbridge")

_OPTIONS = ("max_tokens", "temperature", "top_p", "stop", "seed", "tools", "tool_choice", "response_format")


class HFLLM(BackendTarget, FunctionCallingLLM):
    """A LlamaIndex ``FunctionCallingLLM``: chat, complete, streaming and async, tool calling (``FunctionAgent``
    accepts it), on Hugging Face models or the offline local backend.

    >>> from hfbridge.llama_index import HFLLM
    >>> llm = HFLLM(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto", max_tokens=256)
    >>> llm = HFLLM()                      # offline: LocalBackend

    Decorated with LlamaIndex's callback decorators, so instrumentation events and ``rate_limiter`` work. The
    caller's messages are never mutated; no network call happens in ``__init__``; clients are never closed
    between calls (each stream closes only its own response).
    """

    model: str | None = Field(default=None, description="Hub model id (or, with base_url, the served model name).")
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, description="Most tokens to generate.")
    top_p: float | None = Field(default=None, description="Nucleus sampling.")
    stop: list[str] | None = Field(default=None, description="Stop sequences.")
    seed: int | None = Field(default=None, description="Sampling seed.")
    context_window: int = Field(default=4096, description="Context length reported in metadata.")

    @classmethod
    def class_name(cls) -> str:
        return "HFBridge_LLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or -1,
            is_chat_model=True,
            is_function_calling_model=True,
            model_name=self.model or self.client.model_id,
        )

    # ---------------------------------------------------------------------------------------------- options
    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(kwargs)
        options: dict[str, Any] = {
            "model": self._model_override(kwargs),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": self.stop,
            "seed": self.seed,
        }
        for key in _OPTIONS:
            if key in kwargs:
                options[key] = kwargs.pop(key)
        if kwargs:
            logger.debug("hfbridge HFLLM: ignoring options %s", sorted(kwargs))
        return {key: value for key, value in options.items() if value is not None}

    # ------------------------------------------------------------------------------------------------ chat
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = self.client.chat_completion(to_openai(messages), **self._options(kwargs))
        return ChatResponse(
            message=to_chat_message(completion),
            raw=completion.model_dump(),
            additional_kwargs={**usage_kwargs(completion.usage), "finish_reason": completion.finish_reason},
        )

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = await self.client.achat_completion(to_openai(messages), **self._options(kwargs))
        return ChatResponse(
            message=to_chat_message(completion),
            raw=completion.model_dump(),
            additional_kwargs={**usage_kwargs(completion.usage), "finish_reason": completion.finish_reason},
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        stream = self.client.stream_chat_completion(to_openai(messages), **self._options(kwargs))

        def generate() -> ChatResponseGen:
            state = _StreamState()
            for chunk in stream:
                yield state.add(chunk)

        return generate()

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        stream = self.client.astream_chat_completion(to_openai(messages), **self._options(kwargs))

        async def generate() -> ChatResponseAsyncGen:
            state = _StreamState()
            async for chunk in stream:
                yield state.add(chunk)

        return generate()

    # ------------------------------------------------------------------------------------------ completion
    # A prompt that is not a str (None, a number) is refused here, before a message is built around it.
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(_prompt(prompt), **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await achat_to_completion_decorator(self.achat)(_prompt(prompt), **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(_prompt(prompt), **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self.astream_chat)(_prompt(prompt), **kwargs)

    # ----------------------------------------------------------------------------------------------- tools
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])  # a new list: the caller's history is never mutated
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        specs = [tool.metadata.to_openai_tool() for tool in tools]
        if specs:
            self.client.check_chat_support(model=self.model, tools=True)
            prepared["tools"] = specs
            default = "required" if tool_required else "auto"
            prepared["tool_choice"] = normalize_tool_choice(default if tool_choice is None else tool_choice, specs)
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if allow_parallel_tool_calls:
            return response
        calls = [block for block in response.message.blocks if isinstance(block, ToolCallBlock)]
        if len(calls) > 1:
            others = [block for block in response.message.blocks if not isinstance(block, ToolCallBlock)]
            response.message.blocks = [*others, calls[0]]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        cut = response.additional_kwargs.get("finish_reason") == "length"
        selections = []
        for block in response.message.blocks:
            if not isinstance(block, ToolCallBlock):
                continue
            arguments = block.tool_kwargs
            if isinstance(arguments, str):
                if cut:
                    arguments = _whole_arguments(block.tool_name, arguments)
                else:  # a stream in progress: LlamaIndex reads partial arguments (stream_structured_predict)
                    try:
                        arguments = parse_partial_json(arguments) if arguments.strip() else {}
                    except (ValueError, json.JSONDecodeError):
                        arguments = {}
            selections.append(
                ToolSelection(tool_id=block.tool_call_id or "", tool_name=block.tool_name, tool_kwargs=arguments)
            )
        if not selections and error_on_no_tool_call:
            if cut:
                raise OutputTruncatedError(
                    "the answer was cut by max_tokens (finish_reason 'length') before any tool call; raise max_tokens",
                    received_text=response.message.content or "",
                )
            raise ValueError(f"expected at least one tool call, got none: {response.message.content!r}")
        return selections


def _whole_arguments(tool: str, arguments: str) -> dict[str, Any]:
    """The arguments of a call in an answer cut by max_tokens: usable only if they are whole JSON (a partial parse
    would hand the tool a half-filled object)."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        raise OutputTruncatedError(
            f"the call of tool {tool!r} was cut by max_tokens (finish_reason 'length'): its arguments are incomplete "
            f"JSON ({len(arguments)} characters received); raise max_tokens",
            received_text=arguments,
        ) from None
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _prompt(prompt: Any) -> str:
    if not isinstance(prompt, str):
        raise InvalidInputError(f"prompt must be a str, got {type(prompt).__name__}")
    return prompt


freeze_signatures(
    HFLLM,
    "chat",
    "achat",
    "stream_chat",
    "astream_chat",
    "complete",
    "acomplete",
    "stream_complete",
    "astream_complete",
)


class _StreamState:
    """Accumulates streamed chunks into the whole message so far (content and tool calls), LlamaIndex style."""

    def __init__(self) -> None:
        self.text = ""
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def add(self, chunk: ChatCompletionChunk) -> ChatResponse:
        self.text += chunk.content
        for delta in chunk.tool_calls:
            call = self.calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] = call["name"] or (delta.name or "")
            call["arguments"] += delta.arguments
        if chunk.usage is not None:
            self.usage = chunk.usage
        self.finish_reason = chunk.finish_reason or self.finish_reason
        blocks: list[Any] = [TextBlock(text=self.text)] if self.text or not self.calls else []
        blocks += [
            ToolCallBlock(tool_call_id=call["id"], tool_name=call["name"], tool_kwargs=call["arguments"])
            for _, call in sorted(self.calls.items())
        ]
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks),
            delta=chunk.content,
            raw=chunk.model_dump(),
            additional_kwargs={**usage_kwargs(self.usage), "finish_reason": self.finish_reason},
        )
