"""Language-model tasks: OpenAI-compatible chat and TGI text generation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _validation as check
from ..backends import _wire
from ..types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    GenerationToken,
    TextGeneration,
    TextGenerationChunk,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)
from ._spec import HubCall, Limits, Serving, StreamSpec, Task

__all__ = ["CHAT", "TEXT_GENERATION", "ChatRequest", "GenerationRequest"]


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a raw answer: a dict (fast path) or one of huggingface_hub's dataclasses (public path)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _stop_list(stop: str | Sequence[str] | None) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else list(stop)


# ============================================================================================================ chat
@dataclass(slots=True)
class ChatRequest:
    messages: Sequence[Any]
    model: str | None = None
    tools: Sequence[dict[str, Any]] | None = None
    tool_choice: ToolChoice | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | Sequence[str] | None = None
    seed: int | None = None


def _validate_chat(request: ChatRequest, limits: Limits) -> ChatRequest:
    # In place: the request was built for this call by the generated method (and normalising twice changes nothing).
    request.tools = tools = check.normalize_tools(request.tools)
    if request.max_tokens is not None and request.max_tokens < 1:
        raise check.InvalidInputError("max_tokens must be at least 1")
    request.messages = check.normalize_messages(request.messages)
    request.tool_choice = check.normalize_tool_choice(request.tool_choice, tools)
    request.stop = _stop_list(request.stop)
    return request


def _chat_kwargs(request: ChatRequest, target: Any, stream: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": target.chat_model(request.model),
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": request.response_format,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "stream": stream,
    }
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs


def _arguments(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(
        prompt_tokens=_get(raw, "prompt_tokens", 0) or 0,
        completion_tokens=_get(raw, "completion_tokens", 0) or 0,
        total_tokens=_get(raw, "total_tokens", 0) or 0,
    )


def parse_chat_output(output: Any, request: Any = None) -> ChatCompletion:
    choice = (_get(output, "choices") or [None])[0]
    message = _get(choice, "message")
    calls = []
    for index, call in enumerate(_get(message, "tool_calls") or []):
        function = _get(call, "function")
        calls.append(
            ToolCall(
                id=_get(call, "id") or f"call_{index}",
                name=_get(function, "name") or "",
                arguments=_arguments(_get(function, "arguments")) or "{}",
            )
        )
    return ChatCompletion(
        id=_get(output, "id") or "",
        model=_get(output, "model") or "",
        message=ChatMessage(role="assistant", content=_get(message, "content"), tool_calls=calls),
        finish_reason=_get(choice, "finish_reason"),
        usage=_usage(_get(output, "usage")),
    )


def parse_chat_chunk(raw: Any) -> ChatCompletionChunk:
    choices = _get(raw, "choices") or []
    choice = choices[0] if choices else None
    delta = _get(choice, "delta")
    raw_calls = _get(delta, "tool_calls") or []
    if not isinstance(raw_calls, list):  # older TGI sent one object instead of a list
        raw_calls = [raw_calls]
    deltas = []
    for position, call in enumerate(raw_calls):
        function = _get(call, "function")
        index = _get(call, "index")
        deltas.append(
            ToolCallDelta(
                index=index if isinstance(index, int) else position,
                id=_get(call, "id") or None,
                name=_get(function, "name") or None,
                arguments=_arguments(_get(function, "arguments")),
            )
        )
    return ChatCompletionChunk(
        id=_get(raw, "id") or "",
        model=_get(raw, "model") or "",
        content=_get(delta, "content") or "",
        tool_calls=deltas,
        finish_reason=_get(choice, "finish_reason"),
        usage=_usage(_get(raw, "usage")),
    )


def _chunk_text(chunk: ChatCompletionChunk) -> str:
    return chunk.content + "".join(delta.arguments for delta in chunk.tool_calls)


CHAT: Task[ChatRequest, ChatCompletion] = Task(
    name="chat_completion",
    pipeline_tag="chat",
    request=ChatRequest,
    result="ChatCompletion",
    doc="""OpenAI-compatible chat. ``messages`` are :class:`ChatMessage` objects or OpenAI dicts (not mutated).

        ``tools`` are OpenAI function tools; ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"``/``"any"``, a
        tool name or an OpenAI dict; ``response_format`` is ``json_object``, ``json_schema``, or TGI's
        ``{"type": "json", "value": schema}``.
        """,
    validate=_validate_chat,
    hub=HubCall(
        send=lambda client, request, target: _wire.chat(
            client, request.messages, **_chat_kwargs(request, target, False)
        ),
        parse=parse_chat_output,
        open_stream=lambda client, request, target: _wire.chat_stream(
            client, request.messages, **_chat_kwargs(request, target, True)
        ),
        parse_chunk=parse_chat_chunk,
    ),
    local="_chat",
    stream=StreamSpec(method="stream_chat_completion", chunk="ChatCompletionChunk", text_of=_chunk_text),
    serving=Serving(routes=("/v1/chat/completions", "/chat/completions"), aliases=("conversational",)),
)


# ================================================================================================ text generation
@dataclass(slots=True)
class GenerationRequest:
    prompt: str
    model: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | Sequence[str] | None = None
    seed: int | None = None


def _validate_generation(request: GenerationRequest, limits: Limits) -> GenerationRequest:
    check.check_text(request.prompt, "prompt", max_chars=max(limits.max_input_chars, 1_000_000))
    if request.max_new_tokens is not None and request.max_new_tokens < 1:
        raise check.InvalidInputError("max_new_tokens must be at least 1")
    request.stop = _stop_list(request.stop)
    return request


def _generation_kwargs(request: GenerationRequest, target: Any, stream: bool) -> dict[str, Any]:
    return {
        "model": target.task_model(request.model, "text-generation"),
        "max_new_tokens": request.max_new_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
        "details": True,
        "stream": stream,
    }


def _token(raw: Any) -> GenerationToken:
    return GenerationToken(
        id=_get(raw, "id", 0) or 0,
        text=_get(raw, "text", "") or "",
        logprob=_get(raw, "logprob"),
        special=bool(_get(raw, "special", False)),
    )


def parse_generation_output(output: Any, request: Any = None) -> TextGeneration:
    if isinstance(output, str):
        return TextGeneration(generated_text=output)
    details = _get(output, "details")
    return TextGeneration(
        generated_text=_get(output, "generated_text", "") or "",
        finish_reason=_get(details, "finish_reason"),
        generated_tokens=_get(details, "generated_tokens"),
        prompt_tokens=len(_get(details, "prefill") or []) or None,
        tokens=[_token(token) for token in _get(details, "tokens") or []],
    )


def parse_generation_chunk(raw: Any) -> TextGenerationChunk:
    if isinstance(raw, str):
        return TextGenerationChunk(token=GenerationToken(text=raw))
    details = _get(raw, "details")
    return TextGenerationChunk(
        token=_token(_get(raw, "token")),
        generated_text=_get(raw, "generated_text"),
        finish_reason=_get(details, "finish_reason"),
        generated_tokens=_get(details, "generated_tokens"),
    )


def _token_text(chunk: TextGenerationChunk) -> str:
    return "" if chunk.token.special else chunk.token.text


TEXT_GENERATION: Task[GenerationRequest, TextGeneration] = Task(
    name="text_generation",
    pipeline_tag="text-generation",
    request=GenerationRequest,
    result="TextGeneration",
    doc="""Continue ``prompt`` (TGI protocol), with details: finish reason and token counts.""",
    validate=_validate_generation,
    hub=HubCall(
        send=lambda client, request, target: client.text_generation(
            request.prompt, **_generation_kwargs(request, target, False)
        ),
        parse=parse_generation_output,
        open_stream=lambda client, request, target: client.text_generation(
            request.prompt, **_generation_kwargs(request, target, True)
        ),
        parse_chunk=parse_generation_chunk,
    ),
    local="_generate",
    stream=StreamSpec(method="stream_text_generation", chunk="TextGenerationChunk", text_of=_token_text),
    batch_method="text_generation_batch",
    serving=Serving(routes=("/generate", "/generate_stream"), aliases=("generate",)),
)
