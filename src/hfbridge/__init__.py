"""hfbridge: Hugging Face inference as a first-class citizen of LangChain and LlamaIndex.

One backend interface (:class:`HubBackend` over the real ``InferenceClient``, :class:`LocalBackend` with small
models in-process), a real retry policy and rate limiter, typed results and errors; thin framework adapters in
:mod:`hfbridge.langchain` and :mod:`hfbridge.llama_index`.
"""

from __future__ import annotations

from typing import Any

from .backends import Backend, FallbackBackend, HubBackend, backend_from_spec, resolve_backend
from .errors import (
    APIError,
    AuthenticationError,
    BackendUnavailableError,
    BadRequestError,
    ConfigurationError,
    GenerationError,
    HFBridgeError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelInstallError,
    ModelLoadingError,
    NotFoundError,
    OutputTruncatedError,
    PayloadTooLargeError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
    UnsupportedTaskError,
)
from .ratelimit import RateLimit
from .retry import RetryPolicy
from .types import (
    Audio,
    BoundingBox,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ClassificationLabel,
    DetectedObject,
    DocumentAnswer,
    EntityGroup,
    ImageCaption,
    ImageSegment,
    ResponseMeta,
    Results,
    TextGeneration,
    TextGenerationChunk,
    ToolCall,
    ToolCallDelta,
    Transcription,
    TranscriptionChunk,
    Usage,
    VisualAnswer,
    response_meta,
)

__version__ = "0.1.0"

__all__ = [
    "Backend", "HubBackend", "LocalBackend", "FallbackBackend", "resolve_backend", "backend_from_spec",
    "RetryPolicy", "RateLimit", "ResponseMeta", "Results", "response_meta",
    "ChatCompletion", "ChatCompletionChunk", "ChatMessage", "ClassificationLabel", "EntityGroup",
    "TextGeneration", "TextGenerationChunk", "ToolCall", "ToolCallDelta", "Usage",
    "HFBridgeError", "ConfigurationError", "InvalidInputError", "UnsupportedTaskError", "APIError",
    "BadRequestError", "PayloadTooLargeError", "AuthenticationError", "QuotaExceededError", "NotFoundError",
    "GenerationError", "RateLimitedError", "ModelLoadingError", "ServerError", "BackendUnavailableError",
    "InferenceTimeoutError", "StreamInterruptedError", "OutputTruncatedError", "ModelInstallError", "__version__",
]  # fmt: skip
__all__ += [
    "Audio", "BoundingBox", "DetectedObject", "DocumentAnswer", "ImageCaption", "ImageSegment", "Transcription",
    "TranscriptionChunk", "VisualAnswer",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "LocalBackend":
        from .backends.local import LocalBackend

        return LocalBackend
    raise AttributeError(f"module 'hfbridge' has no attribute {name!r}")
