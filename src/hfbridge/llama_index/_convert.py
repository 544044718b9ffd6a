"""LlamaIndex chat messages to and from the backend's OpenAI-shaped types. Inputs are never mutated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock

from ..types import ChatCompletion, ToolCall

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


def _text(message: ChatMessage) -> str:
    return "".join(block.text for block in message.blocks if isinstance(block, TextBlock))


def _arguments(value: dict[str, Any] | str) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = [
        {
            "id": block.tool_call_id or f"call_{index}",
            "type": "function",
            "function": {"name": block.tool_name, "arguments": _arguments(block.tool_kwargs)},
        }
        for index, block in enumerate(b for b in message.blocks if isinstance(b, ToolCallBlock))
    ]
    if not calls:  # older integrations put OpenAI-format calls in additional_kwargs
        for call in message.additional_kwargs.get("tool_calls") or []:
            raw = call if isinstance(call, dict) else call.model_dump()
            function = raw.get("function") or {}
            entry: dict[str, Any] = {
                "id": raw.get("id"),
                "type": "function",
                "function": {"name": function.get("name"), "arguments": _arguments(function.get("arguments") or {})},
            }
            calls.append(entry)
    return calls


def to_openai(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for message in messages:
        role = _ROLES.get(MessageRole(message.role), "user")
        entry: dict[str, Any] = {"role": role, "content": _text(message)}
        if role == "assistant":
            calls = _tool_calls(message)
            if calls:
                entry["tool_calls"] = calls
        if role == "tool":
            # The tool call id, not the tool name (the LlamaIndex anchor sends name=tool id).
            entry["tool_call_id"] = message.additional_kwargs.get("tool_call_id") or message.additional_kwargs.get(
                "name", ""
            )
        result.append(entry)
    return result


def tool_call_block(call: ToolCall) -> ToolCallBlock:
    try:
        kwargs: dict[str, Any] | str = call.parsed_arguments()
    except json.JSONDecodeError:
        kwargs = call.arguments
    return ToolCallBlock(tool_call_id=call.id, tool_name=call.name, tool_kwargs=kwargs)


def to_chat_message(completion: ChatCompletion) -> ChatMessage:
    blocks: list[Any] = []
    if completion.content:
        blocks.append(TextBlock(text=completion.content))
    blocks.extend(tool_call_block(call) for call in completion.tool_calls)
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks or [TextBlock(text="")])


def usage_kwargs(completion_usage: Any) -> dict[str, Any]:
    if completion_usage is None:
        return {}
    return {
        "prompt_tokens": completion_usage.prompt_tokens,
        "completion_tokens": completion_usage.completion_tokens,
        "total_tokens": completion_usage.total_tokens,
    }
