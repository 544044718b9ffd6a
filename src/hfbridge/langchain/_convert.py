"""LangChain messages to and from the backend's OpenAI-shaped chat types."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk

from ..errors import InvalidInputError
from ..types import ChatCompletion, ChatCompletionChunk, Usage

PROVIDER = "huggingface"


def _content(content: Any) -> Any:
    """Plain text stays text; content blocks become OpenAI parts (text, image_url)."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content or []:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif isinstance(block, dict) and block.get("type") == "image_url":
            parts.append({"type": "image_url", "image_url": block["image_url"]})
        elif isinstance(block, dict) and block.get("type") == "image" and block.get("url"):
            parts.append({"type": "image_url", "image_url": {"url": block["url"]}})
        elif isinstance(block, dict) and block.get("type") == "image" and block.get("base64"):
            mime = block.get("mime_type", "image/png")
            parts.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{block['base64']}"}})
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def _text(content: Any) -> str:
    converted = _content(content)
    if isinstance(converted, str):
        return converted
    return "".join(part.get("text", "") for part in converted if part["type"] == "text")


def to_openai(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            entry: dict[str, Any] = {"role": "system", "content": _text(message.content)}
        elif isinstance(message, HumanMessage):
            entry = {"role": "user", "content": _content(message.content)}
        elif isinstance(message, AIMessage):
            entry = {"role": "assistant", "content": _text(message.content)}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": call.get("id") or f"call_{index}",
                        "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
                    }
                    for index, call in enumerate(message.tool_calls)
                ]
        elif isinstance(message, ToolMessage):
            entry = {"role": "tool", "content": _text(message.content), "tool_call_id": message.tool_call_id}
        elif isinstance(message, FunctionMessage):
            entry = {"role": "tool", "content": _text(message.content), "tool_call_id": message.name}
        elif isinstance(message, ChatMessage):
            entry = {"role": message.role, "content": _content(message.content)}
        else:
            raise InvalidInputError(f"unsupported message type {type(message).__name__}")
        if message.name and entry["role"] in ("user", "assistant", "system"):
            entry["name"] = message.name
        result.append(entry)
    return result


def usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )


def to_ai_message(completion: ChatCompletion, model_name: str) -> AIMessage:
    calls, invalid = [], []
    for call in completion.tool_calls:
        try:
            calls.append(tool_call(name=call.name, args=call.parsed_arguments(), id=call.id))
        except json.JSONDecodeError as exc:
            invalid.append(invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc)))
    return AIMessage(
        content=completion.content,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        id=completion.id or None,
        usage_metadata=usage_metadata(completion.usage),
        response_metadata={
            "model_name": completion.model or model_name,
            "finish_reason": completion.finish_reason,
            "model_provider": PROVIDER,
        },
    )


def to_ai_chunk(chunk: ChatCompletionChunk) -> AIMessageChunk:
    return AIMessageChunk(
        content=chunk.content,
        tool_call_chunks=[
            tool_call_chunk(name=delta.name, args=delta.arguments or None, id=delta.id, index=delta.index)
            for delta in chunk.tool_calls
        ],
        id=chunk.id or None,
        usage_metadata=usage_metadata(chunk.usage),
    )
