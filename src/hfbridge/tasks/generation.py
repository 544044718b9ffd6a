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
from ._parse import as_list, field, integer, malformed, number, optional_string, refuse_error_body, string
from ._spec import HubCall, Limits, Serving, StreamSpec, Task

__all__ = ["CHAT", "TEXT_GENERATION", "ChatRequest", "GenerationRequest"]


_get = field  # kept for the modules that import it from here


#: The largest seed accepted: TGI reads it as a u64, OpenAI-compatible servers as an int64.
MAX_SEED = 2**63 - 1


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
    request.messages = check.normalize_messages(request.messages)
    request.model = check.check_model(request.model)
    request.tools = tools = check.normalize_tools(request.tools)
    request.tool_choice = check.normalize_tool_choice(request.tool_choice, tools)
    request.response_format = check.normalize_response_format(request.response_format)
    request.max_tokens = check.optional_int(request.max_tokens, "max_tokens")
    _check_sampling(request)
    return request


def _check_sampling(request: ChatRequest | GenerationRequest) -> None:
    request.temperature = check.optional_number(request.temperature, "temperature", minimum=0.0)
    request.top_p = check.optional_number(request.top_p, "top_p", above=0.0, maximum=1.0)
    request.stop = check.normalize_stop(request.stop)
    request.seed = check.optional_int(request.seed, "seed", minimum=0, maximum=MAX_SEED)


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


def _arguments(value: Any, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # some servers send the arguments as an object
        return json.dumps(value)
    raise malformed(f"{what} must be a JSON string or an object", value)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(
        prompt_tokens=integer(_get(raw, "prompt_tokens", 0) or 0, "usage.prompt_tokens"),
        completion_tokens=integer(_get(raw, "completion_tokens", 0) or 0, "usage.completion_tokens"),
        total_tokens=integer(_get(raw, "total_tokens", 0) or 0, "usage.total_tokens"),
    )


def _record(value: Any, what: str) -> Any:
    """An object of the answer: a dict (fast path) or a huggingface_hub dataclass (public path)."""
    if isinstance(value, dict) or hasattr(value, "__dataclass_fields__"):
        return value
    raise malformed(f"{what} must be an object", value)


def parse_chat_output(output: Any, request: Any = None) -> ChatCompletion:
    refuse_error_body(output)
    _record(output, "a chat completion")
    choices = as_list(_get(output, "choices"), "choices")
    if not choices:
        raise malformed("choices must hold at least one choice", choices)
    choice = _record(choices[0], "choices[0]")
    message = _record(_get(choice, "message"), "choices[0].message")
    calls = []
    for index, call in enumerate(as_list(_get(message, "tool_calls") or [], "message.tool_calls")):
        function = _record(_get(_record(call, f"tool_calls[{index}]"), "function"), f"tool_calls[{index}].function")
        calls.append(
            ToolCall(
                id=optional_string(_get(call, "id"), f"tool_calls[{index}].id") or f"call_{index}",
                name=string(_get(function, "name"), f"tool_calls[{index}].function.name", empty_ok=False),
                arguments=_arguments(_get(function, "arguments"), f"tool_calls[{index}].function.arguments") or "{}",
            )
        )
    return ChatCompletion(
        id=optional_string(_get(output, "id"), "id") or "",
        model=optional_string(_get(output, "model"), "model") or "",
        message=ChatMessage(
            role="assistant", content=optional_string(_get(message, "content"), "message.content"), tool_calls=calls
        ),
        finish_reason=optional_string(_get(choice, "finish_reason"), "finish_reason"),
        usage=_usage(_get(output, "usage")),
    )


def parse_chat_chunk(raw: Any) -> ChatCompletionChunk:
    refuse_error_body(raw)
    _record(raw, "a chat stream event")
    choices = as_list(_get(raw, "choices") or [], "choices")
    choice = _record(choices[0], "choices[0]") if choices else None
    delta = _get(choice, "delta")
    if delta is not None:
        _record(delta, "choices[0].delta")
    raw_calls = _get(delta, "tool_calls") or []
    if not isinstance(raw_calls, list):  # older TGI sent one object instead of a list
        raw_calls = [raw_calls]
    deltas = []
    for position, call in enumerate(raw_calls):
        function = _get(_record(call, f"tool_calls[{position}]"), "function")
        index = _get(call, "index")
        deltas.append(
            ToolCallDelta(
                index=index if isinstance(index, int) and not isinstance(index, bool) else position,
                id=optional_string(_get(call, "id"), f"tool_calls[{position}].id") or None,
                name=optional_string(_get(function, "name"), f"tool_calls[{position}].function.name") or None,
                arguments=_arguments(_get(function, "arguments"), f"tool_calls[{position}].function.arguments"),
            )
        )
    return ChatCompletionChunk(
        id=optional_string(_get(raw, "id"), "id") or "",
        model=optional_string(_get(raw, "model"), "model") or "",
        content=optional_string(_get(delta, "content"), "delta.content") or "",
        tool_calls=deltas,
        finish_reason=optional_string(_get(choice, "finish_reason"), "finish_reason"),
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
    request.model = check.check_model(request.model)
    request.max_new_tokens = check.optional_int(request.max_new_tokens, "max_new_tokens")
    _check_sampling(request)
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


def _token(raw: Any, what: str = "token") -> GenerationToken:
    _record(raw, what)
    logprob = _get(raw, "logprob")
    return GenerationToken(
        id=integer(_get(raw, "id", 0) or 0, f"{what}.id"),
        text=string(_get(raw, "text", "") or "", f"{what}.text"),
        logprob=None if logprob is None else number(logprob, f"{what}.logprob"),
        special=bool(_get(raw, "special", False)),
    )


def _details(output: Any) -> Any:
    details = _get(output, "details")
    return None if details is None else _record(details, "details")


def parse_generation_output(output: Any, request: Any = None) -> TextGeneration:
    if isinstance(output, str):
        return TextGeneration(generated_text=output)
    refuse_error_body(output)
    _record(output, "a text generation")
    details = _details(output)
    generated = _get(details, "generated_tokens")
    return TextGeneration(
        generated_text=string(_get(output, "generated_text"), "generated_text"),
        finish_reason=optional_string(_get(details, "finish_reason"), "details.finish_reason"),
        generated_tokens=None if generated is None else integer(generated, "details.generated_tokens"),
        prompt_tokens=len(as_list(_get(details, "prefill") or [], "details.prefill")) or None,
        tokens=[
            _token(token, f"details.tokens[{i}]")
            for i, token in enumerate(as_list(_get(details, "tokens") or [], "details.tokens"))
        ],
    )


def parse_generation_chunk(raw: Any) -> TextGenerationChunk:
    if isinstance(raw, str):
        return TextGenerationChunk(token=GenerationToken(text=raw))
    refuse_error_body(raw)
    _record(raw, "a text generation stream event")
    details = _details(raw)
    generated = _get(details, "generated_tokens")
    return TextGenerationChunk(
        token=_token(_get(raw, "token")),
        generated_text=optional_string(_get(raw, "generated_text"), "generated_text"),
        finish_reason=optional_string(_get(details, "finish_reason"), "details.finish_reason"),
        generated_tokens=None if generated is None else integer(generated, "details.generated_tokens"),
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
