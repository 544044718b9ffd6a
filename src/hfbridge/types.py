"""Typed results shared by every backend. Shapes follow the Hugging Face / OpenAI wire formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatMessage",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "TextGeneration",
    "TextGenerationChunk",
    "GenerationToken",
    "ClassificationLabel",
    "EntityGroup",
    "ToolChoice",
    "ResponseMeta",
    "Results",
    "response_meta",
]

T = TypeVar("T")

ToolChoice = Literal["auto", "none", "required"] | str | dict[str, Any]
"""``"auto"``, ``"none"``, ``"required"``, a tool name, or an OpenAI ``{"type": "function", ...}`` dict."""


@dataclass(frozen=True)
class ResponseMeta:
    """Where a result came from. ``backend`` names the backend that answered (its ``label``); ``fallbacks`` lists,
    in order, the backends a :class:`~hfbridge.FallbackBackend` tried before it and the error each raised."""

    backend: str
    fallbacks: tuple[str, ...] = ()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @property
    def meta(self) -> ResponseMeta | None:
        """Which backend produced this result (not part of the value: excluded from dumps and equality)."""
        # Kept in pydantic's private-attribute slot without declaring one: a declared private attribute costs
        # ~5 µs on every model built (every streamed chunk), recording it here costs nothing until it is set.
        private = self.__pydantic_private__
        return private.get("meta") if private else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = BaseModel.__hash__


class Results(list[T], Generic[T]):
    """A list result (labels, entities, vectors, scores) that also carries :class:`ResponseMeta` as ``meta``.

    It is a plain ``list`` in every other way: equal to a list with the same items, JSON-serialisable, picklable.
    """

    meta: ResponseMeta | None = None


def response_meta(result: Any) -> ResponseMeta | None:
    """The :class:`ResponseMeta` of any result (a model, a :class:`Results` list, a PIL image), or ``None``."""
    if isinstance(result, _Model | Results):
        return result.meta
    info = getattr(result, "info", None)  # PIL images keep it in their info dict
    return info.get("hfbridge_meta") if isinstance(info, dict) else None


def attach_meta(result: Any, meta: ResponseMeta) -> Any:
    """Record ``meta`` on ``result`` (lists become :class:`Results`); returns the result to hand out."""
    if isinstance(result, _Model):
        object.__setattr__(result, "__pydantic_private__", {"meta": meta})
    elif isinstance(result, list):
        if not isinstance(result, Results):
            result = Results(result)
        result.meta = meta
    elif isinstance(getattr(result, "info", None), dict):
        result.info["hfbridge_meta"] = meta
    return result


class ToolCall(_Model):
    """A complete tool call requested by the model. ``arguments`` is the JSON string the model produced."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ``json.JSONDecodeError`` if the model produced invalid JSON."""
        value = json.loads(self.arguments or "{}")
        return value if isinstance(value, dict) else {"value": value}

    def to_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


class ToolCallDelta(_Model):
    """A piece of a streamed tool call. Pieces with the same ``index`` concatenate into one call."""

    index: int = 0
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatMessage(_Model):
    """One message of a conversation, in OpenAI shape."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content if self.content is not None else ""}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            message["name"] = self.name
        return message


class ChatCompletion(_Model):
    """A whole chat answer."""

    id: str = ""
    model: str = ""
    message: ChatMessage
    finish_reason: str | None = None
    usage: Usage | None = None

    @property
    def content(self) -> str:
        return self.message.content or ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls


class ChatCompletionChunk(_Model):
    """One streamed piece of a chat answer. The last chunk carries ``finish_reason`` and, when known, ``usage``."""

    id: str = ""
    model: str = ""
    content: str = ""
    tool_calls: list[ToolCallDelta] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


class GenerationToken(_Model):
    id: int = 0
    text: str = ""
    logprob: float | None = None
    special: bool = False


class TextGeneration(_Model):
    """The result of plain text generation (TGI protocol)."""

    generated_text: str
    finish_reason: str | None = None
    generated_tokens: int | None = None
    prompt_tokens: int | None = None
    tokens: list[GenerationToken] = Field(default_factory=list)


class TextGenerationChunk(_Model):
    """One streamed token. The last one has ``generated_text`` (the whole text) and ``finish_reason``."""

    token: GenerationToken
    generated_text: str | None = None
    finish_reason: str | None = None
    generated_tokens: int | None = None


class ClassificationLabel(_Model):
    """A label with its score, as text classification and zero-shot classification return them."""

    label: str
    score: float


class EntityGroup(_Model):
    """A named entity with character offsets into the input (``text[start:end] == word`` when exact)."""

    entity_group: str
    score: float
    word: str
    start: int
    end: int
