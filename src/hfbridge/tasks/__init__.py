"""The task registry: every task hfbridge runs, declared once (see ``docs/architecture.md``).

>>> from hfbridge.tasks import get_task
>>> get_task("text-classification").tool.name
'text_classification'

A declaration (:class:`Task`) holds the request type and its validation, the cache codec, how the hub call is
made and parsed, the local hook, how the protocol server names the task and the task as an agent tool. Tasks
live in this package's modules, grouped by family (``generation``, ``text``, ``image``...); each registers itself
when declared, and every module here is imported, so a new task needs no registration line. The backends' public
methods (sync, async, streaming) are generated from the registry into ``backends/_methods.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ._spec import REGISTRY, CacheCodec, HubCall, Limits, Serving, StreamSpec, Task, ToolInfo
from .audio import AUTOMATIC_SPEECH_RECOGNITION, TEXT_TO_SPEECH, SpeechRecognitionRequest, SpeechRequest
from .generation import CHAT, TEXT_GENERATION, ChatRequest, GenerationRequest
from .image import TEXT_TO_IMAGE, ImageRequest
from .text import (
    FEATURE_EXTRACTION,
    SENTENCE_SIMILARITY,
    TEXT_CLASSIFICATION,
    TOKEN_CLASSIFICATION,
    ZERO_SHOT_CLASSIFICATION,
    EmbeddingRequest,
    SimilarityRequest,
    TextClassificationRequest,
    TokenClassificationRequest,
    ZeroShotRequest,
)
from .vision import (
    DOCUMENT_QUESTION_ANSWERING,
    IMAGE_CLASSIFICATION,
    IMAGE_SEGMENTATION,
    IMAGE_TO_TEXT,
    OBJECT_DETECTION,
    VISUAL_QUESTION_ANSWERING,
    DocumentQuestionRequest,
    ImageClassificationRequest,
    ImageSegmentationRequest,
    ImageToTextRequest,
    ObjectDetectionRequest,
    VisualQuestionRequest,
)

__all__ = [
    "Task", "HubCall", "CacheCodec", "StreamSpec", "Serving", "ToolInfo", "Limits", "TASKS", "get_task",
    "CHAT", "TEXT_GENERATION", "FEATURE_EXTRACTION", "SENTENCE_SIMILARITY", "TEXT_CLASSIFICATION",
    "ZERO_SHOT_CLASSIFICATION", "TOKEN_CLASSIFICATION", "TEXT_TO_IMAGE",
    "ChatRequest", "GenerationRequest", "EmbeddingRequest", "SimilarityRequest", "TextClassificationRequest",
    "ZeroShotRequest", "TokenClassificationRequest", "ImageRequest",
    "AUTOMATIC_SPEECH_RECOGNITION", "TEXT_TO_SPEECH", "IMAGE_CLASSIFICATION", "IMAGE_TO_TEXT", "OBJECT_DETECTION",
    "IMAGE_SEGMENTATION", "VISUAL_QUESTION_ANSWERING", "DOCUMENT_QUESTION_ANSWERING", "SpeechRecognitionRequest",
    "SpeechRequest", "ImageClassificationRequest", "ImageToTextRequest", "ObjectDetectionRequest",
    "ImageSegmentationRequest", "VisualQuestionRequest", "DocumentQuestionRequest",
]  # fmt: skip

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

#: Every task, in declaration order (the order of the generated methods).
TASKS: tuple[Task[Any, Any], ...] = tuple(REGISTRY)

_BY_NAME = {
    key: task
    for task in TASKS
    for key in (task.name, task.pipeline_tag, *task.serving.aliases, *((task.tool.name,) if task.tool else ()))
}


def get_task(name: str) -> Task[Any, Any]:
    """A task by method name, pipeline tag, server alias or tool name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {sorted(t.name for t in TASKS)}") from None
