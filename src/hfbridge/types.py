"""Typed results shared by every backend. Shapes follow the Hugging Face / OpenAI wire formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

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
    # text tasks answered by hf-inference pipelines: summarization, translation, QA, table QA, fill-mask
    "Summary",
    "Translation",
    "QuestionAnswer",
    "TableAnswer",
    "FillMaskPrediction",
    "ToolChoice",
    "ResponseMeta",
    "Results",
    "response_meta",
    "ImageSource",
    "AudioSource",
    "Audio",
    "Transcription",
    "TranscriptionChunk",
    "ImageCaption",
    "BoundingBox",
    "DetectedObject",
    "ImageSegment",
    "VisualAnswer",
    "DocumentAnswer",
]

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
else:
    try:  # Pillow is optional (the `images` extra): without it a segment's mask is typed Any
        from PIL.Image import Image as PILImage
    except ImportError:  # pragma: no cover - Pillow is in every test environment
        PILImage = Any

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
    """The :class:`ResponseMeta` of any result (a model, a :class:`Results` list, :class:`Audio`, a PIL image), or
    ``None``."""
    if isinstance(result, _Model | Results | Audio):
        return result.meta
    info = getattr(result, "info", None)  # PIL images keep it in their info dict
    return info.get("hfbridge_meta") if isinstance(info, dict) else None


def attach_meta(result: Any, meta: ResponseMeta) -> Any:
    """Record ``meta`` on ``result`` (lists become :class:`Results`); returns the result to hand out."""
    if isinstance(result, _Model):
        object.__setattr__(result, "__pydantic_private__", {"meta": meta})
    elif isinstance(result, Audio):
        result.meta = meta
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


# ------------------------------------------------------------------------------------------------------------------
# Text tasks answered by hf-inference pipelines. Shapes: huggingface_hub's generated types
# (inference/_generated/types/{summarization,translation,question_answering,table_question_answering,fill_mask}.py).
class Summary(_Model):
    """A summary of a text (hf-inference answers ``[{"summary_text": ...}]``)."""

    summary_text: str


class Translation(_Model):
    """A translated text (hf-inference answers ``[{"translation_text": ...}]``)."""

    translation_text: str


class QuestionAnswer(_Model):
    """An answer found in a context: ``context[start:end] == answer`` (extractive question answering)."""

    answer: str
    score: float
    start: int
    end: int


class TableAnswer(_Model):
    """An answer found in a table: the cells it comes from (``coordinates`` are ``(row, column)``, counted from 0,
    header excluded) and the aggregation the model applied to them (``"NONE"``, ``"SUM"``, ``"AVERAGE"``,
    ``"COUNT"``, or ``None`` for models without one). With an aggregator, ``answer`` reads ``"SUM > 3, 4"``."""

    answer: str
    coordinates: list[tuple[int, int]]
    cells: list[str]
    aggregator: str | None = None


class FillMaskPrediction(_Model):
    """One candidate for the masked token: ``sequence`` is the text with it filled in."""

    sequence: str
    score: float
    token: int
    token_str: str


# ========================================================================================================= media
ImageSource = bytes | str | Path | PILImage
"""An image as ``InferenceClient`` takes one: raw bytes, a local path (``str`` or ``Path``), an ``http(s)`` URL, or
a PIL image (sent as PNG)."""

AudioSource = bytes | str | Path
"""Audio as ``InferenceClient`` takes it: raw bytes of a file (WAV, FLAC, MP3, OGG, WebM, M4A...), a local path, or
an ``http(s)`` URL."""


class Audio(bytes):
    """Encoded audio (the bytes of a WAV / FLAC / MP3... file), as ``InferenceClient.text_to_speech`` returns it.

    It is ``bytes`` in every way (write it to a file as is); ``content_type`` says which container it is
    (``audio/flac``, ``audio/wav``...) and ``meta`` which backend produced it."""

    content_type: str
    meta: ResponseMeta | None

    def __new__(cls, data: bytes, content_type: str = "application/octet-stream") -> Audio:
        audio = super().__new__(cls, data)
        audio.content_type = content_type
        audio.meta = None
        return audio

    def __reduce__(self) -> Any:  # pickles as audio, not as the bytes' own reduction
        return (Audio, (bytes(self), self.content_type))


class TranscriptionChunk(_Model):
    """A piece of a transcription with its ``(start, end)`` time in seconds (``end`` is ``None`` when the model
    did not close the last piece)."""

    text: str
    timestamp: tuple[float, float | None]


class Transcription(_Model):
    """What automatic speech recognition heard. ``chunks`` (timed pieces) when the model gives them."""

    text: str
    chunks: list[TranscriptionChunk] | None = None


class ImageCaption(_Model):
    """The text image-to-text produced for an image (a caption, or the text read from it by OCR models)."""

    generated_text: str


class BoundingBox(_Model):
    """A box in pixels of the input image: ``(xmin, ymin)`` top left, ``(xmax, ymax)`` bottom right."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int


class DetectedObject(_Model):
    """One object found by object detection."""

    label: str
    score: float
    box: BoundingBox


class ImageSegment(_Model):
    """One segment of an image: its label, a score (``None`` for semantic segmentation, which gives none) and its
    mask, a PIL image of mode ``L`` the size of the input (255 inside the segment, 0 outside)."""

    model_config = ConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True)

    label: str
    score: float | None
    mask: PILImage


class VisualAnswer(_Model):
    """An answer to a question about an image."""

    answer: str
    score: float


class DocumentAnswer(_Model):
    """An answer read from a document image. ``start`` / ``end`` index the words the model read (OCR words), when
    the model gives them."""

    answer: str
    score: float
    start: int | None = None
    end: int | None = None
